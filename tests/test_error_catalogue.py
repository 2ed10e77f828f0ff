"""Every example in docs/errors.md is a golden test: the spec, run through `netspec check`, prints exactly the text shown."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CATALOGUE = ROOT / "docs" / "errors.md"
FENCE = re.compile(r"```(net|console)\n(.*?)```", re.S)


def examples():
    """(title, {file name: text}, command, expected output) for each console block of the catalogue."""
    text = CATALOGUE.read_text(encoding="utf-8")
    found = []
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        files: dict[str, str] = {}
        for kind, body in FENCE.findall(section):
            if kind == "net":
                name = re.match(r"# file: (\S+)\n", body)
                assert name, f"{title}: a net example must start with '# file: NAME'"
                files[name.group(1)] = body
            else:
                command, _, expected = body.partition("\n")
                assert command.startswith("$ netspec "), f"{title}: console block must start with '$ netspec ...'"
                found.append(pytest.param(dict(files), command[2:].split()[1:], expected, id=title))
    return found


@pytest.mark.parametrize("files, args, expected", examples())
def test_catalogue_example(tmp_path: Path, files, args, expected):
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "netspec.cli", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    shown = (result.stderr + result.stdout).rstrip("\n")
    assert shown == expected.rstrip("\n")
    assert "Traceback" not in result.stderr
    assert result.returncode == (1 if "error:" in expected else 0)


def test_catalogue_has_examples():
    assert len(examples()) >= 3
