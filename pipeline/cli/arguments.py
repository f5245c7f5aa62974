"""The argument parser, and the config a ``convert`` command line describes."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.config import (
    DEFAULT_OPSET,
    DEFAULT_SIGNATURE,
    DEFAULT_TAGS,
    ModelConfig,
    config_from_model_path,
    is_config_path,
    load_config,
)
from pipeline.config_options import parse_input_specs, parse_outputs, parse_pin, parse_tags
from pipeline.port.weights import DIRECT_KINDS, PortOptions
from pipeline.sources.formats import FORMATS

DEFAULT_INDEX = Path("out") / "index.md"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Convert a TensorFlow recurrent model to ONNX and PyTorch, and prove that "
        "all three agree; or convert an ONNX model to PyTorch, and prove that they agree.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser(
        "convert",
        help="convert one model",
        description="Convert one model. Options override the values of a config.",
    )
    convert.add_argument(
        "model",
        type=Path,
        metavar="MODEL",
        help="a .yaml/.yml config, a frozen graph (.pb/.pbtxt), a SavedModel folder, a TF1 "
        "checkpoint (.meta), a Keras file (.keras/.h5/.hdf5) or an ONNX model (.onnx)",
    )
    convert.add_argument(
        "--format",
        choices=FORMATS,
        help="the source's format, when its path does not say (default: from the path)",
    )
    convert.add_argument(
        "--tags",
        metavar="TAG,...",
        help=f"SavedModel only: the MetaGraph's tags (default {','.join(DEFAULT_TAGS)})",
    )
    convert.add_argument(
        "--signature",
        metavar="KEY",
        help=f"SavedModel only: the signature to convert (default {DEFAULT_SIGNATURE})",
    )
    convert.add_argument(
        "--unsafe-load",
        action="store_true",
        help="Keras only: load with safe_mode off, so Lambda layers' code runs; only for "
        "files you trust",
    )
    convert.add_argument(
        "--inputs",
        action="append",
        metavar="NAME:0[d0,d1,...],...",
        help="model inputs and their shapes, comma-separated (tf2onnx's convention), or the "
        "option repeated; default for a SavedModel, checkpoint, Keras or ONNX model: the ones "
        "it declares",
    )
    convert.add_argument(
        "--outputs",
        action="append",
        metavar="NAME:0,...",
        help="model outputs, comma-separated or the option repeated; default for a "
        "SavedModel, checkpoint, Keras or ONNX model: the ones it declares",
    )
    convert.add_argument(
        "--opset", type=int, help=f"ONNX opset, 14 or newer (default {DEFAULT_OPSET})"
    )
    convert.add_argument(
        "--output-dir", type=Path, metavar="DIR", help="artifact folder (default out/<name>)"
    )
    convert.add_argument("--atol", type=float, help="absolute tolerance of every comparison")
    convert.add_argument("--rtol", type=float, help="relative tolerance of every comparison")
    convert.add_argument("--seed", type=int, help="seed of the random inputs")
    convert.add_argument(
        "--inputs-npz", type=Path, metavar="FILE", help="input values keyed by tensor name"
    )
    convert.add_argument(
        "--expected-npz",
        type=Path,
        metavar="FILE",
        help="ONNX models only: expected outputs keyed by output name, compared as a party",
    )
    convert.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="NAME:0=VALUE",
        help="pin an input to a constant, folded before export (repeatable): keep_prob:0=1.0",
    )
    convert.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="time limit of each stage"
    )
    _add_logging_options(convert, quiet_help="log warnings only")
    _add_batch_parser(commands)
    _add_weights_parser(commands)
    _add_diagnose_parser(commands)
    return parser


def _add_weights_parser(commands: Any) -> None:
    weights = commands.add_parser(
        "weights",
        help="port recurrent weights straight into nn.LSTM/nn.GRU/nn.RNN state_dicts",
        description="Read the recurrent layers of SOURCE and write one torch state_dict per "
        "module, with the exact constructor call that loads it. Layers no torch.nn module "
        "computes exactly (peepholes, cell_clip, GRU reset before the matmul) are refused.",
    )
    weights.add_argument(
        "source",
        type=Path,
        metavar="SOURCE",
        help="a frozen graph (.pb/.pbtxt), a Keras file (.keras/.h5), an .npz (a fused "
        "'kernel' and 'bias', or named TF1 variables) or a TF1 checkpoint prefix or folder",
    )
    weights.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="where the .pt files go (default out/weights/<source name>)",
    )
    _add_kernel_options(weights)
    _add_logging_options(weights, quiet_help="log warnings only")


def _add_diagnose_parser(commands: Any) -> None:
    diagnose = commands.add_parser(
        "diagnose",
        help="explain why a hand port of a TF recurrent layer into nn.LSTM/nn.GRU/nn.RNN "
        "disagrees with TF",
        description="Run TF's layers on INPUT, run your module as you call it, and find, per "
        "layer and direction, the smallest set of known mistakes whose corrections make them "
        "agree.",
    )
    diagnose.add_argument(
        "source",
        type=Path,
        metavar="SOURCE",
        help="any source `weights` reads that holds one module: a frozen graph, an .npz (a "
        "fused 'kernel' and 'bias', or named TF1 variables), a TF1 checkpoint, a .keras/.h5 file",
    )
    diagnose.add_argument(
        "--state-dict",
        type=Path,
        required=True,
        metavar="FILE",
        help="your state_dict (.pt), or a torch.save'd nn.LSTM/nn.GRU/nn.RNN (read with "
        "weights_only=True; a module brings its own batch_first, num_layers, bidirectional)",
    )
    diagnose.add_argument(
        "--input",
        type=Path,
        required=True,
        metavar="FILE",
        help="an .npz with the one array (or 'x') you fed to both frameworks",
    )
    diagnose.add_argument(
        "--batch-first",
        action="store_true",
        help="you built the module with batch_first=True (default: False; a saved module says "
        "its own)",
    )
    diagnose.add_argument(
        "--input-name", metavar="NAME:0", help="the graph's input placeholder, if not the only one"
    )
    diagnose.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="where the corrected state_dict goes (default: beside yours, *.corrected.pt)",
    )
    _add_kernel_options(diagnose)
    _add_logging_options(diagnose, quiet_help="log warnings only")


def _add_kernel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--layer-kind",
        choices=DIRECT_KINDS,
        default="block_lstm",
        help="what a kernel given directly in an .npz is (default block_lstm: "
        "LSTMBlockFusedCell / BlockLSTM V1)",
    )
    parser.add_argument(
        "--forget-bias",
        type=float,
        metavar="VALUE",
        help="forget_bias of a kernel given directly or of checkpoint/npz variables "
        "(default 1.0; 0 for block_lstm2); fused ops in a graph carry their own",
    )
    parser.add_argument(
        "--cell-clip",
        type=float,
        default=-1.0,
        metavar="VALUE",
        help="cell_clip of a kernel given directly (default -1: off)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, metavar="SECONDS", help="time limit of each stage"
    )


def port_options_from_args(args: argparse.Namespace) -> PortOptions:
    return PortOptions(
        layer_kind=args.layer_kind,
        forget_bias=args.forget_bias,
        cell_clip=args.cell_clip,
        timeout=args.timeout,
    )


def _add_batch_parser(commands: Any) -> None:
    batch = commands.add_parser(
        "batch",
        help="convert every model of the configs given or found in folders",
        description="Convert every model of the configs given, or found in the folders given "
        "(a config may describe several models), several at a time. Models converted before "
        "whose source, config and tool versions are unchanged are skipped.",
    )
    batch.add_argument(
        "paths", type=Path, nargs="+", metavar="PATH", help="a .yaml/.yml config or a folder"
    )
    batch.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=core_count(),
        metavar="N",
        help=f"models converted at once, each with its own workers (default {core_count()}, "
        "the cores)",
    )
    batch.add_argument("--force", action="store_true", help="convert even up-to-date models")
    batch.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="time limit of each stage, every model"
    )
    batch.add_argument(
        "--index",
        type=Path,
        default=DEFAULT_INDEX,
        metavar="FILE",
        help=f"the index report linking every model's report (default {DEFAULT_INDEX})",
    )
    _add_logging_options(batch, quiet_help="log errors only", verbose_help="log each stage")


def _add_logging_options(
    parser: argparse.ArgumentParser,
    *,
    quiet_help: str,
    verbose_help: str = "log details, show tracebacks",
) -> None:
    parser.add_argument(
        "--log-file", type=Path, metavar="FILE", help="also append the full DEBUG log to FILE"
    )
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="count", default=0, help=verbose_help)
    loudness.add_argument("-q", "--quiet", action="store_true", help=quiet_help)


def core_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def config_from_args(args: argparse.Namespace) -> ModelConfig:
    overrides: dict[str, Any] = {}
    if args.inputs is not None:
        overrides["inputs"] = parse_input_specs(",".join(args.inputs))
    if args.outputs is not None:
        overrides["outputs"] = parse_outputs(",".join(args.outputs))
    for key in ("format", "signature", "opset", "atol", "rtol", "seed", "timeout"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.tags is not None:
        overrides["tags"] = parse_tags(args.tags)
    if args.unsafe_load:
        overrides["safe_mode"] = False
    for key in ("output_dir", "inputs_npz", "expected_npz"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key).resolve()
    pins = dict(parse_pin(text) for text in args.pin)
    if is_config_path(args.model):
        return load_config(args.model, overrides, pins)
    return config_from_model_path(args.model.resolve(), overrides, pins)
