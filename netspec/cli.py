"""The `netspec` command: check, summary and build, with errors rendered for people, never tracebacks."""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from netspec.errors import NetspecError, UsageError, printable
from netspec.ops.base import format_shape

# Exit statuses (README "Exit status"): argparse also exits with 2 for unknown options.
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141  # 128 + SIGINT, 128 + SIGPIPE, as a shell reports them
STDIN = "-"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    as_json = getattr(args, "format", None) == "json" and args.command == "check"
    try:
        return args.run(args)
    except NetspecError as error:
        status = EXIT_USAGE if isinstance(error, UsageError) else EXIT_ERROR
        if as_json:
            print(json.dumps(_diagnostics_json(args, error.diagnostics, error.more), indent=2))
            return status
        print(error.render(), file=sys.stderr)
        count = len(error.diagnostics) + error.more
        if error.more:
            print(f"{count} errors (the first {len(error.diagnostics)} are shown)", file=sys.stderr)
        elif count > 1:
            print(f"{count} errors", file=sys.stderr)
        return status
    except BrokenPipeError:  # `netspec summary x.net | head`: the reader has what it wanted
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as error:  # an internal bug: say so plainly; details only on request
        if os.environ.get("NETSPEC_DEBUG"):
            raise
        print(
            f"netspec: internal error: {type(error).__name__}: {error}\n"
            "This is a bug in netspec, not in your spec. Run again with NETSPEC_DEBUG=1 for details.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netspec", description="Compile network specs into checked, costed PyTorch modules.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def conversion_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--dense", action="store_true",
                         help="drop a global average pool before the classifier: output a class map at the feature stride")
        sub.add_argument("--keep-adaptive", action="store_true",
                         help="keep adaptive pools that are not the identity at the reference input instead of refusing them")
        sub.add_argument("--scales", default="1,1.5,2", metavar="S,S,...",
                         help="input sizes to cost the dense pass at, as multiples of the reference input (default 1,1.5,2)")

    def common(sub: argparse.ArgumentParser, several: bool = False) -> None:
        if several:
            sub.add_argument("spec", nargs="+", help="a .net spec file; several files or folders build each and an index")
        else:
            sub.add_argument("spec", help="a .net spec file, or - to read the spec from standard input")
        sub.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a network parameter")
        sub.add_argument("--allow-outside-imports", action="store_true", help="allow imports from outside the spec's folder")

    def memory_scale(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--batch", type=_positive, default=1, metavar="N", help="batch size for the bytes (default 1)")
        sub.add_argument("--dtype", choices=("float32", "float16", "bfloat16", "float64"), default="float32",
                         help="element type for the bytes (default float32)")

    def sizing(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--input", metavar="CxHxW", help="analyse at another per-sample input shape than the spec's")
        sub.add_argument("--strict", action="store_true",
                         help="make it an error when floor division leaves border pixels outside every window")

    check = commands.add_parser("check", help="parse and check a spec; print every error")
    common(check)
    sizing(check)
    check.add_argument(
        "--format", choices=("text", "json"), default="text",
        help="json: the diagnostics as one JSON object on standard output, for editors and CI",
    )
    check.set_defaults(run=_check)

    summary = commands.add_parser("summary", help="per-layer shapes, parameters, MACs and memory")
    common(summary)
    sizing(summary)
    summary.add_argument("--format", choices=("table", "json", "csv", "markdown"), default="table")
    memory_scale(summary)
    summary.add_argument("--depth", type=_positive, metavar="N", help="one row per block N levels deep, costs summed")
    summary.add_argument("--explain", action="store_true",
                         help="what torchinfo, fvcore, ptflops, thop would report, and why they differ")
    summary.set_defaults(run=_summary)

    ops = commands.add_parser("ops", help="list every op with its attributes")
    ops.set_defaults(run=_ops)

    build = commands.add_parser("build", help="write the PyTorch module and the HTML report")
    common(build, several=True)
    build.add_argument("-o", "--output", metavar="DIR", help="write both files here (default: build/ and reports/)")
    build.add_argument("--convolutionize", action="store_true",
                       help="build the fully convolutional variant (NAME_fcn: its spec, module and report)")
    conversion_options(build)
    memory_scale(build)
    build.add_argument("--emit", default="py", metavar="KINDS",
                       help="artefacts beside the module, comma-separated: py, onnx, torchscript (default py)")
    build.add_argument("--weights", metavar="FILE",
                       help="a checkpoint (torch.save) to put in the onnx and torchscript artefacts (default: random)")
    build.set_defaults(run=_build)

    convolutionize = commands.add_parser(
        "convolutionize", help="write the fully convolutional form of a classifier as a spec",
        description="Turn a classifier into a fully convolutional network: linear layers become convolutions "
        "(weights carry over), and the result slides over inputs larger than the reference.",
    )
    common(convolutionize)
    convolutionize.add_argument("-o", "--output", metavar="OUT.net", help="write the spec here (default: print it)")
    conversion_options(convolutionize)
    convolutionize.set_defaults(run=_convolutionize)

    randwire = commands.add_parser(
        "randwire", help="write the spec of a randomly wired network (Xie et al., 2019)",
        description="Sample a randomly wired network (Xie, Kirillov, Girshick & He, 2019) and write it as a spec.",
    )
    randwire.add_argument("--graph", choices=("ws", "er", "ba"), required=True,
                          help="random graph model: Watts-Strogatz, Erdős-Rényi or Barabási-Albert")
    randwire.add_argument("--nodes", type=int, default=32, metavar="N", help="nodes per stage (default 32)")
    randwire.add_argument("--k", type=int, default=4, metavar="K", help="WS: ring neighbours per node (default 4)")
    randwire.add_argument("--p", type=float, metavar="P", help="WS: rewiring probability (0.75); ER: edge probability (0.2)")
    randwire.add_argument("--m", type=int, default=5, metavar="M", help="BA: edges per new node (default 5)")
    randwire.add_argument("--seed", type=int, required=True, metavar="S", help="the same seed gives the same spec")
    randwire.add_argument("--regime", choices=("small", "regular"), default="small", help="the paper's Table 1 column")
    randwire.add_argument("--channels", type=int, default=78, metavar="C", help="C of Table 1 (default 78)")
    randwire.add_argument("--classes", type=int, default=1000, help="classifier outputs (default 1000)")
    randwire.add_argument("--name", help="network name (default randwire_GRAPH_seedS)")
    randwire.add_argument("-o", "--output", required=True, metavar="FILE.net", help="where to write the spec")
    randwire.set_defaults(run=_randwire)

    importer = commands.add_parser(
        "import-torch", help="write the spec of a torch module (traced with torch.fx)",
        description="Trace a torch.nn.Module with torch.fx and write it as a spec whose state_dict keys are the module's.",
    )
    importer.add_argument("factory", metavar="MODULE:FACTORY", help="e.g. torchvision.models:resnet50 (called with no arguments)")
    importer.add_argument("--input", default="3x224x224", metavar="CxHxW", help="per-sample input shape (default 3x224x224)")
    importer.add_argument("-o", "--output", required=True, metavar="NAME.net", help="where to write the spec; NAME names the network")
    importer.set_defaults(run=_import_torch)
    return parser


# ---- commands


def _analyze(args):
    from dataclasses import replace

    from netspec.analysis import Analysis
    from netspec.errors import SpecError
    from netspec.ir.elaborate import resizable

    overrides = _overrides(args.set)
    args.spec_text = _spec_text(args.spec)
    if args.spec == STDIN:
        at = resizable(args.spec_text, overrides, args.allow_outside_imports, shown_as="<stdin>")
    else:
        at = resizable(Path(args.spec), overrides, args.allow_outside_imports)
    graph = at(_input_shape(getattr(args, "input", None)))

    def resize(shape):
        try:
            return at(shape)
        except NetspecError:
            return None

    analysis = Analysis(graph, resize=resize)
    borders = [d for d in analysis.warnings if d.code == "border"]
    if getattr(args, "strict", False) and borders:
        raise SpecError.collected([replace(d, severity="error") for d in borders])
    if getattr(args, "format", None) != "json" or args.command != "check":
        for warning in analysis.warnings:
            print(warning.render(), file=sys.stderr)
    return analysis


def _spec_text(spec: str) -> str:
    """The spec's text (from standard input for `-`), or a usage error when it cannot be read."""
    from netspec.syntax.text import read_spec_file, read_spec_stream

    if spec == STDIN:
        return read_spec_stream(sys.stdin.buffer, "<stdin>")
    path = Path(spec)
    try:
        if path.is_dir():
            raise UsageError(f"cannot read '{spec}': it is a folder")
        return read_spec_file(path, spec)
    except FileNotFoundError:
        raise UsageError(f"cannot read '{spec}': no such file") from None
    except OSError as error:
        raise UsageError(f"cannot read '{spec}': {error.strerror or error}") from None


def _diagnostics_json(args, diagnostics, more: int = 0) -> dict:
    errors = sum(d.severity == "error" for d in diagnostics) + more
    return {
        "file": args.spec if args.spec != STDIN else "<stdin>",
        "ok": errors == 0,
        "errors": errors,
        "omitted": more,
        "diagnostics": [d.as_dict() for d in diagnostics],
    }


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so that the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _check(args) -> int:
    analysis = _analyze(args)
    if args.format == "json":
        print(json.dumps(_diagnostics_json(args, analysis.warnings), indent=2))
        return EXIT_OK
    outputs = ", ".join(f"{name} {format_shape(shape)}" for name, shape in analysis.outputs.items())
    print(f"{args.spec}: ok: {analysis.name}, {len(analysis.layers)} layers, {analysis.totals.params:,} parameters, output {outputs}")
    return EXIT_OK


def _summary(args) -> int:
    from netspec import summary

    analysis = _analyze(args)
    if args.format == "json":
        print(json.dumps(analysis.as_dict(args.batch, args.dtype), indent=2, allow_nan=False))
    elif args.format == "csv":
        print(summary.csv_text(analysis, args.depth, args.batch, args.dtype), end="")
    elif args.format == "markdown":
        print(summary.markdown(analysis, args.depth, args.batch, args.dtype), end="")
    else:
        print(summary.table(analysis, args.depth, args.batch, args.dtype, args.explain))
    return EXIT_OK


def _build(args) -> int:
    if len(args.spec) > 1 or Path(args.spec[0]).is_dir():
        return _build_many(args)
    args.spec = args.spec[0]
    started = time.perf_counter()
    from netspec.compiler.outputs import check_output_folder, write_together

    module_dir = Path(args.output) if args.output else Path("build")
    report_dir = Path(args.output) if args.output else Path("reports")
    check_output_folder(module_dir)
    check_output_folder(report_dir)
    kinds = _emit_kinds(args.emit)
    if args.weights and not {"onnx", "torchscript"} & set(kinds):
        raise UsageError("--weights goes into --emit onnx or torchscript artefacts; the Python module holds no weights")
    converted = None
    if args.convolutionize:
        converted = _convert(args)
        analysis = converted.analysis
        spec_path = module_dir / f"{analysis.name}.net"
        source_text, source_name = converted.text, str(spec_path)
    else:
        analysis = _analyze(args)
        source_text, source_name = args.spec_text, args.spec if args.spec != STDIN else "<stdin>"
    from netspec.analysis.memory import MemoryScale
    from netspec.compiler.codegen import generate
    from netspec.report import write_report_text

    generated = generate(analysis.graph)
    source_code = generated.source
    module_file = module_dir / f"{analysis.name}.py"
    files: dict[Path, str | bytes] = {module_file: source_code}
    artefacts = [("module", str(module_file), "PyTorch source; imports only torch")]
    if kinds != ["py"]:
        exported, described = _exports(analysis, generated, kinds, module_dir, args.weights)
        files.update(exported)
        artefacts += described
    report_html, notes = write_report_text(
        analysis, source_text, source_name, convolutionized=converted, artefacts=artefacts,
        scale=MemoryScale(args.batch, args.dtype),
    )
    report_file = report_dir / f"{analysis.name}.html"
    files[report_file] = report_html
    if converted is not None:
        files[spec_path] = converted.text
    # Everything is produced before anything is written, then written together or not at all.
    write_together(files)
    module_path, report_path = module_file, report_file
    totals = analysis.totals
    outputs = ", ".join(f"{name} {format_shape(shape)}" for name, shape in analysis.outputs.items())
    print(f"{analysis.name}: input {format_shape(analysis.input_shape)} → {outputs}")
    print(f"  parameters  {totals.params:>18,}  ({_human(totals.params)})")
    print(f"  MACs        {totals.macs:>18,}  ({_human(totals.macs)} multiply-accumulates per sample; FLOPs ≈ 2 × MACs)")
    if converted is not None:
        print(f"  spec        {spec_path}")
    print(f"  module      {module_path}")
    for kind, path, _ in artefacts[1:]:
        print(f"  {kind:<11} {path}")
    print(f"  report      {report_path}")
    if converted is not None:
        print(conversion_summary(converted, indent="  "))
    for note in notes:
        print(f"  note: {note}")
    print(f"  done in {time.perf_counter() - started:.2f} s")
    return EXIT_OK


EMIT_KINDS = ("py", "onnx", "torchscript")


def _emit_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in EMIT_KINDS]
    if unknown or not kinds:
        raise UsageError(f"--emit takes {', '.join(EMIT_KINDS)} (comma-separated), got '{text}'")
    if "py" not in kinds:
        kinds.insert(0, "py")  # the module is always written: the other artefacts are made from it
    return list(dict.fromkeys(kinds))


def _exports(analysis, generated, kinds: list[str], folder: Path, weights: str | None):
    """The ONNX and TorchScript artefacts, made from the same module the .py file defines."""
    from netspec.compiler.build import build_generated
    from netspec.compiler.export import ExportError, export_onnx, export_torchscript

    module = build_generated(generated, analysis.name)
    if weights:
        from netspec.compiler.weights import WeightsError, load_weights

        try:
            load_weights(module, weights)
        except WeightsError as error:
            raise UsageError(f"--weights: {error}") from None
    filled = f"weights from {weights}" if weights else "random weights (pass --weights FILE for trained ones)"
    files, described = {}, []
    if "onnx" in kinds:
        path = folder / f"{analysis.name}.onnx"
        try:
            files[path], exporter = export_onnx(module, analysis.input_shape, list(analysis.outputs))
        except ExportError as error:
            raise UsageError(f"--emit onnx: {error}") from None
        described.append(("onnx", str(path), f"eval mode, dynamic batch axis, input 'input'; {exporter}; {filled}"))
    if "torchscript" in kinds:
        path = folder / f"{analysis.name}.torchscript.pt"
        files[path], how = export_torchscript(module, analysis.input_shape)
        described.append(("torchscript", str(path), f"torch.jit.load; {how}; {filled}"))
    return files, described


def _build_many(args) -> int:
    """Build each spec (files and folders), continue past failures, write the index; exit 1 if any failed."""
    from tqdm import tqdm

    from netspec.analysis.memory import MemoryScale
    from netspec.compiler.many import build_many, expand_specs, tqdm_progress
    from netspec.compiler.outputs import check_output_folder

    if args.convolutionize:
        raise UsageError("--convolutionize builds one spec at a time; give a single .net file")
    if args.emit != "py" or args.weights:
        raise UsageError("--emit and --weights build one spec at a time; give a single .net file")
    module_dir = Path(args.output) if args.output else Path("build")
    report_dir = Path(args.output) if args.output else Path("reports")
    check_output_folder(module_dir)
    check_output_folder(report_dir)
    specs = expand_specs(args.spec)
    outcome = build_many(
        specs, _overrides(args.set), args.allow_outside_imports, module_dir, report_dir,
        say=lambda text: tqdm.write(text, file=sys.stdout),
        warn=lambda text: tqdm.write(text, file=sys.stderr),
        progress=tqdm_progress,
        scale=MemoryScale(args.batch, args.dtype),
    )
    print(f"index       {outcome.index}  ({len(outcome.built)} of {len(specs)} networks)")
    if outcome.failed:
        for failure in outcome.failed:
            print(f"\n{failure.spec}: failed:\n{failure.message}", file=sys.stderr)
        print(f"\n{len(outcome.failed)} of {len(specs)} specs failed: "
              + ", ".join(f.spec for f in outcome.failed), file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _randwire(args) -> int:
    from netspec.generators.randwire import ConfigError, RandWireConfig, randwire_spec

    if args.name is not None and not re.fullmatch(r"[A-Za-z_]\w*", args.name):
        raise UsageError(f"--name must be an identifier (letters, digits, _), got '{args.name}'")
    config = RandWireConfig(
        graph=args.graph, nodes=args.nodes, k=args.k, p=args.p, m=args.m, seed=args.seed,
        regime=args.regime, channels=args.channels, classes=args.classes, name=args.name,
    )
    try:
        text = randwire_spec(config)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    from netspec.compiler.outputs import write_together

    (path,) = write_together({Path(args.output): text})
    print(f"{path}: {config.network_name}, {config.regime} regime, seed {config.seed}")
    return EXIT_OK


def _import_torch(args) -> int:
    import importlib

    module_name, sep, factory_name = args.factory.partition(":")
    if not sep or not module_name or not re.fullmatch(r"[A-Za-z_][\w.]*", factory_name):
        raise UsageError(f"give the model as MODULE:FACTORY (for example torchvision.models:resnet50), got '{args.factory}'")
    if not re.fullmatch(r"[0-9]+(x[0-9]+)*", args.input):
        raise UsageError(f"--input takes a per-sample shape such as 3x224x224, got '{args.input}'")
    sys.path.insert(0, os.getcwd())  # as `python -m` does: modules next to the user are importable
    try:
        factory = importlib.import_module(module_name)
        for part in factory_name.split("."):
            factory = getattr(factory, part)
    except (ImportError, AttributeError) as error:
        raise UsageError(f"cannot load '{args.factory}': {error}") from None
    finally:
        sys.path.pop(0)
    import torch.nn as nn

    from netspec.compiler.import_torch import import_module
    from netspec.compiler.outputs import write_together

    try:
        model = factory()
    except Exception as error:  # the user's code: say what failed, not a netspec traceback
        raise UsageError(f"calling {args.factory}() failed: {type(error).__name__}: {error}") from None
    if not isinstance(model, nn.Module):
        raise UsageError(f"'{args.factory}()' returned {type(model).__name__}, not a torch.nn.Module")
    output = Path(args.output)
    name = output.stem if re.fullmatch(r"[A-Za-z_]\w*", output.stem) else re.sub(r"\W", "_", factory_name.split(".")[-1])
    shape = tuple(int(v) for v in args.input.split("x"))
    text, notes = import_module(model, name, shape, args.factory)
    from netspec.analysis import Analysis
    from netspec.ir.elaborate import elaborate

    analysis = Analysis(elaborate(text))  # the written spec must check; a failure here is a bug in the importer
    (path,) = write_together({output: text})
    original = sum(p.numel() for p in model.parameters())
    print(f"{path}: {name}, {analysis.totals.params:,} parameters (the module has {original:,}), {analysis.totals.macs:,} MACs")
    for note in notes:
        print(f"  note: {note}")
    return EXIT_OK


def _convert(args):
    from netspec.compiler.convolutionize_analysis import convolutionize_spec

    path = Path(args.spec)
    if not path.is_file():
        reason = "it is a directory" if path.is_dir() else "no such file"
        raise UsageError(f"cannot read '{args.spec}': {reason}")
    try:
        scales = tuple(float(s) for s in args.scales.split(","))
    except ValueError:
        raise UsageError(f"--scales takes numbers separated by commas, such as 1,1.5,2; got '{args.scales}'") from None
    if not scales or any(not 1 <= s <= 64 for s in scales):
        raise UsageError(f"--scales: each scale must be between 1 and 64 (multiples of the reference input); got '{args.scales}'")
    return convolutionize_spec(path, _overrides(args.set), dense=args.dense, keep_adaptive=args.keep_adaptive,
                               scales=scales, allow_outside=args.allow_outside_imports, shown_as=args.spec)


def _convolutionize(args) -> int:
    from netspec.compiler.outputs import write_together

    if args.output:
        check_output = Path(args.output)
        if check_output.is_dir():
            raise UsageError(f"cannot write '{args.output}': it is a folder; give a file name such as OUT.net")
    converted = _convert(args)
    if not args.output:
        for change in converted.plan.changes:
            if change.after.startswith("removed") and "pool" in change.before:
                print(f"note: {change.describe()}", file=sys.stderr)
        sys.stdout.write(converted.text)
        return EXIT_OK
    (written,) = write_together({Path(args.output): converted.text})
    print(f"{converted.plan.original.name} → {converted.name}: written to {written}")
    print(conversion_summary(converted, indent="  "))
    return EXIT_OK


def conversion_summary(converted, indent: str = "") -> str:
    """What changed, the output stride, the cells' receptive field, and dense vs sliding-window cost."""
    lines = ["changed layers:"]
    lines += [f"  {change.describe()}" for change in converted.plan.changes]
    field = converted.field
    start = ", ".join(str(s) for s in field.start)
    lines.append(
        f"output stride {'x'.join(map(str, converted.stride))} px; each output cell sees "
        f"{'x'.join(map(str, field.size))} px of the input, cell (0, 0) starting at ({start})"
    )
    rows = [("input", "dense output", "dense MACs", "windows", "MACs on every window", "ratio")]
    for run in converted.runs:
        rows.append((format_shape(run.input_shape), format_shape(run.output_shape), _human(run.dense_macs),
                     str(run.windows), _human(run.windows_macs), f"{run.ratio:.2f}x"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])] + [c.rjust(w) for c, w in zip(row[2:], widths[2:])]
        lines.append("  ".join(cells))
    lines.append("windows = the reference-size windows at the output stride (the output cells, unless --dense): the original runs once "
                 "on each; MACs = multiply-accumulates")
    return "\n".join(indent + line for line in lines)


def _ops(args) -> int:
    from netspec.ops import all_ops
    from netspec.ops.base import REQUIRED

    for name, op in all_ops().items():
        parts = []
        for attr in op.attrs:
            if attr.positional:
                parts.append(attr.name if attr.default is REQUIRED else f"[{attr.name}]")
            else:
                default = "" if attr.default is REQUIRED else f"={_default(attr.default)}"
                parts.append(f"{attr.name}{default}")
        print(f"{name} {' '.join(parts)}".rstrip())
        print(f"    {op.summary}")
    return EXIT_OK


def _default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "auto"
    return str(value)


# ---- helpers


def summary_table(analysis) -> str:
    """The default `netspec summary` table (netspec/summary.py renders every format)."""
    from netspec.summary import table

    return table(analysis)


def _positive(text: str) -> int:
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got '{text}'")
    return int(text)


def _input_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    if not re.fullmatch(r"[1-9]\d*(x[1-9]\d*){0,3}", text):
        raise UsageError(f"--input takes a per-sample shape such as 3x224x224 (C, CxL, CxHxW or CxDxHxW), got '{text}'")
    return tuple(int(v) for v in text.split("x"))


def _overrides(pairs: list[str]) -> dict[str, Any]:
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            raise UsageError(f"--set takes NAME=VALUE, got '{printable(pair)}'")
        values[name.strip()] = _literal(text.strip(), printable(pair))
    return values


_INTEGER = re.compile(r"-?[0-9]{1,100}")  # ASCII digits only: int() would also take '٣'
_DIMS = re.compile(r"[0-9]{1,100}(x[0-9]{1,100}){1,7}")
_FLOAT = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _literal(text: str, pair: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DIMS.fullmatch(text):
        return tuple(int(v) for v in text.split("x"))
    if _FLOAT.fullmatch(text) and len(text) <= 100:
        value = float(text)
        if math.isfinite(value):
            return value
        raise UsageError(f"--set {pair}: {text} is too large for a number")
    raise UsageError(
        f"--set {pair}: the value must be a number (ASCII digits, finite), true/false or dimensions like 3x32x32"
    )


def _human(count: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(count) >= size:
            return f"{count / size:.2f} {unit}"
    return str(count)


def run() -> None:
    """The console command: `main`, then exit without tearing the heap down object by object.

    Python frees every object at exit; after analysing a 100,000-layer spec that took a
    quarter of the run. Nothing netspec holds needs a finalizer (outputs are written and
    closed before `main` returns), so the streams are flushed and the process ends.

    `check` and `summary` also run without the cyclic garbage collector: what they allocate
    (the AST, the graph, the costs) lives until the process ends anyway; the few cycles (the
    tracebacks of sizes the accepted-input probe rejects) are left to the exit; and the
    collector's passes over the rest were 7% of a 100,000-line check."""
    if sys.argv[1:2] in (["check"], ["summary"]):
        gc.disable()
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe (`netspec summary x.net | head`): nothing more can be said
        code = code or EXIT_ERROR
    os._exit(code)


if __name__ == "__main__":
    run()
