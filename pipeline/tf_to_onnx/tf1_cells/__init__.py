"""Our tf2onnx rewriters for TF1 cells that tf2onnx 1.17's own rewriters leave as a ``Scan``.

tf2onnx runs the rewriters given to ``process_tf_graph(custom_rewriter=...)`` after all of
its own (``tfonnx.process_parsed_graph``). By then its loop rewriter has turned every
``dynamic_rnn`` while-loop its LSTM and GRU rewriters did not match into a ``Scan`` node whose
body still holds the cell's TensorFlow ops, unconverted. So these rewriters read that body:
it is the cell's code exactly as TF1 wrote it, before tf2onnx's handlers or ONNX optimizers
have touched it, and whatever we emit is converted and optimized like tf2onnx's own nodes.

- ``scan_loop``: a ``dynamic_rnn`` Scan's state slots, step input and step output.
- ``body_view``: matching helpers over the Scan body, and the one ``NoMatch`` exception.
- ``lstm_cell``, ``gru_cell``, ``lstm_block_cell``, ``gru_block_cell``: one matcher per TF1
  cell (the last two read the fused ops ``LSTMBlockCell``/``GRUBlockCell``), each returning
  one layer.
- ``rewriter``: the custom rewriter: match every layer of a Scan, then emit one fused node
  per layer, or leave the Scan as it is and say why.
- ``names``: the node scopes and record texts (no framework import, for the export records).
"""
