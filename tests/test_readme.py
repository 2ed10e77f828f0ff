"""README's zoo table and summary example say what netspec says today."""
from __future__ import annotations

import re

import netspec
from netspec.cli import summary_table
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_zoo_table_matches_the_analysis():
    rows = re.findall(r"^\| `(\w+)`( `--set aux=true`)? \| [\dx]+ \| ([\d,]+) \| ([\d,]+)", README, re.M)
    assert len(rows) >= 20
    for name, aux, params, macs in rows:
        analysis = netspec.analyze(ROOT / "specs" / f"{name}.net", **({"aux": True} if aux else {}))
        assert (analysis.totals.params, analysis.totals.macs) == (int(params.replace(",", "")), int(macs.replace(",", ""))), name


def test_every_spec_is_in_the_zoo_table():
    for spec in (ROOT / "specs").glob("*.net"):
        assert f"| `{spec.stem}` |" in README, spec.stem


def test_summary_example_is_current():
    table = summary_table(netspec.analyze(ROOT / "specs" / "lenet5.net"))
    assert table in README
