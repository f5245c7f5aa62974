"""Group source layers into torch modules, and refuse what no torch module computes exactly.

Layers of one ``stack`` become one ``nn.LSTM``/``nn.GRU``/``nn.RNN``: ``cell_K`` is layer
``K``, a ``bw`` layer the reverse direction. The ``state_dict`` keys are PyTorch's:
``weight_ih_l{K}``, ``weight_hh_l{K}``, ``bias_ih_l{K}``, ``bias_hh_l{K}``, ``weight_hr_l{K}``,
with ``_reverse`` for the backward direction. The weight math is in
``pipeline.recurrent.tf_to_torch``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from pipeline.errors import NoExactConversionError
from pipeline.port.layers import KINDS, TIME_MAJOR_KINDS, SourceLayer
from pipeline.recurrent import tf_to_torch

_CONVERT_HINT = (
    "`python -m pipeline convert` converts such a graph exactly (its torch module implements "
    "peepholes, cell_clip and GRU reset-before-matmul)"
)


@dataclass(frozen=True)
class PortedModule:
    """One torch module: its constructor's arguments and its ``state_dict``."""

    name: str
    module: str  # LSTM, GRU or RNN
    input_size: int
    hidden_size: int
    num_layers: int
    bidirectional: bool
    batch_first: bool
    proj_size: int
    state_dict: dict[str, np.ndarray]
    layers: tuple[str, ...]
    feed: str
    notes: tuple[str, ...]

    def constructor(self) -> str:
        """The exact call that builds a module this ``state_dict`` loads into."""
        arguments = (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"num_layers={self.num_layers}, bias=True, batch_first={self.batch_first}, "
            f"bidirectional={self.bidirectional}"
        )
        if self.module == "LSTM":
            arguments += f", proj_size={self.proj_size}"
        return f"torch.nn.{self.module}({arguments})"

    def constructor_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = dict(
            input_size=self.input_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            bias=True,
            batch_first=self.batch_first,
            bidirectional=self.bidirectional,
        )
        if self.module == "LSTM":
            kwargs["proj_size"] = self.proj_size
        return kwargs


def refusals(layers: Sequence[SourceLayer]) -> list[str]:
    """One line per layer that no ``nn.LSTM``/``nn.GRU``/``nn.RNN`` computes exactly."""
    lines = []
    for layer in layers:
        features = list(layer.unsupported)
        if layer.peepholes:
            features.append("peepholes")
        if layer.cell_clip > 0:
            default = " (a BlockLSTM V1 node without the attribute clips at 3.0)"
            features.append(f"cell_clip={layer.cell_clip:g}" + default * (layer.cell_clip == 3))
        if layer.module == "GRU" and not layer.reset_after:
            features.append("GRU reset before the recurrent matmul (nn.GRU resets after it)")
        if features:
            lines.append(
                f"{layer.name} ({layer.kind}): nn.{layer.module} has no {', '.join(features)}"
            )
    return lines


def build_modules(layers: Sequence[SourceLayer]) -> list[PortedModule]:
    """Group ``layers`` by stack into modules; raises ``NoExactConversionError`` on any refusal.

    Every refused layer is named at once.
    """
    refused = refusals(layers)
    if refused:
        raise NoExactConversionError(
            "no exact torch.nn module for:\n  - " + "\n  - ".join(refused) + f"\n{_CONVERT_HINT}"
        )
    if not layers:
        raise NoExactConversionError("the source holds no recurrent layer that this tool knows")
    stacks: dict[str, list[SourceLayer]] = {}
    for layer in layers:
        stacks.setdefault(layer.stack, []).append(layer)
    modules = []
    for name, members in stacks.items():
        if _stacks_per_direction(members):
            modules += _per_direction_modules(name, members)
        else:
            modules.append(_module(name, members))
    return modules


