"""Which known mistakes explain why a hand port of a TF recurrent layer disagrees with TF.

The user's port is the ``state_dict`` of one ``nn.LSTM``/``nn.GRU``/``nn.RNN`` (any
``num_layers``, ``bidirectional``) and a call (``batch_first``, the array TF was fed). It is
searched one unit at a time, a unit being one layer-direction (``weight_ih_l{k}[_reverse]``,
``weight_hh_l{k}[_reverse]``, ``bias_ih_l{k}[_reverse]``, ``bias_hh_l{k}[_reverse]``): unit
``k`` reads TF's own output of layer ``k - 1`` and is scored against TF's output of that
layer-direction, so each unit's mistakes show on their own.

The known mistakes and their corrections are in ``pipeline.port.mistakes``. For each unit the
search applies every set of corrections, in one fixed order, runs the unit
(``pipeline.port.exact_units``) and scores the set by its max abs error against TF. The answer
is the smallest set within the tolerance (the lowest error among sets of that size). A set is
skipped when one of its corrections changes nothing, since a smaller set then does the same.

The error before is the user's whole module called as given; the error after chains the
corrected units, each layer reading the previous corrected layer, in the layout that the first
unit's corrections chose. Torch is imported inside the functions: this runs in the torch worker
or the test process.

Every set is also scored on a probe (``pipeline.port.inputs.probe_input``: seeded random, five
steps whichever way it is read) with TF's own output for it, and a set fits only when it fits
both: on a one-step input neither ``weight_hh`` nor ``forget_bias`` shows, so agreement on the
user's input alone proves nothing about them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from pipeline.port.mistakes import (
    EXACT_MISTAKES,
    MISTAKES,
    PARAMETERS,
    Correction,
    ExactFeatures,
    Port,
    TfUnit,
    apply,
    candidate_sets,
)

logger = logging.getLogger(__name__)

TOLERANCE = 1e-5
__all__ = [
    "MISTAKES", "ExactFeatures", "Port", "References", "TfUnit", "diagnose", "diagnose_stack",
    "run_port",
]  # fmt: skip


@dataclass(frozen=True)
class References:
    """TF's input and output of one unit for ``x`` as fed, and for ``x.transpose(1, 0, 2)``,
    each in the layout of ``x``. Layer 0's inputs are ``x`` itself."""

    as_fed: np.ndarray
    transposed: np.ndarray
    input_as_fed: np.ndarray | None = None
    input_transposed: np.ndarray | None = None

    def of(self, port: Port) -> np.ndarray:
        return self.transposed if port.tf_transposed else self.as_fed

    def input_of(self, port: Port, x: np.ndarray) -> np.ndarray:
        chosen = self.input_transposed if port.tf_transposed else self.input_as_fed
        return x if chosen is None else chosen


@dataclass(frozen=True)
class Diagnosis:
    """One unit's answer."""

    corrections: tuple[Correction, ...]
    error_before: float
    error_after: float
    corrected: Port
    within_tolerance: bool
    alternatives: int  # other sets of the same size within the tolerance
    probe_error_after: float = 0.0
    other_sets: tuple[tuple[str, ...], ...] = ()  # the mistakes of each other set that fits

    @property
    def mistakes(self) -> tuple[str, ...]:
        return tuple(correction.mistake for correction in self.corrections)


@dataclass(frozen=True)
class UserModule:
    """The user's module: its kind, whole ``state_dict`` and the call's layout."""

    kind: str
    state: dict[str, np.ndarray]
    batch_first: bool
    num_layers: int
    bidirectional: bool

    def units(self) -> list[tuple[int, bool]]:
        directions = (False, True) if self.bidirectional else (False,)
        return [(layer, reverse) for layer in range(self.num_layers) for reverse in directions]


@dataclass(frozen=True)
class StackDiagnosis:
    units: tuple[tuple[int, bool, Diagnosis], ...]  # layer, reverse, the unit's answer
    error_before: float
    error_after: float
    corrected_state: dict[str, np.ndarray]
    batch_first: bool
    tf_transposed: bool
    within_tolerance: bool
    probe_error_before: float = 0.0
    probe_error_after: float = 0.0

    @property
    def needs_exact_loop(self) -> tuple[str, ...]:
        """The mistakes found whose correction no ``torch.nn`` module holds."""
        found = {m for _, _, unit in self.units for m in unit.mistakes if m in EXACT_MISTAKES}
        return tuple(m for m in EXACT_MISTAKES if m in found)


def suffix(layer: int, reverse: bool) -> str:
    return f"_l{layer}" + ("_reverse" if reverse else "")


def run_port(port: Port, x: np.ndarray) -> np.ndarray:
    """The output of ``port``'s unit, called as it says, on ``x``."""
    from pipeline.port.exact_units import run_unit

    return run_unit(
        port.kind, port.state, x, batch_first=port.batch_first, reverse=port.reverse,
        features=port.features,
    )  # fmt: skip


def max_error(candidate: np.ndarray, reference: np.ndarray) -> float:
    if candidate.shape != reference.shape:
        return float("inf")
    return float(np.max(np.abs(candidate.astype(np.float64) - reference)))


