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
    print(f"  error before: max abs {result.error_before:.3g}")
    if not result.corrections and result.within_tolerance:
        print("  no known mistake: your port already agrees with TF")
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
            print(f"{indent}({unit['alternatives']} other set(s) of the same size fit as well)")
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
    verdict = "FIXED" if result.within_tolerance else "NOT EXPLAINED"
    if result.within_tolerance and result.needs_exact_loop:
        verdict = "EXPLAINED (exact only outside nn)"
    print(
        f"{verdict}: max abs error {result.error_before:.3g} before, "
        f"{result.error_after:.3g} after {len(result.corrections)} correction(s)"
    )
