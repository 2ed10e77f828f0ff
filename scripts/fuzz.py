"""Fuzz netspec for a fixed time: generated and mutated specs must give a NetspecError or a
module that agrees with the analysis; anything else (a traceback, a hang) is a finding.

    python scripts/fuzz.py --minutes 30 [--seed 1] [--out fuzz-findings]

Three kinds of input, in turn:
  generated  whole specs from tests/spec_generators.py (names from the reserved and colliding
             sets), compiled on the meta device and compared layer by layer with the analysis;
  mutated    the zoo's specs and generated specs with random edits (reserved names, huge or
             non-finite numbers, line separators, deep nesting, repeats, stray bytes), through the
             front end, the analysis and code generation (the source must compile as Python);
  cli        a mutated spec through `netspec check --format json` in-process: the output must be
             valid JSON and the exit status 0, 1 or 2.
Each input has a CPU-time limit (--timeout, default 20 s of CPU, so that a loaded machine does
not make slow findings out of ordinary inputs); the run stops by itself at the end of
the round (about 25 inputs) during which --minutes ran out.
Findings are written to --out, one file per finding, with the input and what happened.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from netspec.errors import NetspecError  # noqa: E402
from tests.spec_generators import RESERVED_NAMES, check_compiled_agrees, specs  # noqa: E402

PIECES = [
    *RESERVED_NAMES, "9" * 30, "1e999", "-1", "0", "(", ")", "((((((((", "))))))))", "\u2028", "\x0b", "\x0c",
    "\x85", "\ufeff", "\r", "\x00", "\t", "    ", "\n", "\n    ", ":", ";", "|", ",", "=", "as", "repeat 9999:",
    "residual:", "concat:", "branch:", "if", "else:", "block", "import \"x.net\"", "in.channels", "*", "//", "%",
    "3x3", "1x100000000", "adaptive_avgpool 1x99999", "upsample scale=9999", "dropout 1.0", "eps=1e-400",
    "add(", "concat(", "output", "sequential", "inline", "#", '"', "x" * 300,
]


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 6)):
        position = rng.randint(0, len(text))
        action = rng.choice(["insert", "insert", "delete", "replace", "duplicate_line", "nest"])
        if action == "insert":
            text = text[:position] + rng.choice(PIECES) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + rng.randint(1, 12):]
        elif action == "replace":
            text = text[:position] + rng.choice(PIECES) + text[position + rng.randint(1, 6):]
        elif action == "duplicate_line":
            lines = text.split("\n")
            index = rng.randrange(len(lines))
            lines[index:index] = [lines[index]] * rng.randint(1, 50)
            text = "\n".join(lines)
        else:  # wrap the rest of the spec in nested repeats
            depth = rng.randint(1, 120)
            head = "".join(" " * (4 * d) + f"repeat {rng.randint(1, 4)}:\n" for d in range(depth))
            text = text + "\n" + head + " " * (4 * depth) + "relu\n"
    return text


def through_front_end(text: str) -> str:
    import netspec
    from netspec.compiler.codegen import generate

    try:
        analysis = netspec.analyze(text)
    except NetspecError:
        return "error"
    json.dumps(analysis.as_dict(), allow_nan=False)  # never Infinity or NaN
    compile(generate(analysis.graph).source, "<generated>", "exec")
    return "ok"


def through_cli(text: str, tmp: Path) -> str:
    from netspec.cli import main

    spec = tmp / "fuzz.net"
    spec.write_text(text, encoding="utf-8", errors="surrogatepass")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["check", str(spec), "--format", "json"])
    assert status in (0, 1, 2), f"exit status {status}: {err.getvalue()[-2000:]}"
    report = json.loads(out.getvalue())
    assert report["ok"] == (status == 0), report
    return f"exit {status}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=int, default=20, help="seconds one input may take")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.minutes * 60
    signal.signal(signal.SIGPROF, _alarm)
    zoo = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs").glob("*.net"))]
    tried, outcomes, findings = Counter(), Counter(), []
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / "work"
    tmp.mkdir(exist_ok=True)
    generated: list[str] = []

    def record(kind: str, text: str, problem: str) -> None:
        path = args.out / f"{kind}-{len(findings) + 1:03d}.txt"
        path.write_text(f"{problem}\n\n--- input ({len(text)} characters) ---\n{text}", encoding="utf-8", errors="replace")
        findings.append(path)
        print(f"finding: {kind}: {problem.splitlines()[-1][:200]} ({path})", flush=True)

    def attempt(kind: str, text: str, check) -> None:
        tried[kind] += 1
        started = time.process_time()
        signal.setitimer(signal.ITIMER_PROF, args.timeout)
        try:
            outcome = check(text)
        except Timeout:
            outcome = None
        except Exception:  # noqa: BLE001 - every other exception is what we look for
            signal.setitimer(signal.ITIMER_PROF, 0)
            outcomes[f"{kind}: FINDING"] += 1
            record(kind, text, traceback.format_exc())
            return
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        spent = time.process_time() - started
        if outcome is None or spent > args.timeout:  # a Timeout raised inside a gc callback is lost
            outcomes[f"{kind}: timeout"] += 1
            record(kind, text, f"took {spent:.1f} s of CPU, over the limit of {args.timeout} s")
        else:
            outcomes[f"{kind}: {outcome}"] += 1

    def generated_batch(batch_seed: int) -> None:
        @seed(batch_seed)
        @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(specs())
        def run(text):
            generated.append(text)
            del generated[:-200]
            attempt("generated", text, check_compiled_agrees)

        run()

    round_number = 0
    while round_number == 0 or time.monotonic() < deadline:  # a round tries every kind once at least
        round_number += 1
        for _ in range(10):
            base = rng.choice(zoo + generated[-50:])
            attempt("mutated", mutate(rng, base), through_front_end)
        for _ in range(3):
            base = rng.choice(zoo + generated[-50:])
            attempt("cli", mutate(rng, base), lambda text: through_cli(text, tmp))
        generated_batch(rng.randrange(2**32))
    print(f"\n{sum(tried.values())} inputs in {args.minutes:g} minutes ({round_number} rounds):")
    for kind, count in sorted(tried.items()):
        print(f"  {kind:10} {count:6}")
    for outcome, count in sorted(outcomes.items()):
        print(f"    {outcome:24} {count:6}")
    print(f"{len(findings)} findings" + (f" in {args.out}" if findings else ""))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
