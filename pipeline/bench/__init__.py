"""``make bench``: latency, conversion cost and memory of the pipeline's artifacts (#7).

Modules, one job each, grouped by the process they run in:

    models.py        the benchmarked models and their repeat counts            (any process)
    timing.py        warm-up, interleaved repeats, medians                     (any process)
    memory.py        resident set size of the calling process                  (any process)
    machine.py       CPU, cores, memory and library versions                   (main)
    graphs.py        frozen BlockLSTM graphs, single or stacked; their weights (TF worker)
    tf_side.py       TF source-graph latency; the tf2onnx Keras 3 peer         (TF worker)
    onnx_side.py     hand-built LSTM node model; onnxruntime latencies         (main)
    torch_side.py    onnx2torch, model.pt2, bare nn.LSTM, onnx2pytorch         (torch worker)
    conversion.py    one ``convert_model`` in a fresh process, with its memory (subprocess)
    figures.py       the figures of one run as data, and the targets
    runner.py        every model through every measurement                     (main)
    tables.py        the figures as rich tables and as BENCHMARKS.md
    cli.py           ``python -m pipeline.bench``: the only module that prints

The main process imports neither TensorFlow nor torch; each runs in the pipeline's workers.
"""
