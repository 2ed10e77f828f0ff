"""The op registry: every layer kind registers here once; lookups give "did you mean" on a miss."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netspec.ops.base import OpDef

_OPS: dict[str, "OpDef"] = {}


def register(op: "OpDef") -> "OpDef":
    if op.name in _OPS:
        raise ValueError(f"op '{op.name}' is registered twice")
    _OPS[op.name] = op
    return op


def lookup(name: str) -> "OpDef | None":
    op = _OPS.get(name)
    if op is None and not _loaded:
        _load_families()
        op = _OPS.get(name)
    return op


def all_ops() -> dict[str, "OpDef"]:
    _load_families()
    return dict(sorted(_OPS.items()))


_loaded = False


def _load_families() -> None:
    # Importing a family module registers its ops; the list of families lives in netspec.ops.
    global _loaded
    import netspec.ops  # noqa: F401

    _loaded = True
