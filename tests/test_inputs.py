"""Input arrays: seeded random values, and .npz files checked against the config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.config import InputSpec
from pipeline.errors import ConfigError
from pipeline.inputs import load_inputs_npz, load_npz, random_inputs, save_npz


def test_random_inputs_are_reproducible_and_in_range() -> None:
    specs = [
        InputSpec(name="x:0", shape=(50, 1, 64)),
        InputSpec(name="len:0", shape=(), dtype="int64"),
        InputSpec(name="mask:0", shape=(4,), dtype="bool"),
    ]
    first, second = random_inputs(specs, seed=3), random_inputs(specs, seed=3)
    assert all(np.array_equal(first[name], second[name]) for name in first)
    assert first["x:0"].dtype == np.float32 and first["x:0"].shape == (50, 1, 64)
    assert -1.0 <= first["x:0"].min() and first["x:0"].max() < 1.0
    assert first["len:0"].dtype == np.int64 and 0 <= first["len:0"] < 10
    assert first["mask:0"].dtype == np.bool_
    assert not np.array_equal(random_inputs(specs, seed=4)["x:0"], first["x:0"])


@pytest.mark.parametrize(
    ("x_shape", "lengths_shape", "steps"),
    [((4, 3, 2), (3,), 4), ((3, 6, 2), (3,), 6), ((5, 5, 2), (5,), 5), ((40, 3, 2), (), 3)],
)
def test_integer_lengths_beside_a_sequence_input_stay_within_its_steps(
    x_shape, lengths_shape, steps
) -> None:
    specs = [
        InputSpec(name="x:0", shape=x_shape),
        InputSpec(name="len:0", shape=lengths_shape, dtype="int32"),
        InputSpec(name="ids:0", shape=(3, 4), dtype="int32"),  # not lengths: [0, 10)
    ]
    drawn = [random_inputs(specs, seed=seed) for seed in range(30)]
    lengths = np.stack([arrays["len:0"] for arrays in drawn])
    assert lengths.min() == 0 and lengths.max() == steps
    assert max(arrays["ids:0"].max() for arrays in drawn) == 9


def test_an_npz_is_read_by_tensor_name_or_node_name(tmp_path: Path) -> None:
    path = save_npz(tmp_path / "in.npz", {"X": np.ones((1, 4)), "output": np.zeros(2)})
    arrays = load_inputs_npz(path, [InputSpec(name="X:0", shape=(1, 4))])
    assert list(arrays) == ["X:0"]
    assert arrays["X:0"].dtype == np.float32


def test_integer_lengths_without_a_declared_dtype_keep_their_dtype(tmp_path: Path) -> None:
    lengths = np.array([4, 0, 7], np.int32)
    path = save_npz(tmp_path / "in.npz", {"len:0": lengths, "x:0": np.ones((7, 3, 2))})

    arrays = load_inputs_npz(path, [InputSpec(name="len:0"), InputSpec(name="x:0")])

    assert arrays["len:0"].dtype == np.int32 and np.array_equal(arrays["len:0"], lengths)
    assert arrays["x:0"].dtype == np.float32


def test_a_declared_dtype_is_what_the_arrays_become(tmp_path: Path) -> None:
    path = save_npz(tmp_path / "in.npz", {"len:0": np.array([4, 0, 7], np.int32)})

    arrays = load_inputs_npz(path, [InputSpec(name="len:0", dtype="int64")])

    assert arrays["len:0"].dtype == np.int64


def test_an_npz_missing_an_input_names_it_and_lists_what_it_holds(tmp_path: Path) -> None:
    path = save_npz(tmp_path / "in.npz", {"y:0": np.ones(2)})
    with pytest.raises(ConfigError, match=r"no array for input 'x:0'.*holds \['y:0'\]"):
        load_inputs_npz(path, [InputSpec(name="x:0")])


def test_an_npz_array_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    path = save_npz(tmp_path / "in.npz", {"x:0": np.ones((2, 3))})
    with pytest.raises(ConfigError, match=r"'x:0' has shape \[2, 3\], the config says \[3, 2\]"):
        load_inputs_npz(path, [InputSpec(name="x:0", shape=(3, 2))])


def test_tensor_names_with_scopes_survive_an_npz_round_trip(tmp_path: Path) -> None:
    arrays = {"rnn/cell/x:0": np.arange(3.0)}
    loaded = load_npz(save_npz(tmp_path / "a.npz", arrays))
    assert list(loaded) == ["rnn/cell/x:0"]
