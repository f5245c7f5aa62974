"""Batch conversion: find configs, run their models in parallel workers, skip work done.

``discovery`` finds the config files under the paths given; ``expansion`` turns each file
into one entry per model (a file may describe several, see ``expansion``); ``state`` decides
whether a model's last published conversion is still good; ``schedule`` converts the rest,
several at a time, each in its own thread driving the shared worker pools; ``outcome`` is
the record of one model. Nothing here prints: progress reaches the caller through a
``BatchListener``.
"""