def diagnose(
    port: Port,
    x: np.ndarray,
    references: References,
    tf_unit: TfUnit,
    *,
    tolerance: float = TOLERANCE,
    probe: tuple[np.ndarray, References] | None = None,
) -> Diagnosis:
    """The smallest set of corrections that brings ``port``'s output within ``tolerance``,
    on ``x`` and on ``probe`` (an input and TF's references for it) when given."""

    def errors_of(candidate: Port) -> tuple[float, float]:
        """The error on ``x`` and on the probe (0 without one)."""
        output = run_port(candidate, references.input_of(candidate, x))
        error = max_error(output, references.of(candidate))
        if probe is None:
            return error, 0.0
        probe_x, probe_references = probe
        output = run_port(candidate, probe_references.input_of(candidate, probe_x))
        return error, max_error(output, probe_references.of(candidate))

    before = errors_of(port)
    if max(before) <= tolerance:
        return Diagnosis((), before[0], before[0], port, True, 0, before[1])
    closest: tuple[tuple[float, float], tuple[Correction, ...], Port] = (before, (), port)
    for size in range(1, len(MISTAKES) + 1):
        hits = []
        for corrections in candidate_sets(size, tf_unit):
            corrected = apply(port, corrections, tf_unit, x.shape)
            if corrected is None:
                continue
            errors = errors_of(corrected)
            if _closeness(errors, tolerance) < _closeness(closest[0], tolerance):
                closest = (errors, corrections, corrected)
            if max(errors) <= tolerance:
                hits.append((errors, corrections, corrected))
        if hits:
            logger.info("diagnosis: %d correction(s) fit, %d set(s)", size, len(hits))
            hits.sort(key=lambda hit: max(hit[0]))
            errors, corrections, corrected = hits[0]
            others = tuple(
                tuple(c.mistake + (f" ({c.detail})" if c.detail else "") for c in hit[1])
                for hit in hits[1:]
            )
            return Diagnosis(
                corrections, before[0], errors[0], corrected, True, len(hits) - 1, errors[1],
                others,
            )  # fmt: skip
    errors, corrections, corrected = closest
    return Diagnosis(corrections, before[0], errors[0], corrected, False, 0, errors[1])


def diagnose_stack(
    user: UserModule,
    x: np.ndarray,
    references: dict[str, np.ndarray],
    tf_units: dict[tuple[int, bool], TfUnit],
    *,
    tolerance: float = TOLERANCE,
    probe: tuple[np.ndarray, dict[str, np.ndarray]] | None = None,
) -> StackDiagnosis:
    """Diagnose every unit of ``user``; ``references`` are ``stack_reference``'s arrays, and
    ``probe`` a probe input with ``stack_reference``'s arrays for it."""
    from pipeline.port.exact_units import run_module

    def whole_module_error(inputs: np.ndarray, expected: dict[str, np.ndarray]) -> float:
        output = run_module(
            user.kind, user.state, inputs, batch_first=user.batch_first,
            num_layers=user.num_layers, bidirectional=user.bidirectional,
        )  # fmt: skip
        return max_error(output, expected["as_fed/output"])

    error_before = whole_module_error(x, references)
    answers = []
    for layer, reverse in user.units():
        end = suffix(layer, reverse)
        state = {name: user.state[name + end] for name in PARAMETERS}
        port = Port(user.kind, state, user.batch_first, reverse)
        unit_probe = (
            None if probe is None else (probe[0], _unit_references(probe[1], layer, reverse))
        )
        answer = diagnose(
            port, x, _unit_references(references, layer, reverse), tf_units[layer, reverse],
            tolerance=tolerance, probe=unit_probe,
        )  # fmt: skip
        logger.info("unit %s: %s", end, ", ".join(answer.mistakes) or "no mistake")
        answers.append((layer, reverse, answer))
    first = answers[0][2].corrected
    corrected = [
        (layer, reverse, replace(
            answer.corrected, batch_first=first.batch_first, tf_transposed=first.tf_transposed
        ))
        for layer, reverse, answer in answers
    ]  # fmt: skip
    chained = _run_chain(corrected, x, user.num_layers)
    reading = "transposed" if first.tf_transposed else "as_fed"
    error_after = max_error(chained, references[f"{reading}/output"])
    probe_before = probe_after = 0.0
    if probe is not None:
        probe_before = whole_module_error(probe[0], probe[1])
        probe_chained = _run_chain(corrected, probe[0], user.num_layers)
        probe_after = max_error(probe_chained, probe[1][f"{reading}/output"])
    corrected_state = {
        name + suffix(layer, reverse): port.state[name]
        for layer, reverse, port in corrected
        for name in PARAMETERS
    }
    return StackDiagnosis(
        units=tuple(answers),
        error_before=error_before,
        error_after=error_after,
        corrected_state=corrected_state,
        batch_first=first.batch_first,
        tf_transposed=first.tf_transposed,
        within_tolerance=max(error_after, probe_after) <= tolerance,
        probe_error_before=probe_before,
        probe_error_after=probe_after,
    )


