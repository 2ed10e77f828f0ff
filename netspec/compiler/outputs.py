"""Backends → disk: writes all of a build's files together, replacing the old set entirely or not at all."""
from __future__ import annotations

import errno
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from netspec.errors import UsageError

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class OutputError(UsageError):
    """A build's files could not be written; nothing new was left on disk and the old files are unchanged."""


def write_together(files: Mapping[Path | str, str | bytes]) -> tuple[Path, ...]:
    """Write every file of `files` (path → text or bytes) so that either all of them hold the new
    content or, after any failure (a path under a file, a full disk, an interrupt), none does:
    new files are written and fsynced as hidden temporaries beside their destination, the old
    files are kept as hard links until every destination has been replaced with `os.replace`,
    and a failure at any step undoes the steps before it. Returns the paths written, in order."""
    targets = [Path(p) for p in files]
    if len({os.path.abspath(p) for p in targets}) != len(targets):
        raise ValueError(f"the same output path is given twice: {[str(p) for p in targets]}")
    for target in targets:
        _check_destination(target)
    commit = _Commit()
    try:
        for target, content in zip(targets, files.values()):
            commit.stage(target, content.encode("utf-8") if isinstance(content, str) else bytes(content))
        commit.replace_all()
    except BaseException as error:
        commit.undo()
        if isinstance(error, OSError):
            raise _explain(error, commit.current) from None
        raise
    commit.finish()
    return tuple(targets)


def check_output_folder(folder: Path | str) -> None:
    """Fail early, before any work, when `folder` cannot hold outputs (it is a file, or lies under one)."""
    folder = Path(folder)
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate):
            if not candidate.is_dir():
                where = "it is" if candidate == folder else f"'{candidate}' is"
                raise OutputError(f"cannot write into '{folder}': {where} a file, not a folder")
            return


@dataclass
class _Staged:
    target: Path
    temporary: Path
    backup: Path | None = None
    replaced: bool = False


@dataclass
class _Commit:
    """The undo log of one `write_together`: created folders, temporaries, backups, replacements."""

    created_dirs: list[Path] = field(default_factory=list)
    staged: list[_Staged] = field(default_factory=list)
    current: Path | None = None  # the file being worked on, for the error message

    def stage(self, target: Path, data: bytes) -> None:
        self.current = target
        self._make_parents(target.parent)
        temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        self.staged.append(_Staged(target, temporary))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view):]
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _make_parents(self, folder: Path) -> None:
        missing = []
        while not os.path.lexists(folder) and folder.parent != folder:
            missing.append(folder)
            folder = folder.parent
        for created in reversed(missing):
            os.mkdir(created)
            self.created_dirs.append(created)

    def replace_all(self) -> None:
        for item in self.staged:
            self.current = item.target
            if os.path.lexists(item.target):
                item.backup = item.target.parent / f".{item.target.name}.{secrets.token_hex(4)}.old"
                os.link(item.target, item.backup, follow_symlinks=False)
        for item in self.staged:
            self.current = item.target
            os.replace(item.temporary, item.target)
            item.replaced = True
        for folder in {item.target.parent for item in self.staged}:
            _sync_folder(folder)

    def undo(self) -> None:
        for item in reversed(self.staged):
            try:
                if item.replaced and item.backup is not None:
                    os.replace(item.backup, item.target)
                elif item.replaced:
                    os.unlink(item.target)
                for leftover in (item.temporary, item.backup):
                    if leftover is not None and os.path.lexists(leftover):
                        os.unlink(leftover)
            except OSError:
                pass  # best effort: the original error is the one to report
        for folder in reversed(self.created_dirs):
            try:
                folder.rmdir()
            except OSError:
                pass

    def finish(self) -> None:
        for item in self.staged:
            if item.backup is not None:
                try:
                    os.unlink(item.backup)
                except OSError:
                    pass


def _check_destination(target: Path) -> None:
    """Located errors for destinations that can never work: a folder in the way, or a file as a folder."""
    if target.is_dir():
        raise OutputError(f"cannot write '{target}': it is a folder")
    for ancestor in target.parents:
        if os.path.lexists(ancestor):
            if not ancestor.is_dir():
                raise OutputError(f"cannot write '{target}': '{ancestor}' is a file, not a folder")
            return


def _explain(error: OSError, target: Path | None) -> OutputError:
    what = f"'{target}'" if target is not None else "the outputs"
    if error.errno == errno.EFBIG:
        reason = "the file size limit was reached"
    elif error.errno in _FULL:
        reason = "the disk is full"
    else:
        reason = error.strerror or str(error)
    return OutputError(f"cannot write {what}: {reason}; nothing was written and any previous files are unchanged")


def _sync_folder(folder: Path) -> None:
    """Make the renames durable; some platforms and file systems cannot open or sync a folder."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
