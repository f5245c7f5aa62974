"""Convert TensorFlow recurrent models to ONNX and PyTorch and prove that all three agree.

The package is laid out as the pipeline's stages::

    sources/ -> tf_to_onnx/ -> validate/ (onnx) -> onnx_to_torch/ -> validate/ -> report/

``recurrent/`` is the framework-free core that both converters share. Importing this package
imports no framework; each stage imports its own inside the process that runs it.
"""

__version__ = "0.1.0"
