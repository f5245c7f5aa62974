"""A module around a real ``torch.nn.LSTM`` that computes one ONNX ``LSTM`` node.

Shapes (``T`` steps, ``B`` batch, ``I`` inputs, ``H`` units, ``D`` directions, layout 0)::

    X [T, B, I]    initial_h, initial_c [D, B, H]    sequence_lens [B] (int32)
    Y [T, D, B, H]    Y_h, Y_c [D, B, H]

``nn.LSTM`` returns ``y [T, B, D*H]`` and ``h_n, c_n [D, B, H]``, so
``Y = y.view(T, B, D, H).transpose(1, 2)`` and the states need no change.

With ``sequence_lens``, entry ``b`` runs steps ``0 .. len[b]-1`` only (the reverse direction
runs them from ``len[b]-1`` down to 0): ``Y`` is zero past the length, ``Y_h``/``Y_c`` are the
state after the last step run, and a length of 0 gives zeros in all three outputs. The
lengths are computed one of four ways, all exact:

- none (absent, or constant and equal to ``T`` everywhere): one ``nn.LSTM`` call;
- constant: the batch is grouped by length, each group runs ``nn.LSTM`` on its first ``L``
  steps, and the results are zero-padded to ``T`` and put back in batch order. Everything is
  static, so ``torch.export`` captures it;
- dynamic, eager: ``pack_padded_sequence(enforce_sorted=False)`` with lengths clamped to at
  least 1, ``pad_packed_sequence(total_length=T)``, then the length-0 entries are zeroed;
- dynamic, under ``torch.export``: packing has data-dependent shapes that export cannot trace,
  so the recurrence is unrolled over the ``T`` steps with ``nn.LSTM``'s own weights, and an
  entry's state advances only while ``t < len[b]``.
"""

from __future__ import annotations

import logging

import torch
from onnx2torch.utils.common import OnnxToTorchModule
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

logger = logging.getLogger(__name__)

