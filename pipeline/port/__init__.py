"""Port recurrent weights straight into ``nn.LSTM``/``nn.GRU``/``nn.RNN``, and diagnose a port.

- ``layers``: one direction of one source layer, as plain data (``SourceLayer``).
- ``variables``: find TF1 cells in named arrays by their variable names (checkpoints,
  ``.npz`` files, a frozen graph's constants).
- ``frozen_graph``, ``checkpoint``, ``keras_file``: readers that run in the TF worker.
- ``modules``: group layers into torch modules, refuse what no torch module computes exactly.
- ``weights``: the ``weights`` command's work, source to written ``state_dict``.
- ``state_dict``: save and load ``.pt`` files (torch side).
- ``reference``, ``diagnosis``, ``hand_port``: TF's reference for a fused LSTM (TF worker),
  the search for the mistakes that explain a hand port's mismatch (torch side), and the
  ``diagnose`` command's stages that tie them together.
"""