def _closeness(errors: tuple[float, float], tolerance: float) -> tuple[bool, float]:
    """Sort key of a set that fits nowhere: one that fits the user's input first."""
    return errors[0] > tolerance, max(errors)


def _unit_references(references: dict[str, np.ndarray], layer: int, reverse: bool) -> References:
    direction = "backward" if reverse else "forward"
    return References(
        references[f"as_fed/{layer}/{direction}"],
        references[f"transposed/{layer}/{direction}"],
        references[f"as_fed/{layer}/input"] if layer else None,
        references[f"transposed/{layer}/input"] if layer else None,
    )


def _run_chain(units: list[tuple[int, bool, Port]], x: np.ndarray, num_layers: int) -> np.ndarray:
    inputs = x
    for index in range(num_layers):
        members = [port for layer, _, port in units if layer == index]
        inputs = np.concatenate([run_port(port, inputs) for port in members], axis=-1)
    return inputs


def diagnose_stage(
    reference_npz: str,
    port_npz: str,
    units_npz: str,
    units: list[dict],
    options: dict,
    corrected_npz: str,
    probe_npz: str | None = None,
    probe_reference_npz: str | None = None,
) -> dict:
    """The torch worker's stage: read the arrays, diagnose, write the corrected parameters.

    ``port_npz`` holds the user's state_dict and ``x``; ``units`` the plain fields of each
    ``TfUnit`` (plus ``layer`` and ``reverse``) whose arrays ``units_npz`` holds, keyed
    ``<index>/<field>``; ``options``: ``kind``, ``batch_first``, ``num_layers``,
    ``bidirectional``, ``tolerance``; ``probe_npz`` the probe input (``x``) and
    ``probe_reference_npz`` TF's arrays for it.
    """
    with np.load(reference_npz) as arrays:
        references = {key: arrays[key] for key in arrays.files}
    probe = None
    if probe_npz is not None and probe_reference_npz is not None:
        with np.load(probe_npz) as inputs, np.load(probe_reference_npz) as arrays:
            probe = (inputs["x"], {key: arrays[key] for key in arrays.files})
    with np.load(port_npz) as arrays:
        state = {name: arrays[name] for name in arrays.files if name != "x"}
        x = arrays["x"]
    with np.load(units_npz) as arrays:
        loaded = {key: arrays[key] for key in arrays.files}
    tf_units = {}
    for index, plain in enumerate(units):
        fields = {key: value for key, value in plain.items() if key not in ("layer", "reverse")}
        peepholes = loaded.get(f"{index}/peepholes")
        tf_units[plain["layer"], plain["reverse"]] = TfUnit(
            bias_ih=loaded[f"{index}/bias_ih"], bias_hh=loaded[f"{index}/bias_hh"],
            peepholes=peepholes, **fields,
        )  # fmt: skip
    user = UserModule(
        options["kind"], state, options["batch_first"], options["num_layers"],
        options["bidirectional"],
    )  # fmt: skip
    result = diagnose_stack(
        user, x, references, tf_units, tolerance=options["tolerance"], probe=probe
    )
    np.savez(corrected_npz, **result.corrected_state)
    return {
        "units": [
            {
                "layer": layer,
                "reverse": reverse,
                "corrections": [
                    {"mistake": c.mistake, "detail": c.detail, "explanation": c.explanation}
                    for c in answer.corrections
                ],
                "error_before": answer.error_before,
                "error_after": answer.error_after,
                "within_tolerance": answer.within_tolerance,
                "alternatives": answer.alternatives,
                "other_sets": [list(mistakes) for mistakes in answer.other_sets],
                "probe_error_after": answer.probe_error_after,
            }
            for layer, reverse, answer in result.units
        ],
        "error_before": result.error_before,
        "error_after": result.error_after,
        "batch_first": result.batch_first,
        "tf_transposed": result.tf_transposed,
        "within_tolerance": result.within_tolerance,
        "needs_exact_loop": list(result.needs_exact_loop),
        "probe_error_before": result.probe_error_before,
        "probe_error_after": result.probe_error_after,
    }


def plain_units(tf_units: dict[tuple[int, bool], TfUnit]) -> tuple[list[dict], dict]:
    """``tf_units`` as plain fields and arrays, for ``diagnose_stage``."""
    plain, arrays = [], {}
    for index, ((layer, reverse), unit) in enumerate(tf_units.items()):
        plain.append({
            "layer": layer, "reverse": reverse, "kind": unit.kind, "gate_order": unit.gate_order,
            "forget_bias": unit.forget_bias, "time_major": unit.time_major,
            "cell_clip": unit.cell_clip, "reset_before": unit.reset_before,
        })  # fmt: skip
        arrays[f"{index}/bias_ih"] = unit.bias_ih
        arrays[f"{index}/bias_hh"] = unit.bias_hh
        if unit.peepholes is not None:
            arrays[f"{index}/peepholes"] = unit.peepholes
    return plain, arrays