LstmResult = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class OnnxLstm(nn.Module, OnnxToTorchModule):
    """ONNX ``LSTM`` (forward or bidirectional, layout 0) on top of ``self.lstm``."""

    def __init__(
        self,
        lstm: nn.LSTM,
        node_name: str,
        num_outputs: int,
        constant_lengths: list[int] | None = None,
        dynamic_lengths: bool = False,
    ) -> None:
        super().__init__()
        self.lstm = lstm
        self.node_name = node_name
        self.num_outputs = num_outputs
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
        steps, batch = X.shape[0], X.shape[1]
        shape = (self.num_directions, batch, self.lstm.hidden_size)
        h0 = initial_h if initial_h is not None else X.new_zeros(shape)
        c0 = initial_c if initial_c is not None else X.new_zeros(shape)

        if sequence_lens is not None:
            if torch.compiler.is_exporting():
                y, h, c = self._run_unrolled(X, sequence_lens, h0, c0)
            else:
                y, h, c = self._run_packed(X, sequence_lens, h0, c0)
            y, h, c = _zero_empty_entries((y, h, c), sequence_lens)
        elif self.constant_lengths is not None and self._needs_grouping(steps, batch):
            y, h, c = self._run_grouped(X, h0, c0)
        else:
            y, (h, c) = self.lstm(X, (h0, c0))

        Y = y.view(steps, batch, self.num_directions, -1).transpose(1, 2)
        outputs = (Y, h, c)[: self.num_outputs]
        return outputs[0] if self.num_outputs == 1 else outputs

    @property
    def num_directions(self) -> int:
        return 2 if self.lstm.bidirectional else 1

    def describe(self) -> dict[str, object]:
        """What this node became, for the stage's record."""
        if self.dynamic_lengths:
            lengths = "dynamic: packed when eager, unrolled under torch.export"
        elif self.constant_lengths is not None:
            lengths = f"constant {self.constant_lengths}: grouped by length"
        else:
            lengths = "absent"
        return {
            "module": "torch.nn.LSTM",
            "direction": "bidirectional" if self.lstm.bidirectional else "forward",
            "input_size": self.lstm.input_size,
            "hidden_size": self.lstm.hidden_size,
            "sequence_lens": lengths,
        }

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
                f"LSTM node {self.node_name!r}: constant sequence_lens {lengths} does not fit "
                f"X with {steps} steps and batch {batch}; expected {batch} lengths in "
                f"[0, {steps}]"
            )
        return any(length != steps for length in lengths)

    def _run_grouped(self, X: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor) -> LstmResult:
        steps = X.shape[0]
        ys, hs, cs = [], [], []
        for length, name in self._groups:
            members: torch.Tensor = getattr(self, name)
            h_group, c_group = h0.index_select(1, members), c0.index_select(1, members)
            if length == 0:
                y = X.new_zeros(steps, len(members), self.num_directions * self.lstm.hidden_size)
                h, c = torch.zeros_like(h_group), torch.zeros_like(c_group)
            else:
                x_group = X[:length].index_select(1, members)
                y, (h, c) = self.lstm(x_group, (h_group, c_group))
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
    ) -> LstmResult:
        # NOTE: packing rejects length 0; those entries run one step and are zeroed later.
        clamped = lengths.to(device="cpu", dtype=torch.int64).clamp(min=1)
        packed = pack_padded_sequence(X, clamped, enforce_sorted=False)
        y, (h, c) = self.lstm(packed, (h0, c0))
        y, _ = pad_packed_sequence(y, total_length=X.shape[0])
        return y, h, c

    def _run_unrolled(
        self, X: torch.Tensor, lengths: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor
    ) -> LstmResult:
        logger.warning(
            "LSTM node %r: torch.export cannot trace packed sequences, so its %d steps are "
            "unrolled with a mask for the dynamic sequence_lens",
            self.node_name,
            X.shape[0],
        )
        ys, hs, cs = [], [], []
        for direction in range(self.num_directions):
            suffix = "_reverse" if direction else ""
            weights = [getattr(self.lstm, f"{kind}_l0{suffix}") for kind in _WEIGHT_KINDS]
            state = (h0[direction], c0[direction])
            y, h, c = _masked_recurrence(X, lengths, state, weights, reverse=direction == 1)
            ys.append(y)
            hs.append(h)
            cs.append(c)
        return torch.cat(ys, -1), torch.stack(hs), torch.stack(cs)


_WEIGHT_KINDS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _masked_recurrence(
    X: torch.Tensor,
    lengths: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor],
    weights: list[torch.Tensor],
    reverse: bool,
) -> LstmResult:
    """One direction of ``nn.LSTM``'s step (blocks ``i, f, g, o``), run while ``t < len``.

    ``weights`` are ``weight_ih, weight_hh, bias_ih, bias_hh`` of that direction.
    """
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    h, c = state
    steps = X.shape[0]
    input_gates = F.linear(X, weight_ih, bias_ih)
    outputs: list[torch.Tensor] = [X] * steps
    for t in reversed(range(steps)) if reverse else range(steps):
        gates = input_gates[t] + F.linear(h, weight_hh, bias_hh)
        i, f, g, o = gates.chunk(4, dim=-1)
        c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_next = torch.sigmoid(o) * torch.tanh(c_next)
        active = (lengths > t).unsqueeze(-1)
        h = torch.where(active, h_next, h)
        c = torch.where(active, c_next, c)
        outputs[t] = torch.where(active, h_next, 0.0)
    return torch.stack(outputs), h, c


def _zero_empty_entries(result: LstmResult, lengths: torch.Tensor) -> LstmResult:
    """Zero every output of the batch entries whose length is 0, as ONNX defines them."""
    keep = (lengths > 0).to(result[0].device).view(1, -1, 1)
    y, h, c = result
    return torch.where(keep, y, 0.0), torch.where(keep, h, 0.0), torch.where(keep, c, 0.0)
