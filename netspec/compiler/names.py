"""Codegen's identifiers: one namespace per Python scope, and spec text shown safely in comments.

Every identifier the generated file defines (class names, constructor parameters, local
variables of `forward`) is created through a `Namespace`, as torch.fx's `_Namespace`:
it starts with the reserved words (Python keywords, every builtin, the names the file
imports, `self`), turns any candidate into a valid identifier and makes it unique with a
numbered suffix. Module attribute names are not identifiers of ours: they are the spec's
layer names (module paths), written `self.name` when that is plain Python and
`getattr(self, "name")` otherwise.
"""
from __future__ import annotations

import builtins
import keyword
import re

from netspec.ir.module_names import MODULE_ATTRIBUTES

FILE_NAMES = frozenset({"torch", "nn", "OrderedDict", "self"})
RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | FILE_NAMES
SAFE_TEXT = re.compile(r"[\w./+<>-]+( [\w./+<>-]+)*")


class Namespace:
    """Unique, valid, non-reserved identifiers for one scope of the generated file."""

    def __init__(self, reserved: frozenset[str] | set[str] = RESERVED, parent: "Namespace | None" = None):
        self._taken: set[str] = set(reserved)
        self._parent = parent

    def __contains__(self, name: str) -> bool:
        return name in self._taken or (self._parent is not None and name in self._parent)

    def create(self, candidate: str) -> str:
        """A fresh identifier that reads like `candidate` (`in_channels`, `in_channels_1`, ...)."""
        base = re.sub(r"\W+", "_", candidate).strip("_") or "value"
        if base[0].isdigit():
            base = f"_{base}"
        name, k = base, 0
        while name in self or keyword.iskeyword(name):
            k += 1
            name = f"{base}_{k}"
        self._taken.add(name)
        return name

    def reserve(self, name: str) -> None:
        self._taken.add(name)


def camel(name: str) -> str:
    """`bottleneck_layer` → `BottleneckLayer`, the class name a block reads as."""
    parts = re.split(r"[_\W]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p) or "Block"


def is_plain_attribute(key: str) -> bool:
    """Can `self.<key>` name this child module (no keyword, no name mangling, no nn.Module clash)?"""
    return key.isidentifier() and not keyword.iskeyword(key) and not key.startswith("__") and key not in MODULE_ATTRIBUTES


def attribute(key: str, owner: str = "self") -> str:
    """Source reading the child module registered under `key`."""
    return f"{owner}.{key}" if is_plain_attribute(key) else f"getattr({owner}, {key!r})"


def shown(text: str) -> str:
    """Spec text (a path, a name) as it may appear in a comment or docstring: as is when plain,
    else as its repr() with double quotes escaped, so no newline or quote can end it early."""
    if SAFE_TEXT.fullmatch(text):
        return text
    return repr(text).replace('"', '\\"')
