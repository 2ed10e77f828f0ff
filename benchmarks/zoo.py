"""Sections 1 and 4: netspec's analysis against torchinfo, fvcore and ptflops on the zoo, in-process and as whole processes, and across input sizes."""
from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.common import SPECS, Timing, netspec_command, time_calls, time_process
from benchmarks.tools import available_tools, model_for

CACHED = (
    "netspec: the parse of each file is cached in-process (the first call parses); elaboration, "
    "every shape, parameter and MAC count run on every repeat (within one run, equal layers and equal "
    "block instances are worked out once: nothing is kept from one repeat to the next). Tools: the model is built once, "
    "outside the timer; each repeat runs the tool's full count (a forward pass with its hooks)."
)


def zoo_stems() -> list[str]:
    return sorted(p.stem for p in SPECS.glob("*.net"))


def analyze_once(path: Path):
    """What a user of `netspec.analyze` gets for the counts torchinfo shows: shapes, params, MACs per layer."""
    import netspec

    analysis = netspec.analyze(path)
    analysis.layers  # noqa: B018 - computes every layer's costs and the totals
    return analysis


def in_process(stems: list[str], repeats: int, tool_repeats: int) -> list[dict]:
    from netspec.syntax.parser import clear_cache

    rows = []
    tools = available_tools()
    for stem in stems:
        path = SPECS / f"{stem}.net"
        analysis = analyze_once(path)
        ours = time_calls(lambda: analyze_once(path), repeats)

        def uncached():
            clear_cache()
            analyze_once(path)

        ours_uncached = time_calls(uncached, max(3, repeats // 3))
        model, model_source = model_for(stem, path)
        shape = analysis.input_shape
        row = {
            "network": stem,
            "input": list(shape),
            "layers": len(analysis.layers),
            "model": model_source,
            "netspec": ours.as_dict(),
            "netspec_parse_uncached": ours_uncached.as_dict(),
            "macs": analysis.totals.macs,
            "tools": {},
        }
        for tool in tools:
            theirs_value = tool.count(model, shape)  # also the warm-up
            theirs = time_calls(lambda: tool.count(model, shape), tool_repeats, warmup=0)
            ours_value = tool.ours(analysis)
            row["tools"][tool.name] = {
                **theirs.as_dict(),
                "their_total": theirs_value,
                "netspec_in_their_convention": ours_value,
                "agree": theirs_value == ours_value,
                "ratio": theirs.median / ours.median,
            }
        del model
        rows.append(row)
        print(f"  {stem:<18} netspec {ours.show():<28} "
              + "  ".join(f"{n} ×{t['ratio']:.0f}{'' if t['agree'] else ' (MACs differ)'}" for n, t in row["tools"].items()),
              file=sys.stderr)
    return rows


TOOL_SCRIPT = """
import sys
from pathlib import Path
from benchmarks.tools import TOOLS, model_for
tool = next(t for t in TOOLS if t.name == sys.argv[1])
stem, shape = sys.argv[2], tuple(int(d) for d in sys.argv[3].split("x"))
model, _ = model_for(stem, Path("specs") / f"{stem}.net")
print(tool.count(model, shape))
"""


def whole_processes(stems: list[str], repeats: int, tool_repeats: int, tool_stems: list[str] | None = None) -> list[dict]:
    """`netspec summary SPEC` against a fresh Python that imports torch, builds the model and runs the tool.

    A tool's process takes seconds (importing torch alone does), so the tools run on
    `tool_stems` only (all networks when None), without an untimed first run: the in-process
    section has already brought torch's files into the operating system's cache."""
    rows = []
    for stem in stems:
        tools = available_tools() if tool_stems is None or stem in tool_stems else []
        path = SPECS / f"{stem}.net"
        analysis = analyze_once(path)
        shape = "x".join(map(str, analysis.input_shape))
        ours, _ = time_process([*netspec_command(), "summary", str(path.relative_to(SPECS.parent))], repeats)
        row = {"network": stem, "netspec_summary": ours.as_dict(), "tools": {}}
        for tool in tools:
            theirs, _ = time_process([sys.executable, "-c", TOOL_SCRIPT, tool.name, stem, shape], tool_repeats, warmup=False)
            row["tools"][tool.name] = {**theirs.as_dict(), "ratio": theirs.median / ours.median}
        rows.append(row)
        print(f"  {stem:<18} netspec summary {ours.show():<28} "
              + "  ".join(f"{n} ×{t['ratio']:.1f}" for n, t in row["tools"].items()), file=sys.stderr)
    return rows


def input_sizes(sizes: tuple[int, ...], repeats: int, tool_repeats: int, stem: str = "vgg16") -> list[dict]:
    """Analysis time does not depend on the input size; a counting forward pass does."""
    from benchmarks.tools import twin_model

    torchinfo = next((t for t in available_tools() if t.name == "torchinfo"), None)
    model = twin_model(stem) if torchinfo else None
    text = (SPECS / f"{stem}.net").read_text(encoding="utf-8")
    rows = []
    with tempfile.TemporaryDirectory(prefix="netspec-bench-") as folder:
        shutil.copytree(SPECS / "blocks", Path(folder) / "blocks")
        for size in sizes:
            path = Path(folder) / f"{stem}_{size}.net"
            path.write_text(re.sub(r"^input 3x\d+x\d+", f"input 3x{size}x{size}", text, flags=re.M), encoding="utf-8")
            analysis = analyze_once(path)
            ours = time_calls(lambda: analyze_once(path), repeats)
            row = {"network": stem, "size": size, "macs": analysis.totals.macs, "netspec": ours.as_dict()}
            if model is not None:
                shape = (3, size, size)
                value = torchinfo.count(model, shape)
                theirs = time_calls(lambda: torchinfo.count(model, shape), tool_repeats, warmup=0)
                row["torchinfo"] = {**theirs.as_dict(), "agree": value == torchinfo.ours(analysis),
                                    "ratio": theirs.median / ours.median}
            rows.append(row)
            print(f"  {stem} at {size}: netspec {ours.show()}"
                  + (f"  torchinfo {Timing(**_timing(row['torchinfo'])).show()}" if "torchinfo" in row else ""), file=sys.stderr)
    return rows


def _timing(data: dict) -> dict:
    return {"median": data["median_s"], "low": data["min_s"], "high": data["max_s"], "runs": data["runs"]}
