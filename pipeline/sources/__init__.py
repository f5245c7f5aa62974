"""Sources: read a model, and for a TensorFlow source run it for the reference outputs.

``formats`` (framework-free, main process) tells the format from the path. Every TensorFlow
format but Keras ends in a frozen ``GraphDef`` plus named inputs and outputs: a frozen graph
as it is (``frozen_graph``), a TF1 checkpoint (``checkpoint``) or a TF1/TF2 SavedModel
(``saved_model``) frozen on the way, their default inputs and outputs read by ``signature``
and ``graph_defaults``. A Keras file ends in a Keras model (``keras_model``). Those modules
import TensorFlow and run inside the TensorFlow worker process only. An ONNX source is read
by ``onnx_model`` (``onnx`` only, main process) and checked by ``onnx_preflight`` (torch
worker).
"""