def _stacks_per_direction(members: list[SourceLayer]) -> bool:
    """A bidirectional_dynamic_rnn of two MultiRNNCells: layer 1 reads one direction only."""
    if {layer.direction for layer in members} != {"forward", "backward"}:
        return False
    upper = [layer for layer in members if layer.layer > 0]
    if not upper:
        return False
    input_size, hidden_size, proj_size = _sizes(torch_arrays(upper[0]))
    return input_size == (proj_size or hidden_size)


def _per_direction_modules(name: str, members: list[SourceLayer]) -> list[PortedModule]:
    """One unidirectional module per direction; the backward one reads the sequence reversed.

    Each TF direction stacks on its own, so each is exactly an ``nn.LSTM`` of all the layers,
    and TF's output is ``concat([fw(x), flip(bw(flip(x)))], -1)``, flipped along time.
    """
    modules = []
    for direction, end in (("forward", "fw"), ("backward", "bw")):
        layers = [replace(m, direction="forward") for m in members if m.direction == direction]
        module = _module(f"{name}/{end}", layers)
        reads = (
            "x flipped along time (x.flip(1) when batch_first=True, else x.flip(0)); flip "
            "its output back the same way"
            if direction == "backward"
            else "x as it is"
        )
        feed = (
            f"{module.feed}; the {direction} direction of a bidirectional_dynamic_rnn whose "
            f"directions stack on their own: it reads {reads}; TF's output is "
            "torch.cat([fw_output, bw_output], -1)"
        )
        modules.append(replace(module, feed=feed))
    return modules


def _module(name: str, members: list[SourceLayer]) -> PortedModule:
    members = sorted(members, key=lambda layer: (layer.layer, layer.direction == "backward"))
    first = members[0]
    kinds = {layer.module for layer in members}
    directions = {layer.direction for layer in members}
    num_layers = max(layer.layer for layer in members) + 1
    num_directions = len(directions)
    if len(kinds) > 1 or len(members) != num_layers * num_directions:
        found = ", ".join(f"{m.name} (layer {m.layer}, {m.direction})" for m in members)
        raise NoExactConversionError(
            f"{name}: expected {num_layers} layer(s) of one kind, each with the same "
            f"directions, found {found}"
        )
    state_dict: dict[str, np.ndarray] = {}
    sizes = []
    for layer in members:
        arrays = torch_arrays(layer)
        suffix = f"_l{layer.layer}" + ("_reverse" if layer.direction == "backward" else "")
        for parameter, array in arrays.items():
            state_dict[parameter + suffix] = array
        sizes.append(_sizes(arrays))
    input_size, hidden_size, proj_size = sizes[0]
    output_size = (proj_size or hidden_size) * num_directions
    for layer, (layer_input, layer_hidden, layer_proj) in zip(members, sizes, strict=True):
        expected_input = input_size if layer.layer == 0 else output_size
        if (layer_input, layer_hidden, layer_proj) != (expected_input, hidden_size, proj_size):
            if num_directions == 2 and layer_input == output_size // 2:
                raise NoExactConversionError(
                    f"{layer.name}: each direction of {name} stacks on its own (a "
                    "bidirectional_dynamic_rnn of MultiRNNCells), while nn.LSTM feeds both "
                    "directions' outputs to the next layer; no one torch.nn module computes it"
                )
            raise NoExactConversionError(
                f"{layer.name}: expected {expected_input} inputs, {hidden_size} units and "
                f"projection {proj_size} to stack with {first.name}, found {layer_input}, "
                f"{layer_hidden} and {layer_proj}"
            )
    time_major = first.kind in TIME_MAJOR_KINDS
    return PortedModule(
        name=name,
        module=first.module,
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bidirectional=num_directions == 2,
        batch_first=not time_major,
        proj_size=proj_size,
        state_dict=state_dict,
        layers=tuple(layer.name for layer in members),
        feed=_feed(first, num_directions == 2, hidden_size),
        notes=tuple(dict.fromkeys(note for layer in members for note in layer.notes)),
    )


