"""What ``weights`` and ``diagnose`` print."""

from __future__ import annotations

from pipeline.port.hand_port import HandPortDiagnosis
from pipeline.port.weights import WeightsResult


def print_weights(result: WeightsResult) -> None:
    print(f"{result.source} ({result.kind}): {len(result.files)} module(s)")
    for ported in result.files:
        module = ported.module
        print(f"\n{module.name}: {', '.join(module.layers)}")
        print(f"  state_dict: {ported.path}")
        print(f"  module = {module.constructor()}")
        print(f"  module.load_state_dict(torch.load({str(ported.path)!r}))")
        print(f"  input: {module.feed}")
        for note in module.notes:
            print(f"  note: {note}")


def print_diagnosis(result: HandPortDiagnosis) -> None:
    shape = list(result.input_shape)
    yours = "your saved module" if result.from_module else "your state_dict"
    print(f"{result.source} ({result.layer}) against {yours}, input {shape}:")
    probe = list(result.probe_shape)
    print(
        f"  error before: max abs {result.error_before:.3g} (on TF's own {probe} probe, "
        f"{result.probe_error_before:.3g})"
    )
    if not result.corrections and result.within_tolerance:
        print("  no known mistake: your port already agrees with TF, on a multi-step probe too")
    several = len(result.units) > 1
    for unit in result.units:
        indent = "  "
        if several:
            direction = "backward (_reverse)" if unit["reverse"] else "forward"
            found = "no mistake" if not unit["corrections"] else ""
            print(
                f"  layer {unit['layer']}, {direction}: max abs {unit['error_before']:.3g} "
                f"before, {unit['error_after']:.3g} after {found}".rstrip()
            )
            indent = "    "
        for number, correction in enumerate(unit["corrections"], 1):
            print(f"{indent}{number}. {correction['mistake']}: {correction['explanation']}")
        if unit["alternatives"]:
            others = "; ".join(", ".join(mistakes) for mistakes in unit["other_sets"])
            count = unit["alternatives"]
            print(f"{indent}({count} other set(s) of the same size fit as well: {others})")
    if result.corrected_path is not None:
        print(f"  corrected state_dict: {result.corrected_path}")
        print(f"  module = {result.constructor}")
        print(f"  module.load_state_dict(torch.load({str(result.corrected_path)!r}))")
        outputs = "(h_n, c_n)" if result.module == "LSTM" else "h_n"
        print(f"  output, {outputs} = module(x)   # x as given, shape {shape}")
    if result.tf_transposed:
        print(
            f"  TF read x as {shape[0]} step(s) of a batch of {shape[1]}: feed TF "
            "x.transpose(1, 0, 2) and transpose its h back to compare the same "
            f"{shape[1]} steps; the errors after are against that"
        )
    if result.needs_exact_loop:
        print(
            f"  nn.{result.module} cannot hold {', '.join(result.needs_exact_loop)}: the error "
            "after is that of an exact step loop with the corrected state_dict, which no "
            f"torch.nn.{result.module} computes; use `python -m pipeline convert` instead, "
            "whose model.pt2 is exact"
        )
    _print_probe(result)
    _print_source_features(result)
    verdict = "FIXED" if result.within_tolerance else "NOT EXPLAINED"
    if result.within_tolerance and result.needs_exact_loop:
        verdict = "EXPLAINED (exact only outside nn)"
    elif result.within_tolerance and result.source_features:
        verdict = "FIXED on this input (see the warning)"
    print(
        f"{verdict}: max abs error {result.error_before:.3g} before, "
        f"{result.error_after:.3g} after {len(result.corrections)} correction(s) (on the "
        f"probe {result.probe_error_before:.3g} before, {result.probe_error_after:.3g} after)"
    )


def _print_probe(result: HandPortDiagnosis) -> None:
    """Say when the user's input leaves the port's error unseen that the probe shows."""
    tolerance_met = result.error_after <= 1e-5
    if not tolerance_met or result.probe_error_after <= 1e-5:
        return
    steps, probe = result.steps_read, list(result.probe_shape)
    port = "corrected port" if result.corrections else "port"
    print(
        f"  on your input (TF reads {steps} step(s)) the {port} agrees with TF (max abs "
        f"{result.error_after:.3g}), but on TF's own {probe} probe ({probe[0]} steps, seeded "
        f"random) it is off by {result.probe_error_after:.3g}: no known mistake explains that"
    )
    if steps == 1:
        print(
            "  a one-step input shows neither weight_hh (h is zero at the first step) nor "
            "forget_bias (it scales a zero cell state): feed a multi-step input to diagnose them"
        )


def _print_source_features(result: HandPortDiagnosis) -> None:
    """Warn of what the source computes that nn cannot hold, even where no input showed it."""
    if not result.source_features or not result.within_tolerance or result.needs_exact_loop:
        return
    print(
        f"  warning: your nn.{result.module} agrees on this input and on the probe, but the "
        "source computes what it cannot hold; inputs that reach it will differ:"
    )
    for line in result.source_features:
        print(f"    - {line}")
    print("  use `python -m pipeline convert` for a torch module that is exact on every input")
