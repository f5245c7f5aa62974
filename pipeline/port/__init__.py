"""Port recurrent weights straight into ``nn.LSTM``/``nn.GRU``/``nn.RNN``, and diagnose a port.

- ``layers``: one direction of one source layer, as plain data (``SourceLayer``).
- ``variables``: find TF1 cells in named arrays by their variable names (checkpoints,
  ``.npz`` files, a frozen graph's constants).
- ``frozen_graph``, ``checkpoint``, ``keras_file``: readers that run in the TF worker.
- ``modules``: group layers into torch modules, refuse what no torch module computes exactly.
- ``weights``: the ``weights`` command's work, source to written ``state_dict``.
- ``state_dict``: save and load ``.pt`` files (torch side).
- ``reference``: TF's input and output of every layer-direction of a module (TF worker).
- ``source_units``: what TF computes for each layer-direction, in torch's terms.
- ``mistakes``: the known mistakes of a hand port and their corrections (framework-free).
- ``exact_units``: one layer-direction run in torch, in ``nn.LSTM``/``GRU``/``RNN`` or in an
  exact loop (peepholes, cell_clip, GRU reset before the matmul).
- ``inputs``: the user's ``.npz`` files read with one clear error each, and the probe input
  every diagnosis is also scored on (a one-step input hides ``weight_hh`` and forget_bias).
- ``user_module``: the user's ``state_dict`` checked against the source (kind, sizes).
- ``diagnosis``, ``hand_port``: the search for the mistakes that explain a hand port's
  mismatch, per layer-direction (torch side), and the ``diagnose`` command's stages.
"""
