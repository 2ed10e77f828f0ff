"""`python -m benchmarks`: runs every section in one process, side by side, and writes RESULTS.md and results.json."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from benchmarks import others, results, scaling, zoo
from benchmarks.common import dump_json, machine

HERE = Path(__file__).resolve().parent

# (analysis repeats, tool repeats, process repeats, tool process repeats, scaling sizes, scaling repeats)
FULL = dict(repeats=20, tool_repeats=3, process_repeats=3, tool_process_repeats=2,
            sizes=(1_000, 10_000, 100_000), scaling_repeats=3, big_repeats=1, input_sizes=(224, 448, 1024))
QUICK = dict(repeats=2, tool_repeats=1, process_repeats=1, tool_process_repeats=1,
             sizes=(100, 300), scaling_repeats=1, big_repeats=1, input_sizes=(32, 64))
QUICK_NETWORKS = ["lenet5", "squeezenet1_0"]
PROCESS_TOOL_NETWORKS = ["resnet50", "mobilenet_v2"]  # the tools as whole processes (each run imports torch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one repeat: checks that the suite runs")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for RESULTS.md and results.json")
    parser.add_argument("--networks", nargs="*", help="zoo networks to compare (default: all of specs/)")
    parser.add_argument("--all-processes", action="store_true",
                        help="run the tools as whole processes on every network, not only on " + ", ".join(PROCESS_TOOL_NETWORKS))
    parser.add_argument("--skip", nargs="*", default=[], choices=("zoo", "processes", "cold_start", "scaling", "input_sizes", "others"))
    parser.add_argument("--render", action="store_true", help="only rewrite RESULTS.md from the results.json in --out")
    args = parser.parse_args(argv)
    if args.render:
        found = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
        (args.out / "RESULTS.md").write_text(results.markdown(found), encoding="utf-8")
        print(results.readme_table(found), file=sys.stderr)
        return 0
    plan = QUICK if args.quick else FULL
    networks = args.networks or (QUICK_NETWORKS if args.quick else zoo.zoo_stems())
    found: dict = {"machine": machine(), "mode": "quick (smoke test)" if args.quick else "full"}
    started = time.perf_counter()

    def section(name: str, title: str, run) -> None:
        if name in args.skip:
            return
        print(f"{title} ...", file=sys.stderr)
        found[name] = run()

    section("zoo", "1. analysis vs counting tools, in-process",
            lambda: zoo.in_process(networks, plan["repeats"], plan["tool_repeats"]))
    section("processes", "1b. the same as whole processes",
            lambda: zoo.whole_processes(networks, plan["process_repeats"], plan["tool_process_repeats"],
                                        None if args.all_processes else [n for n in networks if n in PROCESS_TOOL_NETWORKS or args.quick]))
    section("cold_start", "2. command-line cold start", lambda: scaling.cold_start(plan["process_repeats"] * 2))
    section("scaling", "3. scaling", lambda: scaling.scaling(plan["sizes"], plan["scaling_repeats"], plan["big_repeats"]))
    section("input_sizes", "4. input sizes",
            lambda: zoo.input_sizes(plan["input_sizes"], plan["repeats"], plan["tool_repeats"],
                                    "vgg16" if not args.quick else "vgg11"))
    if not args.quick:
        section("others", "5. other benchmarks", others.run_all)
    found["load_average_end"] = list(os.getloadavg())
    found["seconds"] = time.perf_counter() - started
    found["headline"] = results.headline(found)
    args.out.mkdir(parents=True, exist_ok=True)
    dump_json(found, args.out / "results.json")
    (args.out / "RESULTS.md").write_text(results.markdown(found), encoding="utf-8")
    print(f"wrote {args.out / 'RESULTS.md'} and results.json in {found['seconds']:.0f} s", file=sys.stderr)
    if "zoo" in found:
        print("\nREADME table:\n" + results.readme_table(found), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
