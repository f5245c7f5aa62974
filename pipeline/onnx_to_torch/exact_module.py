"""An exact torch module for one ONNX ``LSTM``, ``GRU`` or ``RNN`` node, any attributes.

It serves where ``nn.LSTM``/``nn.GRU``/``nn.RNN`` cannot compute the node exactly: peepholes,
``clip``, ``input_forget``, other activations, GRU ``linear_before_reset=0``,
``direction=reverse``. It keeps ONNX's weights as they are (gate order ``i, o, f, c`` for
LSTM, ``z, r, h`` for GRU)::

    W [D, G*H, I]   R [D, G*H, H]   B = [Wb, Rb] [D, 2*G*H]   P = [Pi, Po, Pf] [D, 3H]

One step of a direction, with ``x = X_t @ W^T + Wb`` and ``clip`` bounding the input of
every activation when set (the activations are ``f, g, h`` in the node's order)::

    LSTM  i = f(x_i + h R_i^T + Rb_i + Pi * c)        f_ = 1 - i if input_forget, else
          f_ = f(x_f + h R_f^T + Rb_f + Pf * c)       c' = f_ * c + i * g(x_c + h R_c^T + Rb_c)
          o = f(x_o + h R_o^T + Rb_o + Po * c')       h' = o * h(c')
    GRU   z = f(x_z + h R_z^T + Rb_z)                 r = f(x_r + h R_r^T + Rb_r)
          n = g(x_h + (r * h) R_h^T + Rb_h)           (linear_before_reset=0)
          n = g(x_h + r * (h R_h^T + Rb_h))           (linear_before_reset=1)
          h' = (1 - z) * n + z * h
    RNN   h' = f(x + h R^T + Rb)

A reverse direction runs ``t = T-1 .. 0``. With ``sequence_lens``, entry ``b`` takes step
``t`` only while ``t < len[b]``: its state stays put and ``Y`` is zero elsewhere, which for
the reverse direction starts it at step ``len[b] - 1``, as ONNX asks. The loop over ``T``
is Python, so ``torch.export`` captures it with ``T`` fixed.
"""

from __future__ import annotations

import torch
from onnx2torch.utils.common import OnnxToTorchModule
from torch import nn
from torch.nn import functional as F

from pipeline.onnx_to_torch.activations import apply_activation
from pipeline.onnx_to_torch.recurrent_io import (
    check_lengths,
    from_time_major,
    select_outputs,
    to_time_major,
    zero_empty_entries,
)
from pipeline.onnx_to_torch.recurrent_spec import RecurrenceSpec
from pipeline.recurrent.onnx_activations import Activation

State = tuple[torch.Tensor, torch.Tensor]


