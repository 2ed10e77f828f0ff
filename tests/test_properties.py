"""Property tests over whole specs: generated and mutated specs, names drawn from the reserved and
colliding sets, give a NetspecError or a module whose params, state_dict and shapes equal the analysis."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.spec_generators import RESERVED_NAMES, check_compiled_agrees, specs

SETTINGS = settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
EDITS = st.sampled_from([*RESERVED_NAMES, "as ", " as x", "\n", "\n    ", ":", "(", ")", "1e999", "9" * 25, "0", ";"])


@SETTINGS
@given(specs())
def test_generated_specs_compile_to_modules_that_agree_with_the_analysis(text):
    check_compiled_agrees(text)


@SETTINGS
@given(specs(), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 6), EDITS), min_size=1, max_size=3))
def test_mutated_specs_give_an_error_or_a_module_that_agrees(text, edits):
    for where, cut, piece in edits:
        position = int(where * len(text))
        text = text[:position] + piece + text[position + cut:]
    check_compiled_agrees(text)


def test_the_generator_reaches_both_outcomes():
    """A generator that only ever produced errors (or only modules) would test little.
    Derandomized, so that the check does not depend on the luck of one run."""
    outcomes = set()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(specs())
    def run(text):
        outcomes.add(check_compiled_agrees(text))

    run()
    assert outcomes == {"error", "module"}


def test_the_fuzz_script_runs_and_stops_by_itself(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fuzz.py"), "--minutes", "0.05", "--seed", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "0 findings" in result.stdout and "generated" in result.stdout and "mutated" in result.stdout
