"""Writes the suite's figures as benchmarks/RESULTS.md (tables for people) next to the JSON they come from."""
from __future__ import annotations

import statistics

from benchmarks.common import human_seconds, spread
from benchmarks.scaling import fitted_exponent
from benchmarks.zoo import CACHED


def _t(data: dict) -> str:
    """`12.3 ms (11.9–13.0, n=5)` from a timing's dict."""
    return f"{human_seconds(data['median_s'])} ({spread(data['min_s'], data['max_s'])}, n={data['runs']})"


def _ratio(value: float) -> str:
    return f"{value:,.0f}×" if value >= 10 else f"{value:.1f}×"


def markdown(results: dict) -> str:
    m = results["machine"]
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks`); the figures below and "
        "`results.json` come from one run. Times are medians over repeats, with the fastest and "
        "slowest run in parentheses and the number of runs. Ratios divide the other tool's median by netspec's. "
        "Whole processes run as installed software does: with Python's bytecode cache (an untimed first run "
        "writes it if missing, whatever PYTHONDONTWRITEBYTECODE says).",
        "",
        "## Machine",
        "",
        f"- {m['cpu']}, {m['cores']} cores; load average {', '.join(f'{x:.1f}' for x in m['load_average'] or [])} at the start"
        + (f", {', '.join(f'{x:.1f}' for x in results['load_average_end'])} at the end" if results.get("load_average_end") else "")
        + " (the machine was shared with other work: compare figures within this run, not across runs)",
        f"- Python {m['python']} on {m['platform']}; OMP_NUM_THREADS={m['omp_num_threads']} (torch runs on one thread)",
        "- " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- netspec at commit {m['commit']}, {m['date_utc']}; mode: {results['mode']}",
        "",
    ]
    if "zoo" in results:
        out += _zoo(results["zoo"])
    if "processes" in results:
        out += _processes(results["processes"])
    if "cold_start" in results:
        out += _cold_start(results["cold_start"])
    if "scaling" in results:
        out += _scaling(results["scaling"])
    if "input_sizes" in results:
        out += _input_sizes(results["input_sizes"])
    if "others" in results:
        out += _others(results["others"])
    return "\n".join(out).rstrip() + "\n"


def headline(results: dict) -> dict:
    """The figures the README quotes: the smallest and the geometric-mean ratio per tool."""
    summary = {}
    for tool in ("torchinfo", "fvcore", "ptflops"):
        ratios = [r["tools"][tool]["ratio"] for r in results.get("zoo", []) if tool in r["tools"]]
        if ratios:
            worst = min(results["zoo"], key=lambda r: r["tools"].get(tool, {}).get("ratio", float("inf")))
            fastest = [r["tools"][tool]["min_s"] / r["netspec"]["min_s"] for r in results["zoo"] if tool in r["tools"]]
            summary[tool] = {
                "geometric_mean_fastest_runs": statistics.geometric_mean(fastest),
                "geometric_mean": statistics.geometric_mean(ratios),
                "smallest": min(ratios),
                "smallest_on": worst["network"],
                "networks": len(ratios),
                "all_agree": all(r["tools"][tool]["agree"] for r in results["zoo"] if tool in r["tools"]),
            }
    return summary


def readme_table(results: dict, networks: tuple[str, ...] = ("vgg16", "resnet50", "mobilenet_v2", "densenet121")) -> str:
    """The short table README.md quotes: per tool, the ratio on a few networks, the smallest and the geometric mean."""
    rows = {r["network"]: r for r in results.get("zoo", [])}
    shown = [n for n in networks if n in rows]
    tools = [t for t in ("torchinfo", "fvcore", "ptflops") if any(t in r["tools"] for r in rows.values())]
    header = ["netspec.analyze is … faster than", *shown, "smallest (network)", f"geometric mean, {len(rows)} networks",
              "same, fastest runs", "MACs agree"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(shown) + 3) + ":---:|"]
    summary = headline(results)
    for tool in tools:
        h = summary[tool]
        cells = [f"{tool} (model built beforehand)", *(_ratio(rows[n]["tools"][tool]["ratio"]) for n in shown),
                 f"{_ratio(h['smallest'])} ({h['smallest_on']})", _ratio(h["geometric_mean"]),
                 _ratio(h["geometric_mean_fastest_runs"]), "all" if h["all_agree"] else "not all"]
        lines.append("| " + " | ".join(cells) + " |")
    cold = results.get("cold_start", {})
    ours = next((d for label, d in cold.items() if label.startswith("netspec check")), None)
    torch = cold.get('python -c "import torch"')
    if ours and torch:
        lines += ["", f"`netspec check specs/resnet50.net` takes {human_seconds(ours['median_s'])} as a whole process, "
                      f"{_ratio(torch['median_s'] / ours['median_s'])} less than `python -c \"import torch\"` "
                      f"({human_seconds(torch['median_s'])}) in the same run."]
    return "\n".join(lines)


