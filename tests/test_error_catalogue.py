"""Every example in docs/errors.md is a golden test: the spec, run through `netspec check`, prints exactly the text shown."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CATALOGUE = ROOT / "docs" / "errors.md"
FENCE = re.compile(r"```(net|console)\n(.*?)```", re.S)


def examples():
    """(title, {file name: text}, command, expected output, status, code) for each console block."""
    text = CATALOGUE.read_text(encoding="utf-8")
    found = []
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        files: dict[str, str] = {}
        code = re.search(r"^Code: `([a-z-]+)`", section, re.M)
        status = re.search(r"Exit status: (\d)", section)
        for kind, body in FENCE.findall(section):
            if kind == "net":
                name = re.match(r"# file: (\S+)\n", body)
                assert name, f"{title}: a net example must start with '# file: NAME'"
                files[name.group(1)] = body
            else:
                command, _, expected = body.partition("\n")
                assert command.startswith("$ netspec "), f"{title}: console block must start with '$ netspec ...'"
                exit_status = int(status.group(1)) if status else (1 if "error:" in expected else 0)
                found.append(pytest.param(
                    dict(files), command[2:].split()[1:], expected, exit_status, code and code.group(1), id=title
                ))
    return found


def netspec(args: list[str], folder: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "netspec.cli", *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("files, args, expected, status, code", examples())
def test_catalogue_example(tmp_path: Path, files, args, expected, status, code):
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body, encoding="utf-8")
    result = netspec(args, tmp_path)
    shown = (result.stderr + result.stdout).rstrip("\n")
    assert shown == expected.rstrip("\n")
    assert "Traceback" not in result.stderr
    assert result.returncode == status
    if code and args[0] == "check":  # the documented code is the one JSON reports for the first diagnostic
        report = json.loads(netspec([*args, "--format", "json"], tmp_path).stdout)
        assert report["diagnostics"][0]["code"] == code


def test_every_code_in_use_is_documented():
    """Each code a raise site names appears in the catalogue, so that editors and CI can rely on the list."""
    text = CATALOGUE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", text, re.M))
    assert set(re.findall(r"^Code: `([a-z-]+)`", text, re.M)) <= documented
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "netspec").rglob("*.py"))
    used = set(re.findall(r'code(?: =|=)\s*"([a-z-]+)"', sources))
    used |= set(re.findall(r'^    code = "([a-z-]+)"', sources, re.M))
    assert used - {"error"} <= documented, sorted(used - documented)


def test_catalogue_has_examples():
    assert len(examples()) >= 3
