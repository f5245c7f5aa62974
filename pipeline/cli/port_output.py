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
    print(f"{result.source} ({result.layer}) against your state_dict, input {shape}:")
    print(f"  error before: max abs {result.error_before:.3g}")
    for feature in result.unfixable:
        print(f"  cannot be fixed in nn.LSTM: {feature}; use `python -m pipeline convert`")
    if not result.corrections and result.within_tolerance:
        print("  no known mistake: your port already agrees with TF")
    for number, correction in enumerate(result.corrections, 1):
        print(f"  {number}. {correction['mistake']}: {correction['explanation']}")
    if result.alternatives:
        print(f"  ({result.alternatives} other set(s) of the same size fit as well)")
    if result.corrected_path is not None:
        print(f"  corrected state_dict: {result.corrected_path}")
        print(f"  module = {result.constructor}")
        print(f"  module.load_state_dict(torch.load({str(result.corrected_path)!r}))")
        print(f"  output, (h_n, c_n) = module(x)   # x as given, shape {shape}")
    if result.tf_transposed:
        print(
            f"  TF read x as {shape[0]} step(s) of a batch of {shape[1]}: feed TF "
            "x.transpose(1, 0, 2) and transpose its h back to compare the same "
            f"{shape[1]} steps; the errors after are against that"
        )
    verdict = "FIXED" if result.within_tolerance else "NOT EXPLAINED"
    print(
        f"{verdict}: max abs error {result.error_before:.3g} before, "
        f"{result.error_after:.3g} after {len(result.corrections)} correction(s)"
    )
