"""A module around a real ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` computing one ONNX node.

Shapes in layout 0 (``T`` steps, ``B`` batch, ``I`` inputs, ``H`` units, ``D`` directions;
``layout=1`` is transposed on the way in and out by ``recurrent_io``)::

    X [T, B, I]    initial_h, initial_c [D, B, H]    sequence_lens [B] (int32)
    Y [T, D, B, H]    Y_h, Y_c [D, B, H]

The torch module returns ``y [T, B, D*H]`` and ``h_n`` (and ``c_n``) ``[D, B, H]``, so
``Y = y.view(T, B, D, H).transpose(1, 2)`` and the states need no change. ``self.rnn`` is
used only where it is exact: forward or bidirectional, default activations, no clip, and
for LSTM no peepholes or ``input_forget``, for GRU ``linear_before_reset=1``.

With ``sequence_lens``, entry ``b`` runs steps ``0 .. len[b]-1`` only (the reverse direction
runs them from ``len[b]-1`` down to 0): ``Y`` is zero past the length, the states are those
after the last step run, and a length of 0 gives zeros in every output. The lengths are
computed one of four ways, all exact:

- none (absent, or constant and equal to ``T`` everywhere): one call of ``self.rnn``;
- constant: the batch is grouped by length, each group runs ``self.rnn`` on its first ``L``
  steps, and the results are zero-padded to ``T`` and put back in batch order. Everything is
  static, so ``torch.export`` captures it;
- dynamic, eager: ``pack_padded_sequence(enforce_sorted=False)`` with lengths clamped to at
  least 1, ``pad_packed_sequence(total_length=T)``, then the length-0 entries are zeroed;
- dynamic, under ``torch.export``: packing has data-dependent shapes that export cannot trace,
  so the recurrence is unrolled over the ``T`` steps with ``self.rnn``'s own weights, and an
  entry's state advances only while ``t < len[b]``.
"""

from __future__ import annotations

import logging

import torch
from onnx2torch.utils.common import OnnxToTorchModule
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from pipeline.onnx_to_torch.recurrent_io import (
    check_lengths,
    from_time_major,
    select_outputs,
    to_time_major,
    zero_empty_entries,
)

logger = logging.getLogger(__name__)

Result = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
TorchRecurrence = nn.LSTM | nn.GRU | nn.RNN


