"""Sources: read a model file and, for a TensorFlow source, run it for the reference outputs.

A TensorFlow source ends in a frozen ``GraphDef`` plus named inputs and outputs; those
modules import TensorFlow and run inside the TensorFlow worker process only. An ONNX source
is read by ``onnx_model`` (``onnx`` only, main process) and checked by ``onnx_preflight``
(torch worker).
"""