def _zoo(rows: list[dict]) -> list[str]:
    tools = sorted({t for r in rows for t in r["tools"]}, key=["torchinfo", "fvcore", "ptflops"].index)
    out = [
        "## 1. Analysis against counting tools, in-process",
        "",
        CACHED + " The models are torchvision's (random weights, eval mode) where torchvision has "
        "the network, else the module `netspec.compile` builds from the spec.",
        "",
        "MACs agree = the tool's total equals netspec's per-layer figures restated in that tool's "
        "convention (see `benchmarks/tools.py`: torchinfo adds bias adds and 2 per batchnorm channel; "
        "fvcore adds 2 per batchnorm element and the input of adaptive average pools; ptflops (aten backend) "
        "adds bias adds).",
        "",
        "Ratio: medians; in parentheses the ratio of the fastest runs, which a loaded machine disturbs least.",
        "",
        "| network | layers | netspec (parse cached) | netspec (parse uncached) | "
        + " | ".join(f"{t} | ratio | MACs agree" for t in tools) + " |",
        "|---|---:|---:|---:|" + "---:|---:|:---:|" * len(tools),
    ]
    for r in rows:
        cells = [r["network"] + ("" if r["model"] == "torchvision" else " ¹"), str(r["layers"]), _t(r["netspec"]),
                 _t(r["netspec_parse_uncached"])]
        for t in tools:
            d = r["tools"].get(t)
            cells += [_t(d), f"{_ratio(d['ratio'])} ({_ratio(d['min_s'] / r['netspec']['min_s'])})", "yes" if d["agree"] else f"no ({d['their_total']:,} vs {d['netspec_in_their_convention']:,})"] if d else ["–", "–", "–"]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "¹ no torchvision twin: the tools ran on the module `netspec.compile` builds.", ""]
    for t in tools:
        ratios = [r["tools"][t]["ratio"] for r in rows if t in r["tools"]]
        fastest = [r["tools"][t]["min_s"] / r["netspec"]["min_s"] for r in rows if t in r["tools"]]
        out.append(f"- {t}: netspec is {_ratio(min(ratios))} to {_ratio(max(ratios))} faster "
                   f"(geometric mean {_ratio(statistics.geometric_mean(ratios))}) over {len(ratios)} networks; "
                   f"by the fastest runs {_ratio(min(fastest))} to {_ratio(max(fastest))} "
                   f"(geometric mean {_ratio(statistics.geometric_mean(fastest))}).")
    return out + [""]


def _processes(rows: list[dict]) -> list[str]:
    tools = sorted({t for r in rows for t in r["tools"]}, key=["torchinfo", "fvcore", "ptflops"].index)
    out = [
        "## 1b. The same as whole processes",
        "",
        "`netspec summary SPEC` (prints the per-layer table) against a fresh `python` that imports "
        "torch and the tool, builds the model and counts: what a user waits for at the command line. "
        "Nothing is cached between processes (netspec: one untimed run first warms the operating system's file "
        "cache; the tools run after the in-process section, which has read torch's files). Each tool process imports "
        "torch, so they run on a few networks unless `--all-processes` is given.",
        "",
        "| network | netspec summary | " + " | ".join(f"{t} | ratio" for t in tools) + " |",
        "|---|---:|" + "---:|---:|" * len(tools),
    ]
    for r in rows:
        cells = [r["network"], _t(r["netspec_summary"])]
        for t in tools:
            d = r["tools"].get(t)
            cells += [_t(d), _ratio(d["ratio"])] if d else ["–", "–"]
        out.append("| " + " | ".join(cells) + " |")
    return out + [""]