class ExactRecurrence(nn.Module, OnnxToTorchModule):
    """ONNX ``LSTM``/``GRU``/``RNN`` computed step by step, exactly as the spec reads."""

    def __init__(
        self,
        spec: RecurrenceSpec,
        W: torch.Tensor,
        R: torch.Tensor,
        B: torch.Tensor,
        P: torch.Tensor | None = None,
        constant_lengths: torch.Tensor | None = None,
        blockers: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.spec = spec
        self.blockers = blockers
        """Why ``nn.LSTM``/``nn.GRU``/``nn.RNN`` would not be exact for this node."""
        self.register_buffer("constant_lengths", constant_lengths, persistent=False)
        self.W = nn.Parameter(W)
        self.R = nn.Parameter(R)
        self.B = nn.Parameter(B)
        if spec.op_type == "LSTM":
            hidden = spec.hidden_size
            self.P = nn.Parameter(P if P is not None else W.new_zeros(W.shape[0], 3 * hidden))

    def forward(
        self,
        X: torch.Tensor,
        sequence_lens: torch.Tensor | None = None,
        initial_h: torch.Tensor | None = None,
        initial_c: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        spec = self.spec
        if sequence_lens is None:
            sequence_lens = self.constant_lengths
        X, h0, c0 = to_time_major(
            spec.layout, X, initial_h, initial_c, spec.num_directions, spec.hidden_size
        )

        if sequence_lens is not None:
            check_lengths(spec.node_name, sequence_lens, X.shape[0])
        ys, hs, cs = [], [], []
        for d in range(spec.num_directions):
            y, (h, c) = self._run_direction(d, X, sequence_lens, (h0[d], c0[d]))
            ys.append(y)
            hs.append(h)
            cs.append(c)
        outputs = (torch.stack(ys, 1), torch.stack(hs), torch.stack(cs))
        if sequence_lens is not None:
            outputs = zero_empty_entries(sequence_lens, *outputs)
        outputs = from_time_major(spec.layout, *outputs)
        return select_outputs(spec.num_outputs, outputs)

    def describe(self) -> dict[str, object]:
        """What this node became, for the stage's record."""
        spec = self.spec
        return {
            "module": f"{type(self).__module__}.{type(self).__qualname__}",
            "op": spec.op_type,
            "direction": spec.direction,
            "input_size": self.W.shape[-1],
            "hidden_size": spec.hidden_size,
            "layout": spec.layout,
            "sequence_lens": "absent" if self.constant_lengths is None else "constant",
        }

    def _run_direction(
        self, d: int, X: torch.Tensor, lengths: torch.Tensor | None, state: State
    ) -> tuple[torch.Tensor, State]:
        spec = self.spec
        gate_width = spec.num_gates * spec.hidden_size
        input_bias, recurrent_bias = self.B[d, :gate_width], self.B[d, gate_width:]
        projected = F.linear(X, self.W[d], input_bias)
        functions = spec.activations[d]
        steps = X.shape[0]
        outputs: list[torch.Tensor] = [X] * steps
        for t in reversed(range(steps)) if spec.is_reverse(d) else range(steps):
            h_next, c_next = self._step(d, projected[t], recurrent_bias, state, functions)
            if lengths is None:
                state = (h_next, c_next)
                outputs[t] = h_next
                continue
            active = (lengths > t).unsqueeze(-1)
            state = (torch.where(active, h_next, state[0]), torch.where(active, c_next, state[1]))
            outputs[t] = torch.where(active, h_next, 0.0)
        return torch.stack(outputs), state

    def _step(
        self,
        d: int,
        x: torch.Tensor,
        recurrent_bias: torch.Tensor,
        state: State,
        functions: tuple[Activation, ...],
    ) -> State:
        h, c = state
        op_type = self.spec.op_type
        if op_type == "LSTM":
            return self._lstm_step(d, x, recurrent_bias, h, c, functions)
        if op_type == "GRU":
            return self._gru_step(d, x, recurrent_bias, h, functions), c
        f = functions[0]
        return self._act(f, x + F.linear(h, self.R[d], recurrent_bias)), c

    def _lstm_step(self, d, x, recurrent_bias, h, c, functions) -> State:
        f, g, h_function = functions
        gates = x + F.linear(h, self.R[d], recurrent_bias)
        gate_i, gate_o, gate_f, gate_c = gates.chunk(4, dim=-1)
        peephole_i, peephole_o, peephole_f = self.P[d].chunk(3)
        i = self._act(f, gate_i + peephole_i * c)
        if self.spec.input_forget:
            forget = 1.0 - i
        else:
            forget = self._act(f, gate_f + peephole_f * c)
        c_next = forget * c + i * self._act(g, gate_c)
        o = self._act(f, gate_o + peephole_o * c_next)
        return o * apply_activation(h_function, c_next), c_next

    def _gru_step(self, d, x, recurrent_bias, h, functions) -> torch.Tensor:
        f, g = functions
        hidden = self.spec.hidden_size
        x_z, x_r, x_h = x.chunk(3, dim=-1)
        R_zr, R_h = self.R[d, : 2 * hidden], self.R[d, 2 * hidden :]
        bias_zr, bias_h = recurrent_bias[: 2 * hidden], recurrent_bias[2 * hidden :]
        recurrent_z, recurrent_r = F.linear(h, R_zr, bias_zr).chunk(2, dim=-1)
        z = self._act(f, x_z + recurrent_z)
        r = self._act(f, x_r + recurrent_r)
        if self.spec.linear_before_reset:
            candidate = x_h + r * F.linear(h, R_h, bias_h)
        else:
            candidate = x_h + F.linear(r * h, R_h, bias_h)
        n = self._act(g, candidate)
        return (1.0 - z) * n + z * h

    def _act(self, function: Activation, x: torch.Tensor) -> torch.Tensor:
        """``function`` of ``x``, its input clipped to ``[-clip, clip]`` when the node clips."""
        clip = self.spec.clip
        if clip is not None:
            x = torch.clamp(x, -clip, clip)
        return apply_activation(function, x)