def torch_arrays(layer: SourceLayer) -> dict[str, np.ndarray]:
    """One direction's torch parameters of a layer that a ``torch.nn`` module computes."""
    arrays = layer.arrays
    if layer.kind.startswith("keras_"):
        mapping = {
            "keras_lstm": tf_to_torch.keras_lstm_to_torch,
            "keras_gru": tf_to_torch.keras_gru_to_torch,
            "keras_simple_rnn": tf_to_torch.keras_simple_rnn_to_torch,
        }[layer.kind]
        return mapping(arrays["kernel"], arrays["recurrent_kernel"], arrays.get("bias"))
    kernel, projection = arrays["kernel"], arrays.get("projection")
    recurrent_size = kernel.shape[1] // 4 if projection is None else projection.shape[1]
    return tf_to_torch.fused_kernel_to_torch(
        kernel,
        arrays["bias"],
        input_size=kernel.shape[0] - recurrent_size,
        gate_order=KINDS[layer.kind][1],
        forget_bias=layer.forget_bias,
        projection=projection,
    )


def _sizes(arrays: dict[str, np.ndarray]) -> tuple[int, int, int]:
    """(input size, units, projection size or 0) of one direction's torch arrays."""
    input_size = arrays["weight_ih"].shape[1]
    if "weight_hr" in arrays:  # weight_hr [P, H]
        projection_size, hidden_size = arrays["weight_hr"].shape
        return input_size, hidden_size, projection_size
    return input_size, arrays["weight_hh"].shape[1], 0


def _feed(first: SourceLayer, bidirectional: bool, hidden_size: int) -> str:
    kind = first.kind
    if kind in TIME_MAJOR_KINDS:
        return (
            "feed x time-major, [T, B, I], as the TF op reads it (batch_first=False): "
            "a [1, 50, 64] array is 1 step of a batch of 50 there"
        )
    if kind.startswith("keras_"):
        return "feed x batch-major, [B, T, I], as Keras does (batch_first=True); " + _keras_returns(
            first, bidirectional, hidden_size
        )
    return (
        "feed x batch-major, [B, T, I] (batch_first=True), as dynamic_rnn's default "
        "time_major=False; for a time_major=True graph construct with batch_first=False"
    )


# a Bidirectional's merge_mode -> how Keras merges the forward f and the backward b
_MERGES = {
    "sum": "{f} + {b}",
    "mul": "{f} * {b}",
    "ave": "({f} + {b}) / 2",
    "none": "the list [{f}, {b}] (forward, backward)",
}


def _keras_returns(layer: SourceLayer, bidirectional: bool, hidden_size: int) -> str:
    """What of the torch call's ``output, h_n`` the Keras layer returns."""
    sequence, merged = "output", ""
    last = "torch.cat([h_n[-2], h_n[-1]], -1)" if bidirectional else "output[:, -1] (= h_n[-1])"
    if bidirectional and layer.merge_mode != "concat":
        merge = _MERGES[layer.merge_mode]
        sequence = merge.format(f=f"output[..., :{hidden_size}]", b=f"output[..., {hidden_size}:]")
        last = merge.format(f="h_n[-2]", b="h_n[-1]")
        mode = "None" if layer.merge_mode == "none" else f'"{layer.merge_mode}"'
        merged = f" with merge_mode={mode}"
    if layer.return_sequences:
        returned = f"Keras returns the whole sequence (return_sequences=True){merged}: {sequence}"
    else:
        returned = f"Keras returns only the last state (return_sequences=False){merged}: {last}"
    if layer.return_state:
        per_direction = ["h_n[{0}]", "c_n[{0}]"] if layer.module == "LSTM" else ["h_n[{0}]"]
        directions = range(2) if bidirectional else range(1)
        states = ", ".join(state.format(d) for d in directions for state in per_direction)
        order = " (forward states, then backward)" if bidirectional else ""
        returned += f"; then its states (return_state=True), in Keras' order: {states}{order}"
    return returned
