"""TensorFlow to ONNX: tf2onnx driven through its public API, plus our recurrent handlers.

Modules here import TensorFlow and tf2onnx; they run inside the TensorFlow worker process.
"""
