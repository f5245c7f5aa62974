"""Sources: read a model file, run it in TensorFlow for the reference outputs.

Every source ends in the same thing: a frozen ``GraphDef`` plus named inputs and outputs.
These modules import TensorFlow; they run inside the TensorFlow worker process only.
"""
