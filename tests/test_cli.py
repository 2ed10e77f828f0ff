"""The netspec command as a user runs it: exit codes, outputs, no torch on the analysis path."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

VGG16 = ROOT / "specs" / "vgg16.net"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netspec.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", [["check"], ["summary"], ["summary", "--format", "json"], ["build", "-o"]])
def test_check_summary_and_build_do_not_import_torch(command, tmp_path):
    args = command + [str(tmp_path), str(VGG16)] if command[-1] == "-o" else command + [str(VGG16)]
    code = (
        "import sys; from netspec.cli import main; "
        f"rc = main({args!r}); "
        "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_summary_json_has_the_promised_fields():
    result = run("summary", str(VGG16), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["network"] == "vgg16"
    assert data["input"] == [3, 224, 224]
    assert set(data["totals"]) >= {"params", "macs"}
    layer = data["layers"][0]
    assert set(layer) >= {"name", "op", "output_shape", "params", "macs"}
    assert sum(l["params"] for l in data["layers"]) == data["totals"]["params"]
    assert sum(l["macs"] for l in data["layers"]) == data["totals"]["macs"]


def test_summary_table_ends_with_totals():
    result = run("summary", str(VGG16))
    assert result.returncode == 0, result.stderr
    total_line = next(line for line in result.stdout.splitlines() if line.startswith("total"))
    assert "138,357,544" in total_line and "15,470,264,320" in total_line


def test_build_writes_module_and_report(tmp_path):
    result = run("build", str(VGG16), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    module, report = tmp_path / "vgg16.py", tmp_path / "vgg16.html"
    assert module.is_file() and report.is_file()
    assert "138,357,544" in result.stdout
    # the generated file stands alone: it imports torch, never netspec
    source = module.read_text()
    assert "netspec" not in "".join(l for l in source.splitlines() if l.startswith(("import", "from")))
    namespace: dict = {}
    exec(compile(source, str(module), "exec"), namespace)
    import torch

    with torch.device("meta"):
        net = namespace["Vgg16"]()
    assert sum(p.numel() for p in net.parameters()) == 138_357_544


def test_build_default_locations(tmp_path):
    spec = tmp_path / "specs" / "tiny.net"
    spec.parent.mkdir()
    spec.write_text("network tiny\ninput 1x8x8\nconv 4 3x3; relu; flatten; linear 2\n")
    result = run("build", "specs/tiny.net", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "build" / "tiny.py").is_file()
    assert (tmp_path / "reports" / "tiny.html").is_file()


def test_failed_build_writes_nothing(tmp_path):
    spec = tmp_path / "bad.net"
    spec.write_text("network bad\ninput 3x8x8\nconv 4 3x3\nlinear 10\n")
    result = run("build", str(spec), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_set_overrides_a_network_parameter():
    result = run("summary", str(VGG16), "--set", "classes=10", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["layers"][-1]["output_shape"] == [10]


def test_unknown_parameter_is_an_error():
    result = run("check", str(VGG16), "--set", "clases=10")
    assert result.returncode == 1
    assert "did you mean 'classes'" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_a_clear_error():
    result = run("check", "no/such/spec.net")
    assert result.returncode == 2
    assert "no such file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("spec", sorted((ROOT / "specs").glob("*.net")), ids=lambda p: p.stem)
def test_every_spec_checks_summarises_and_builds(spec, tmp_path, capsys):
    from netspec.cli import main

    assert main(["check", str(spec)]) == 0
    capsys.readouterr()
    assert main(["summary", str(spec), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["network"] and summary["totals"]["params"] == sum(l["params"] for l in summary["layers"])
    assert main(["build", str(spec), "-o", str(tmp_path)]) == 0
    assert (tmp_path / f"{spec.stem}.py").stat().st_size > 0
    assert (tmp_path / f"{spec.stem}.html").stat().st_size > 0


def test_a_file_that_is_not_utf8_is_a_located_error(tmp_path):
    spec = tmp_path / "latin1.net"
    spec.write_bytes(b"network a\ninput 3x8x8\nconv 4 3x3  # caf\xe9\n")
    result = run("check", str(spec))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{spec}:3:18: error: this file is not UTF-8 text: byte 0xe9")


# ---- the exit-status contract: 0 ok, 1 errors in the spec, 2 usage errors (README "Exit status")


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", str(VGG16), "--set", "a"], "--set takes NAME=VALUE, got 'a'"),
        (["check", str(VGG16), "--set", "a="], "--set a=: the value must be a number"),
        (["check", str(VGG16), "--set", "classes=abc"], "--set classes=abc: the value must be a number"),
        (["check", str(VGG16), "--set", "classes=٣"], "--set classes=٣: the value must be a number (ASCII digits"),
        (["check", str(VGG16), "--set", "classes=nan"], "--set classes=nan: the value must be a number"),
        (["check", str(VGG16), "--set", "classes=1e999"], "--set classes=1e999: 1e999 is too large for a number"),
        (["check", "no/such/spec.net"], "cannot read 'no/such/spec.net': no such file"),
        (["check", "specs"], "cannot read 'specs': it is a folder"),
    ],
    ids=["no-equals", "no-value", "not-a-number", "arabic-digit", "nan", "infinite", "missing-file", "folder"],
)
def test_usage_errors_exit_with_2(args, message):
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"netspec: error: {message}"), result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_option_exits_with_2():
    assert run("check", str(VGG16), "--no-such-option").returncode == 2


def test_a_dash_reads_the_spec_from_standard_input():
    text = (ROOT / "specs" / "lenet5.net").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "netspec.cli", "summary", "-", "--format", "json"],
        input=text, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["params"] == 44_426


def test_errors_in_a_spec_from_standard_input_name_it():
    result = subprocess.run(
        [sys.executable, "-m", "netspec.cli", "check", "-"],
        input="network a\ninput 3x8x8\nconv 0 3x3\n", cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1 and result.stderr.startswith("<stdin>:3:6: error: channels must be")


def test_a_closed_pipe_ends_the_command_quietly():
    result = subprocess.run(
        f"{sys.executable} -m netspec.cli summary {VGG16} | head -1", shell=True, cwd=ROOT,
        capture_output=True, text=True, timeout=120, executable="/bin/bash",
    )
    assert result.stdout == "vgg16: input 3x224x224\n"
    assert result.stderr == ""


def test_check_json_lists_every_diagnostic_with_its_location_and_code(tmp_path):
    spec = tmp_path / "bad.net"
    spec.write_text("network bad\ninput 3x8x8\nconv 0 3x3\nrelu\nlinaer 10\n")
    result = run("check", str(spec), "--format", "json")
    assert result.returncode == 1 and result.stderr == ""
    report = json.loads(result.stdout)
    assert (report["file"], report["ok"], report["errors"], report["omitted"]) == (str(spec), False, 2, 0)
    first, second = report["diagnostics"]
    assert first == {
        "file": str(spec), "line": 3, "col": 6, "end_line": 3, "end_col": 7, "severity": "error",
        "code": "attribute", "message": "channels must be a positive integer, got 0", "notes": [],
    }
    assert (second["line"], second["col"], second["end_col"], second["code"]) == (5, 1, 7, "unknown-name")


def test_check_json_of_a_good_spec_and_of_a_usage_error():
    ok = run("check", str(VGG16), "--format", "json")
    assert ok.returncode == 0 and json.loads(ok.stdout) == {
        "file": str(VGG16), "ok": True, "errors": 0, "omitted": 0, "diagnostics": []
    }
    usage = run("check", "missing.net", "--format", "json")
    assert usage.returncode == 2
    assert json.loads(usage.stdout)["diagnostics"][0]["code"] == "usage"
