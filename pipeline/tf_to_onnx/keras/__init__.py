"""Keras models to ONNX: recurrent layers as stand-in ops, traced, then fused ONNX nodes.

``pipeline.tf_to_onnx.keras_export`` drives these modules: ``layers`` (read a Keras layer),
``stand_in`` (the clone with stand-ins), ``trace`` (freeze it), ``handler`` (the tf2onnx
handler writing the ONNX node), ``masking`` (masks as step re-orderings), ``graph_ops``.
"""
