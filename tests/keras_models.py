"""Keras recurrent models for the tests, built, saved and exported in the TF worker.

Every model is tiny (3 inputs, 4 units, 5 steps, batch 2) and has trained-looking weights:
every weight, biases too, uniform in [-0.5, 0.5). ``build_case`` saves the model and seeded
inputs; ``export_case`` loads the file with ``load_keras_model``, runs it with ``run_keras``
for the reference and exports it. ``write_keras2_h5`` runs in a subprocess of its own with
tf_keras (genuine Keras 2) and also writes what Keras 2 itself computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pipeline.isolation import Workers

INPUT_SIZE, UNITS, STEPS, BATCH = 3, 4, 5, 2


@dataclass(frozen=True)
class KerasCase:
    layer: str = "LSTM"  # LSTM, GRU, SimpleRNN
    return_sequences: bool = True
    return_state: bool = False
    go_backwards: bool = False
    reset_after: bool = True  # GRU only
    initial_state: bool = False  # the initial states are model inputs
    stacked: bool = False  # two layers, the first returning sequences
    merge_mode: str | None = "-"  # a Bidirectional merge mode; "-" for no Bidirectional
    padding: str | None = None  # "back" or "front" (Masking), "embedding" (mask_zero=True)
    empty_row: bool = False  # with padding: the second example has no valid step at all
    variable_steps: bool = False  # the model's input has no static step count
    activation: str | None = None
    recurrent_activation: str | None = None
    use_bias: bool = True
    suffix: str = ".keras"

    @property
    def bidirectional(self) -> bool:
        return self.merge_mode != "-"

    @property
    def num_layers(self) -> int:
        return 2 if self.stacked else 1

    @property
    def num_states(self) -> int:
        return (2 if self.layer == "LSTM" else 1) * (2 if self.bidirectional else 1)


def build_case(case: KerasCase, folder: str) -> dict:
    """Save the model of ``case`` and its inputs; return their paths."""
    import keras

    keras.utils.set_random_seed(7)
    model = _model(keras, case)
    _randomize_weights(model)
    path = Path(folder) / f"model{case.suffix}"
    model.save(path)
    inputs_npz = Path(folder) / "inputs.npz"
    np.savez(inputs_npz, **_inputs(case, model))
    return {"path": str(path), "inputs_npz": str(inputs_npz)}


def export_case(
    path: str,
    inputs_npz: str,
    onnx_path: str,
    reference_npz: str,
    safe_mode: bool = True,
    outputs: list[str] | None = None,
) -> dict:
    """Load, run and export a Keras file as the pipeline does; return the export's record.

    ``outputs`` (default: all) are the outputs exported and written to ``reference_npz``.
    """
    from pipeline.sources.keras_model import input_names, load_keras_model, run_keras
    from pipeline.tf_to_onnx.keras_export import export_keras_model

    model = load_keras_model(path, safe_mode=safe_mode)
    result = export_keras_model(model, 17, outputs)
    Path(onnx_path).write_bytes(result.model.SerializeToString())
    with np.load(inputs_npz) as data:
        feeds = {name: data[name] for name in data.files}
    reference = run_keras(model, feeds)
    np.savez(reference_npz, **{name: reference[name] for name in outputs or reference})
    return {
        "input_names": input_names(model),
        "recurrent_nodes": [record.as_dict() for record in result.recurrent_nodes],
    }


def _model(keras: ModuleType, case: KerasCase) -> Any:
    layers = keras.layers
    if case.padding == "embedding":
        inputs = [keras.Input((STEPS,), dtype="int32", name="ids")]
        x = layers.Embedding(7, INPUT_SIZE, mask_zero=True, name="embedding")(inputs[0])
    else:
        steps = None if case.variable_steps else STEPS
        inputs = [keras.Input((steps, INPUT_SIZE), name="x")]
        x = layers.Masking(0.0, name="masking")(inputs[0]) if case.padding else inputs[0]
    states = None
    if case.initial_state:
        states = [keras.Input((UNITS,), name=f"state{k}") for k in range(case.num_states)]
        inputs += states
    for index in range(case.num_layers):
        layer = _recurrent(layers, case, f"rnn{index}", last=index == case.num_layers - 1)
        x = layer(x, initial_state=states) if index == 0 and states else layer(x)
    outputs = x if isinstance(x, list | tuple) else [x]
    return keras.Model(inputs, list(outputs), name="model")


def _recurrent(layers: ModuleType, case: KerasCase, name: str, last: bool) -> Any:
    """The layer of ``case``; below the last layer of a stack, one returning sequences."""
    options: dict = {
        "return_sequences": case.return_sequences or not last,
        "return_state": case.return_state and last,
    }
    if case.activation:
        options["activation"] = case.activation
    if case.recurrent_activation:
        options["recurrent_activation"] = case.recurrent_activation
    if case.layer == "GRU":
        options["reset_after"] = case.reset_after
    if not case.use_bias:
        options["use_bias"] = False
    if not case.bidirectional:
        return getattr(layers, case.layer)(
            UNITS, go_backwards=case.go_backwards, name=name, **options
        )
    inner = getattr(layers, case.layer)(UNITS, **options)
    return layers.Bidirectional(inner, merge_mode=case.merge_mode, name=name)


def _randomize_weights(model: Any) -> None:
    rng = np.random.default_rng(7)
    model.set_weights(
        [rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()]
    )


def _inputs(case: KerasCase, model: Any) -> dict[str, np.ndarray]:
    from pipeline.sources.keras_model import input_names

    rng = np.random.default_rng(0)
    names = input_names(model)
    if case.padding == "embedding":
        values = {names[0]: rng.integers(1, 7, (BATCH, STEPS)).astype(np.int32)}
        values[names[0]][0, 3:] = 0  # back padding
        values[names[0]][1, :2] = 0  # front padding
    else:
        x = rng.uniform(-1, 1, (BATCH, STEPS, INPUT_SIZE)).astype(np.float32)
        if case.padding == "back":
            x[0, 3:] = 0
            x[1, 4:] = 0
        elif case.padding == "front":
            x[0, :2] = 0
            x[1, :1] = 0
        values = {names[0]: x}
    if case.empty_row:
        values[names[0]][1] = 0
    for name in names[1:]:
        values[name] = rng.uniform(-1, 1, (BATCH, UNITS)).astype(np.float32)
    return values


def write_keras2_h5(folder: str) -> dict:
    """A genuine Keras 2 ``.h5`` (tf_keras): a hard_sigmoid GRU (reset_after=False) and LSTM.

    Runs in a subprocess of its own: it imports tf_keras. Writes the file, the inputs, and
    ``keras2_outputs.npz``: what Keras 2 computes on them, keyed ``<layer>:<k>``.
    """
    import tf_keras

    layers = tf_keras.layers
    tf_keras.utils.set_random_seed(7)
    inputs = tf_keras.Input((STEPS, INPUT_SIZE), name="x")
    gru = layers.GRU(
        UNITS, return_sequences=True, reset_after=False, recurrent_activation="hard_sigmoid",
        name="gru",
    )(inputs)  # fmt: skip
    lstm, h, c = layers.LSTM(
        UNITS, return_state=True, activation="hard_sigmoid", recurrent_activation="hard_sigmoid",
        name="lstm",
    )(gru)  # fmt: skip
    model = tf_keras.Model(inputs, [lstm, h, c])
    _randomize_weights(model)
    path = Path(folder) / "keras2.h5"
    model.save(path, save_format="h5")
    # Scale the inputs so the gates reach hard_sigmoid's linear part, where 0.2x and x/6
    # differ, and its clipped parts.
    x = np.random.default_rng(0).uniform(-3, 3, (BATCH, STEPS, INPUT_SIZE)).astype(np.float32)
    np.savez(Path(folder) / "inputs.npz", **{"x:0": x})
    outputs = model(x, training=False)
    np.savez(
        Path(folder) / "keras2_outputs.npz",
        **{f"lstm:{k}": np.asarray(value) for k, value in enumerate(outputs)},
    )
    return {"path": str(path), "inputs_npz": str(Path(folder) / "inputs.npz")}


@dataclass(frozen=True)
class Agreement:
    """Max abs error of each output under each pair of parties against Keras."""

    errors: dict[str, dict[str, float]]  # party -> output -> max abs error vs Keras

    @property
    def worst(self) -> float:
        return max(error for per_output in self.errors.values() for error in per_output.values())

    def describe(self) -> str:
        return "\n".join(
            f"{party} vs keras {output}: max abs {error:.3g}"
            for party, per_output in self.errors.items()
            for output, error in per_output.items()
        )


def export_built(
    workers: Workers, built: dict, folder: Path, outputs: list[str] | None = None
) -> tuple[dict, Path, Path]:
    """Export a built model (``build_case``'s dict) in the TF worker: the export's record,
    ``model.onnx`` and Keras's ``reference.npz``, both in ``folder``."""
    onnx_path, reference = folder / "model.onnx", folder / "reference.npz"
    record = workers.run_tf(
        "tests.keras_models:export_case",
        built["path"], built["inputs_npz"], str(onnx_path), str(reference), True, outputs,
        timeout=300, model="keras test",
    )  # fmt: skip
    return record, onnx_path, reference


def three_way_agreement(
    workers: Workers, onnx_path: Path, inputs_npz: str, reference_npz: Path
) -> Agreement:
    """Run ``onnx_path`` in onnxruntime (here) and torch (its worker); compare with Keras."""
    import onnxruntime

    folder = onnx_path.parent
    with np.load(inputs_npz) as data:
        feeds = {name: data[name] for name in data.files}
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    parties = {"onnxruntime": dict(zip(names, session.run(names, feeds), strict=True))}
    workers.run_torch(
        "pipeline.onnx_to_torch.stage:import_and_run",
        str(onnx_path), inputs_npz, str(folder / "torch.npz"), str(folder / "program.npz"),
        str(folder / "model.pt2"), str(folder / "state_dict.pt"),
        timeout=300, model=onnx_path.name,
    )  # fmt: skip
    for party, npz in (("torch", "torch.npz"), ("torch.export", "program.npz")):
        with np.load(folder / npz) as data:
            parties[party] = {name: data[name] for name in data.files}
    errors: dict[str, dict[str, float]] = {}
    with np.load(reference_npz) as reference:
        for party, outputs in parties.items():
            assert sorted(outputs) == sorted(reference.files), (party, sorted(outputs))
            for name in outputs:
                assert outputs[name].shape == reference[name].shape, (party, name)
            errors[party] = {
                name: float(np.abs(outputs[name] - reference[name]).max()) for name in outputs
            }
    return Agreement(errors)


def build_refused(kind: str, folder: str) -> str:
    """A model whose recurrent layer has no exact fused ONNX form; the layer is ``refused``."""
    import keras

    layers = keras.layers
    if kind == "stateful":
        inputs = keras.Input((STEPS, INPUT_SIZE), batch_size=BATCH, name="x")
        outputs = layers.LSTM(UNITS, stateful=True, name="refused")(inputs)
    else:
        inputs = keras.Input((STEPS, INPUT_SIZE), name="x")
        if kind == "activation":
            layer = layers.GRU(UNITS, activation="gelu", name="refused")
        elif kind == "generic_rnn":
            layer = layers.RNN(layers.LSTMCell(UNITS), name="refused")
        elif kind == "wrapped":
            inputs = keras.Input((2, STEPS, INPUT_SIZE), name="x")
            layer = layers.TimeDistributed(layers.LSTM(UNITS), name="refused")
        else:
            raise ValueError(f"unknown refusal kind {kind!r}")
        outputs = layer(layers.Dense(INPUT_SIZE, name="dense")(inputs))
    path = Path(folder) / "refused.keras"
    keras.Model(inputs, outputs).save(path)
    return str(path)


def build_lambda_model(folder: str) -> dict:
    """An LSTM behind a ``Lambda`` layer (Python code stored in the file)."""
    import keras

    inputs = keras.Input((STEPS, INPUT_SIZE), name="x")
    doubled = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    model = keras.Model(inputs, keras.layers.LSTM(UNITS, name="lstm")(doubled))
    return _save_with_inputs(model, Path(folder) / "lambda.keras")


def describe_model(path: str) -> dict:
    """The names and signature ``pipeline.sources.keras_model`` gives the file's model."""
    from pipeline.sources.keras_model import (
        input_names,
        input_signature,
        load_keras_model,
        output_names,
    )

    model = load_keras_model(path)
    return {
        "inputs": input_names(model),
        "outputs": output_names(model),
        "signature": [list(entry) for entry in input_signature(model)],
    }


def build_nested(folder: str) -> dict:
    """A GRU inside a nested functional model, then Dense and Dropout, then a Sequential LSTM."""
    import keras

    layers = keras.layers
    keras.utils.set_random_seed(7)
    inner_inputs = keras.Input((STEPS, INPUT_SIZE))
    inner = keras.Model(
        inner_inputs, layers.GRU(UNITS, return_sequences=True, name="gru")(inner_inputs),
        name="inner",
    )  # fmt: skip
    stack = keras.Sequential(
        [keras.Input((STEPS, 2)), layers.LSTM(UNITS, name="lstm")], name="stack"
    )
    inputs = keras.Input((STEPS, INPUT_SIZE), name="x")
    hidden = layers.Dense(2, name="dense")(layers.Dropout(0.5, name="dropout")(inner(inputs)))
    model = keras.Model(inputs, stack(hidden), name="nested")
    return _save_with_inputs(model, Path(folder) / "nested.keras")


def build_repeated_output(folder: str) -> dict:
    """An LSTM whose one output the model returns twice, ``keras.Model(x, [y, y])``.

    Also writes ``keras_outputs.npz``: what Keras computes for ``y``, keyed ``lstm:0``.
    """
    import keras

    inputs = keras.Input((STEPS, INPUT_SIZE), name="x")
    y = keras.layers.LSTM(UNITS, name="lstm")(inputs)
    model = keras.Model(inputs, [y, y])
    built = _save_with_inputs(model, Path(folder) / "repeated.keras")
    with np.load(built["inputs_npz"]) as inputs:
        first, second = model(inputs["x:0"], training=False)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))
    np.savez(Path(folder) / "keras_outputs.npz", **{"lstm:0": np.asarray(first)})
    return built


def _save_with_inputs(model: Any, path: Path) -> dict:
    """Randomize ``model``'s weights, save it to ``path``, and write a seeded ``x:0`` beside
    it (``inputs.npz``)."""
    _randomize_weights(model)
    model.save(path)
    inputs_npz = path.parent / "inputs.npz"
    x = np.random.default_rng(0).uniform(-1, 1, (BATCH, STEPS, INPUT_SIZE)).astype(np.float32)
    np.savez(inputs_npz, **{"x:0": x})
    return {"path": str(path), "inputs_npz": str(inputs_npz)}
