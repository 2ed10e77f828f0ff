"""A build's files are written together or not at all: the shared writer and `netspec build` on failures."""
from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from netspec.compiler.outputs import OutputError, check_output_folder, write_together
from tests.conftest import ROOT

TINY = "network tiny\ninput 1x8x8\nconv 4 3x3; relu; flatten; linear 2\n"


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden temporaries included) with its content."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_writes_every_file_and_creates_folders(tmp_path):
    a, b = tmp_path / "build" / "net.py", tmp_path / "reports" / "deep" / "net.html"
    assert write_together({a: "print(1)\n", b: b"<html>"}) == (a, b)
    assert listing(tmp_path) == {"build/net.py": b"print(1)\n", "reports/deep/net.html": b"<html>"}


def test_new_files_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_together({tmp_path / "x.py": "x"})
    finally:
        os.umask(old)
    assert (tmp_path / "x.py").stat().st_mode & 0o777 == 0o644


def test_replaces_the_old_set(tmp_path):
    write_together({tmp_path / "a": "old a", tmp_path / "b": "old b"})
    write_together({tmp_path / "a": "new a", tmp_path / "b": "new b"})
    assert listing(tmp_path) == {"a": b"new a", "b": b"new b"}


def full_disk_after(calls: int):
    """An os.write that succeeds `calls` times, then fails as a full disk does."""
    real, count = os.write, [0]

    def write(descriptor, data):
        count[0] += 1
        if count[0] > calls:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(descriptor, data)

    return write


def test_disk_full_on_the_second_file_keeps_the_old_set(tmp_path, monkeypatch):
    write_together({tmp_path / "a.py": "old a", tmp_path / "a.html": "old b"})
    monkeypatch.setattr(os, "write", full_disk_after(1))
    with pytest.raises(OutputError, match=r"cannot write '.*a\.html': the disk is full; nothing was written"):
        write_together({tmp_path / "a.py": "new a", tmp_path / "a.html": "new b"})
    assert listing(tmp_path) == {"a.py": b"old a", "a.html": b"old b"}


def test_disk_full_leaves_no_new_file_and_no_new_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "write", full_disk_after(1))
    with pytest.raises(OutputError):
        write_together({tmp_path / "build" / "a.py": "a", tmp_path / "reports" / "a.html": "b"})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_replace_puts_back_what_was_already_replaced(tmp_path, monkeypatch):
    write_together({tmp_path / "a": "old a", tmp_path / "b": "old b"})
    real, calls = os.replace, []

    def replace(source, target):
        calls.append(target)
        if len(calls) == 2:  # the first file is already in place when the second fails
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        return real(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match="Permission denied"):
        write_together({tmp_path / "a": "new a", tmp_path / "b": "new b", tmp_path / "c": "new c"})
    monkeypatch.undo()
    assert listing(tmp_path) == {"a": b"old a", "b": b"old b"}


def test_an_interrupt_while_writing_leaves_the_old_set(tmp_path, monkeypatch):
    write_together({tmp_path / "a": "old a"})

    def interrupted(descriptor):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_together({tmp_path / "a": "new a", tmp_path / "b": "new b"})
    monkeypatch.undo()
    assert listing(tmp_path) == {"a": b"old a"}


def test_a_path_under_a_file_is_refused_before_writing(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(OutputError, match=r"cannot write '.*out/sub/a\.py': '.*out' is a file, not a folder"):
        write_together({tmp_path / "b.py": "b", tmp_path / "out" / "sub" / "a.py": "a"})
    assert listing(tmp_path) == {"out": b"not a folder"}


def test_a_folder_in_the_way_is_refused(tmp_path):
    (tmp_path / "a.py").mkdir()
    with pytest.raises(OutputError, match="it is a folder"):
        write_together({tmp_path / "a.py": "a"})


def test_output_folder_check(tmp_path):
    (tmp_path / "f").write_text("")
    check_output_folder(tmp_path / "new" / "deeper")
    with pytest.raises(OutputError, match="it is a file, not a folder"):
        check_output_folder(tmp_path / "f")
    with pytest.raises(OutputError, match=r"'.*/f' is a file, not a folder"):
        check_output_folder(tmp_path / "f" / "x")


def build(spec: Path, *args: str, limit: int | None = None) -> subprocess.CompletedProcess:
    def limited() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, "-m", "netspec.cli", "build", str(spec), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, preexec_fn=limited)


@pytest.mark.parametrize("under", [False, True], ids=["file", "under-a-file"])
def test_build_into_a_file_is_a_usage_error(tmp_path, under):
    spec = tmp_path / "tiny.net"
    spec.write_text(TINY)
    (tmp_path / "out").write_text("")
    result = build(spec, "-o", str(tmp_path / "out" / "x" if under else tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("netspec: error: cannot write into ") and "is a file, not a folder" in result.stderr


def test_build_on_a_full_disk_keeps_the_previous_build(tmp_path):
    """The file size limit (RLIMIT_FSIZE) fails the write as a full disk would: the small module
    fits, the report does not; the previous build must stay as it was, both files."""
    spec, out = tmp_path / "tiny.net", tmp_path / "out"
    spec.write_text(TINY)
    assert build(spec, "-o", str(out)).returncode == 0
    before = listing(out)
    assert len(before["tiny.py"]) < 4000 < len(before["tiny.html"])
    spec.write_text(TINY.replace("linear 2", "linear 3"))
    result = build(spec, "-o", str(out), limit=4000)
    assert result.returncode == 2, result.stderr
    assert "cannot write" in result.stderr and "tiny.html" in result.stderr and "Traceback" not in result.stderr
    assert listing(out) == before