class FusedRecurrence(nn.Module, OnnxToTorchModule):
    """ONNX ``LSTM``/``GRU``/``RNN`` (forward or bidirectional) on top of ``self.rnn``."""

    def __init__(
        self,
        rnn: TorchRecurrence,
        node_name: str,
        num_outputs: int,
        layout: int = 0,
        constant_lengths: list[int] | None = None,
        dynamic_lengths: bool = False,
    ) -> None:
        super().__init__()
        self.rnn = rnn
        self.node_name = node_name
        self.num_outputs = num_outputs
        self.layout = layout
        self.constant_lengths = constant_lengths
        self.dynamic_lengths = dynamic_lengths
        self._groups: list[tuple[int, str]] = []
        if constant_lengths is not None:
            self._register_groups(constant_lengths)

    def forward(
        self,
        X: torch.Tensor,
        sequence_lens: torch.Tensor | None = None,
        initial_h: torch.Tensor | None = None,
        initial_c: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        X, h0, c0 = to_time_major(
            self.layout, X, initial_h, initial_c, self.num_directions, self.rnn.hidden_size
        )
        steps, batch = X.shape[0], X.shape[1]

        if sequence_lens is not None:
            check_lengths(self.node_name, sequence_lens, steps)
            if torch.compiler.is_exporting():
                y, h, c = self._run_unrolled(X, sequence_lens, h0, c0)
            else:
                y, h, c = self._run_packed(X, sequence_lens, h0, c0)
        elif self.constant_lengths is not None and self._needs_grouping(steps, batch):
            y, h, c = self._run_grouped(X, h0, c0)
        else:
            y, h, c = self._call(X, h0, c0)

        Y = y.view(steps, batch, self.num_directions, -1).transpose(1, 2)
        outputs = (Y, h, c)
        if sequence_lens is not None:
            outputs = zero_empty_entries(sequence_lens, *outputs)
        return select_outputs(self.num_outputs, from_time_major(self.layout, *outputs))

    @property
    def num_directions(self) -> int:
        return 2 if self.rnn.bidirectional else 1

    @property
    def blockers(self) -> tuple[str, ...]:
        """Nothing keeps ``self.rnn`` from being exact: it is used."""
        return ()

    @property
    def is_lstm(self) -> bool:
        return isinstance(self.rnn, nn.LSTM)

    def describe(self) -> dict[str, object]:
        """What this node became, for the stage's record."""
        if self.dynamic_lengths:
            lengths = "dynamic: packed when eager, unrolled under torch.export"
        elif self.constant_lengths is not None:
            lengths = f"constant {self.constant_lengths}: grouped by length"
        else:
            lengths = "absent"
        return {
            "module": f"torch.nn.{type(self.rnn).__name__}",
            "direction": "bidirectional" if self.rnn.bidirectional else "forward",
            "input_size": self.rnn.input_size,
            "hidden_size": self.rnn.hidden_size,
            "layout": self.layout,
            "sequence_lens": lengths,
        }

    def _call(self, x, h0: torch.Tensor, c0: torch.Tensor):
        """``self.rnn`` on ``x`` (a tensor or a packed sequence): ``y, h, c``."""
        if self.is_lstm:
            y, (h, c) = self.rnn(x, (h0, c0))
            return y, h, c
        y, h = self.rnn(x, h0)
        return y, h, c0

    def _register_groups(self, lengths: list[int]) -> None:
        order: list[int] = []
        for position, length in enumerate(sorted(set(lengths))):
            members = [b for b, value in enumerate(lengths) if value == length]
            order.extend(members)
            name = f"_group_{position}"
            self.register_buffer(name, torch.tensor(members), persistent=False)
            self._groups.append((length, name))
        restore = torch.empty(len(order), dtype=torch.int64)
        restore[torch.tensor(order)] = torch.arange(len(order))
        self.register_buffer("_restore", restore, persistent=False)

    def _needs_grouping(self, steps: int, batch: int) -> bool:
        lengths = self.constant_lengths or []
        if len(lengths) != batch or any(not 0 <= length <= steps for length in lengths):
            raise ValueError(
                f"node {self.node_name!r}: constant sequence_lens {lengths} does not fit "
                f"X with {steps} steps and batch {batch}; expected {batch} lengths in "
                f"[0, {steps}]"
            )
        return any(length != steps for length in lengths)

    def _run_grouped(self, X: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor) -> Result:
        steps = X.shape[0]
        ys, hs, cs = [], [], []
        for length, name in self._groups:
            members: torch.Tensor = getattr(self, name)
            h_group, c_group = h0.index_select(1, members), c0.index_select(1, members)
            if length == 0:
                y = X.new_zeros(steps, len(members), self.num_directions * self.rnn.hidden_size)
                h, c = torch.zeros_like(h_group), torch.zeros_like(c_group)
            else:
                x_group = X[:length].index_select(1, members)
                y, h, c = self._call(x_group, h_group, c_group)
                y = F.pad(y, (0, 0, 0, 0, 0, steps - length))
            ys.append(y)
            hs.append(h)
            cs.append(c)
        return (
            torch.cat(ys, 1).index_select(1, self._restore),
            torch.cat(hs, 1).index_select(1, self._restore),
            torch.cat(cs, 1).index_select(1, self._restore),
        )

    def _run_packed(
        self, X: torch.Tensor, lengths: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor
    ) -> Result:
        # NOTE: packing rejects length 0; those entries run one step and are zeroed later.
        clamped = lengths.to(device="cpu", dtype=torch.int64).clamp(min=1)
        packed = pack_padded_sequence(X, clamped, enforce_sorted=False)
        y, h, c = self._call(packed, h0, c0)
        y, _ = pad_packed_sequence(y, total_length=X.shape[0])
        return y, h, c

    def _run_unrolled(
        self, X: torch.Tensor, lengths: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor
    ) -> Result:
        logger.warning(
            "node %r: torch.export cannot trace packed sequences, so its %d steps are "
            "unrolled with a mask for the dynamic sequence_lens",
            self.node_name,
            X.shape[0],
        )
        step = _STEPS[type(self.rnn)]
        nonlinearity = getattr(self.rnn, "nonlinearity", "tanh")
        ys, hs, cs = [], [], []
        for direction in range(self.num_directions):
            suffix = "_reverse" if direction else ""
            weights = [getattr(self.rnn, f"{kind}_l0{suffix}") for kind in _WEIGHT_KINDS]
            weight_ih, weight_hh, bias_ih, bias_hh = weights
            h, c = h0[direction], c0[direction]
            input_gates = F.linear(X, weight_ih, bias_ih)
            outputs: list[torch.Tensor] = [X] * X.shape[0]
            steps = range(X.shape[0])
            for t in reversed(steps) if direction == 1 else steps:
                recurrent_gates = F.linear(h, weight_hh, bias_hh)
                h_next, c_next = step(input_gates[t], recurrent_gates, h, c, nonlinearity)
                active = (lengths > t).unsqueeze(-1)
                h = torch.where(active, h_next, h)
                c = torch.where(active, c_next, c)
                outputs[t] = torch.where(active, h_next, 0.0)
            ys.append(torch.stack(outputs))
            hs.append(h)
            cs.append(c)
        return torch.cat(ys, -1), torch.stack(hs), torch.stack(cs)


_WEIGHT_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _lstm_step(x_gates, h_gates, h, c, nonlinearity):
    """``nn.LSTM``'s step, blocks ``i, f, g, o``."""
    i, f, g, o = (x_gates + h_gates).chunk(4, dim=-1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_next), c_next


def _gru_step(x_gates, h_gates, h, c, nonlinearity):
    """``nn.GRU``'s step, blocks ``r, z, n``; ``c`` is carried untouched."""
    x_r, x_z, x_n = x_gates.chunk(3, dim=-1)
    h_r, h_z, h_n = h_gates.chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1.0 - z) * n + z * h, c


def _rnn_step(x_gates, h_gates, h, c, nonlinearity):
    """``nn.RNN``'s step with its nonlinearity."""
    total = x_gates + h_gates
    return (torch.tanh(total) if nonlinearity == "tanh" else torch.relu(total)), c


_STEPS = {nn.LSTM: _lstm_step, nn.GRU: _gru_step, nn.RNN: _rnn_step}
