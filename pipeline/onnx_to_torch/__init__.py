"""ONNX to PyTorch: onnx2torch plus our own converters for recurrent nodes.

``registry.register_converters()`` adds the converters, ``importer.import_onnx`` builds a
``torch.fx.GraphModule``, and ``stage.import_and_run`` is the stage the torch worker runs.
Importing this package imports no framework.
"""
