"""Shared test fixtures: the spec list and a way to run a compiled module cheaply on the meta device."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.net"))
REFERENCE = ROOT / "tests" / "reference" / "torch_tools_counts.json"  # provenance: tests/reference/README.md


def spec_id(path: Path) -> str:
    return path.stem


@pytest.fixture(params=SPECS, ids=spec_id)
def spec_path(request) -> Path:
    return request.param
