"""Validation: check the ONNX model, run each framework on the same inputs, compare pairwise.

The comparison is data (``compare.ComparisonResult``); its verdict is one line.
"""