def _cold_start(rows: dict) -> list[str]:
    out = ["## 2. Command-line cold start", "", "| command | wall time | peak memory |", "|---|---:|---:|"]
    for label, d in rows.items():
        out.append(f"| `{label}` | {_t(d)} | {d['peak_rss_mb']:.0f} MB |")
    return out + [""]


def _scaling(results: dict) -> list[str]:
    s = results["startup"]
    out = [
        "## 3. Scaling: `netspec check` on generated specs",
        "",
        "Whole processes. *chain*: conv+relu pairs written line by line; *repeat*: the same network "
        "from nested `repeat`s (a few lines); *wide*: modules of a concat of 8 one-conv branches and a "
        "1×1 conv, written out. The growth exponent k (time ∝ layers^k, least squares on log-log) is fitted "
        "to the CPU time (user + system, which other work on the machine disturbs least) of each size's fastest run minus the fastest startup "
        f"of an empty spec ({_t(s)} wall"
        + (f", {human_seconds(s['cpu_s'])} CPU" if "cpu_s" in s else "")
        + (f", fastest {human_seconds(s['cpu_min_s'])} CPU" if "cpu_min_s" in s else "")
        + f", {s['peak_rss_mb']:.0f} MB); memory is the process's peak resident set.",
        "",
        "| shape | layers | lines | wall time | CPU time | peak memory |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for shape, data in results["shapes"].items():
        for r in data["rows"]:
            fastest = f" (fastest {human_seconds(r['cpu_min_s'])})" if "cpu_min_s" in r else ""
            out.append(f"| {shape} | {r['layers']:,} | {r['lines']:,} | {_t(r)} | {human_seconds(r['cpu_s'])}{fastest} | {r['peak_rss_mb']:.0f} MB |")
    out.append("")
    for shape, data in results["shapes"].items():
        for r in data.get("skipped", []):
            out.append(f"- {shape}, {r['size']:,} layers: not measured; written out, the spec is {r['bytes']:,} bytes, "
                       f"over the 1 MiB that netspec accepts for a spec file.")
        if data["exponent_time"] is None:
            continue
        if "exponent_cpu" in data:
            out.append(f"- {shape}: CPU time minus startup grows as layers^{data['exponent_cpu']:.2f} "
                       f"(wall time: layers^{data['exponent_time']:.2f}); "
                       f"memory above startup as layers^{data['exponent_memory']:.2f}.")
        else:  # results.json written before CPU time was fitted
            big = [r for r in data["rows"] if r["layers"] >= 10_000] or data["rows"]
            cpu = fitted_exponent([r["layers"] for r in big], [r["cpu_s"] for r in big]) if len(big) > 1 else None
            out.append(f"- {shape}: wall time minus startup grows as layers^{data['exponent_time']:.2f}"
                       + (f", CPU time from 10k layers up as layers^{cpu:.2f}" if cpu else "")
                       + f"; memory above startup as layers^{data['exponent_memory']:.2f}.")
    return out + [""]


def _input_sizes(rows: list[dict]) -> list[str]:
    out = [
        "## 4. Input size: analysis does not run the network",
        "",
        "| network | input | MACs | netspec | torchinfo | ratio |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        t = r.get("torchinfo")
        out.append(f"| {r['network']} | 3x{r['size']}x{r['size']} | {r['macs']:,} | {_t(r['netspec'])} | "
                   + (f"{_t(t)} | {_ratio(t['ratio'])} |" if t else "– | – |"))
    return out + [""]


def _others(rows: list[dict]) -> list[str]:
    out = ["## 5. Other benchmarks in this folder", ""]
    for r in rows:
        if r.get("missing"):
            out += [f"### {r['title']}", "", f"Not measured: no `{r['file']}` on this branch yet.", ""]
            continue
        status = "" if r["returncode"] == 0 else f" (exited with status {r['returncode']})"
        out += [f"### {r['title']}: `{r['file']}`{status}", "", f"Ran in {r['seconds']:.0f} s; its output:", "", "```",
                r["output"] or "(no output)", "```", ""]
    return out
