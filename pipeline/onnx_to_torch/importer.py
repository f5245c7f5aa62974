"""ONNX model -> ``torch.fx.GraphModule`` (onnx2torch with our converters) -> ``.pt2`` program.

The imported module takes the ONNX graph inputs that are not initializers, positionally in
graph order, and returns a tuple with one tensor per ONNX graph output, in graph order.
onnx2torch alone returns whole nodes (every output of an ``LSTM`` even when the graph keeps
only ``Y_h``), so the fx output is rewired to the graph's outputs and dead nodes are dropped.

NOTE: onnx2torch files an omitted output (name ``""``) as a node output, and then resolves
every omitted optional input (also ``""``) to that node. Omitted outputs are therefore given
unique unused names before the import.
"""

from __future__ import annotations

import logging
import operator
import warnings
from pathlib import Path

import onnx
import onnx2torch
import torch
from onnx2torch.onnx_graph import OnnxGraph
from torch import fx

from pipeline.errors import TorchImportError
from pipeline.onnx_to_torch.missing_converters import missing_converters
from pipeline.onnx_to_torch.registry import register_converters
from pipeline.onnx_to_torch.scan import OPSET_IMPORTS
from pipeline.onnx_to_torch.static_inputs import make_inputs_static

logger = logging.getLogger(__name__)


def import_onnx(model: onnx.ModelProto | str | Path) -> fx.GraphModule:
    """Convert ``model`` to a GraphModule returning one tensor per ONNX graph output."""
    register_converters()
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    model = make_inputs_static(_name_omitted_outputs(model))
    opset_imports = OPSET_IMPORTS.set(list(model.opset_import))
    try:
        module = onnx2torch.convert(model)
    except NotImplementedError as error:
        missing = "; ".join(missing_converters(model)) or str(error)
        raise TorchImportError(
            f"onnx2torch cannot import graph {model.graph.name!r}: {missing}"
        ) from None
    finally:
        OPSET_IMPORTS.reset(opset_imports)
    _return_graph_outputs(module, OnnxGraph(model.graph))
    # An imported model is for inference: its outputs need no autograd graph (nor .detach()).
    module.requires_grad_(False)
    logger.info("imported ONNX graph %r into torch.fx", model.graph.name)
    return module


def export_program(
    module: torch.nn.Module, example_inputs: tuple[torch.Tensor, ...], path: str | Path
) -> None:
    """Capture ``module`` with ``torch.export`` on ``example_inputs`` and save it to ``path``."""
    with warnings.catch_warnings():
        # NOTE: nn.LSTM reassigns its flat weight list while being traced; harmless.
        warnings.filterwarnings("ignore", message=r"The tensor attributes .*_flat_weights")
        program = torch.export.export(module, example_inputs)
    torch.export.save(program, str(path))
    logger.info("saved the exported program to %s", path)


def _name_omitted_outputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` where every omitted node output has a unique, unused name."""
    named = onnx.ModelProto()
    named.CopyFrom(model)
    for index, node in enumerate(named.graph.node):
        for position, name in enumerate(node.output):
            if not name:
                node.output[position] = f"{node.name or node.op_type}:{index}:omitted_{position}"
    return named


def _return_graph_outputs(module: fx.GraphModule, graph: OnnxGraph) -> None:
    """Make ``module`` return exactly the ONNX graph outputs, in order."""
    calls = {node.target: node for node in module.graph.nodes if node.op == "call_module"}
    output = next(node for node in module.graph.nodes if node.op == "output")
    values = []
    with module.graph.inserting_before(output):
        for name in graph.output_values:
            producer, index = graph.value_as_node_output(name)
            value = calls[producer.unique_name]
            if len(producer.output_values) > 1:
                value = module.graph.call_function(operator.getitem, (value, index))
            values.append(value)
    output.args = (tuple(values),)
    module.graph.eliminate_dead_code()
    module.delete_all_unused_submodules()
    module.recompile()
