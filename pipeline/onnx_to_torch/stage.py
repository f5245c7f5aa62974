"""The PyTorch stage: import the ONNX model, run it, export it with ``torch.export``, rerun it.

Runs inside the torch worker process; arguments and results are paths and plain data, and
every failure is a ``pipeline.errors`` exception carrying one string, so it pickles.

- ``inputs_npz``: arrays keyed by ONNX graph input name; fed positionally in graph input
  order, initializers skipped.
- ``outputs_npz`` / ``program_outputs_npz``: the GraphModule's and the reloaded ``.pt2``
  program's outputs, keyed by ONNX graph output name.
- ``state_dict_path``: ``module.state_dict()`` saved with ``torch.save``.

Timings: ``torch_import`` (onnx2torch), ``torch_run`` (one eager run), ``torch_export``
(export, save, load and one run of the program).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version

import numpy as np
import onnx
import torch
from onnx2torch.onnx_graph import OnnxGraph
from torch import fx

from pipeline.errors import ConversionError, TorchImportError
from pipeline.onnx_to_torch.exact_module import ExactRecurrence
from pipeline.onnx_to_torch.folding import fold_for_shapes
from pipeline.onnx_to_torch.fused_module import FusedRecurrence
from pipeline.onnx_to_torch.importer import export_program, import_onnx

logger = logging.getLogger(__name__)


def import_and_run(
    onnx_path: str,
    inputs_npz: str,
    outputs_npz: str,
    program_outputs_npz: str,
    pt2_path: str,
    state_dict_path: str,
) -> dict:
    """Import ``onnx_path`` into torch, run it and its exported program; see the module doc."""
    model = onnx.load(onnx_path)
    feeds = _read_inputs(model.graph, inputs_npz)
    output_names = [value.name for value in model.graph.output]
    timings: dict[str, float] = {}

    start = time.perf_counter()
    with _failures_as("importing the model with onnx2torch"):
        initializers = {tensor.name for tensor in model.graph.initializer}
        names = [value.name for value in model.graph.input if value.name not in initializers]
        module = import_onnx(fold_for_shapes(model, dict(zip(names, feeds, strict=True))))
    timings["torch_import"] = time.perf_counter() - start

    start = time.perf_counter()
    with torch.no_grad(), _failures_as("running the imported module"):
        outputs = module(*feeds)
    timings["torch_run"] = time.perf_counter() - start
    _write_outputs(outputs_npz, output_names, outputs)

    start = time.perf_counter()
    with _failures_as("capturing, saving and reloading the program with torch.export"):
        export_program(module, feeds, pt2_path)
        program = torch.export.load(pt2_path).module()
    with torch.no_grad(), _failures_as("running the exported program"):
        program_outputs = program(*feeds)
    timings["torch_export"] = time.perf_counter() - start
    _write_outputs(program_outputs_npz, output_names, program_outputs)

    torch.save(module.state_dict(), state_dict_path)
    logger.info("torch stage done for %s: %s", onnx_path, _rounded(timings))
    return {
        "timings": timings,
        "versions": {"torch": torch.__version__, "onnx2torch": version("onnx2torch")},
        "modules": _describe_modules(module, model.graph),
    }


def _read_inputs(graph: onnx.GraphProto, inputs_npz: str) -> tuple[torch.Tensor, ...]:
    """The arrays of ``inputs_npz`` for the graph inputs that are not initializers, in order."""
    initializers = {tensor.name for tensor in graph.initializer}
    names = [value.name for value in graph.input if value.name not in initializers]
    with np.load(inputs_npz) as data:
        missing = [name for name in names if name not in data.files]
        if missing:
            raise ConversionError(
                f"{inputs_npz} lacks the graph inputs {missing}; it holds {data.files}. "
                "Write one array per ONNX graph input, keyed by its name."
            )
        return tuple(torch.from_numpy(data[name]) for name in names)


@contextmanager
def _failures_as(what: str) -> Iterator[None]:
    """Re-raise any failure that is not already ours as a ``TorchImportError``."""
    try:
        yield
    except ConversionError:
        raise
    except Exception as error:
        raise TorchImportError(f"{what} failed: {type(error).__name__}: {error}") from None


def _write_outputs(path: str, names: list[str], outputs: tuple[torch.Tensor, ...]) -> None:
    if len(outputs) != len(names):
        raise TorchImportError(
            f"the torch module returned {len(outputs)} outputs, the ONNX graph declares "
            f"{len(names)} ({names})"
        )
    np.savez(
        path, **{name: t.detach().cpu().numpy() for name, t in zip(names, outputs, strict=True)}
    )


def _describe_modules(module: fx.GraphModule, graph: onnx.GraphProto) -> list[dict]:
    """One record per ONNX node that still has a module: which module computes it."""
    submodules = dict(module.named_modules())
    records = []
    for unique_name, node in OnnxGraph(graph).nodes.items():
        submodule = submodules.get(unique_name)
        if submodule is None:
            continue
        record: dict[str, object] = {"node": node.name or unique_name, "op": node.operation_type}
        if isinstance(submodule, FusedRecurrence | ExactRecurrence):
            record.update(submodule.describe())
            record["why_not_torch_module"] = list(submodule.blockers)
        else:
            record["module"] = f"{type(submodule).__module__}.{type(submodule).__qualname__}"
        records.append(record)
    return records


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 3) for key, value in timings.items()}
