"""Generated source → live torch module: executes the same text `netspec build` writes to disk.

The source runs as a real, registered module (in `sys.modules`, its lines in `linecache`),
so tracebacks show generated lines and `pickle` / `torch.save(model)` find the classes by
name. The module's name is derived from the source, so compiling the same spec twice reuses
one module. A pickled instance of a generated class carries the source: loading it in a
fresh process calls `_rebuild`, which executes the source under the same module name before
the instance's state (whose child modules name their classes in that module) is read.
"""
from __future__ import annotations

import hashlib
import linecache
import re
import sys
import types

import torch.nn as nn

from netspec.compiler.codegen import Generated, generate
from netspec.ir.graph import Graph

SOURCE_ATTRIBUTE = "__netspec_source__"  # the generated text, kept on the module for pickling
MODULE_PREFIX = "netspec_generated_"


def module_name(source: str, network: str) -> str:
    """The registered name of a generated source: the network's name and the source's digest."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return f"{MODULE_PREFIX}{re.sub(r'[^A-Za-z0-9_]', '_', network)[:40]}_{digest}"


def load_source(source: str, network: str) -> types.ModuleType:
    """Execute generated source as a module registered under a name unique to that source."""
    return _load(source, module_name(source, network))


def _load(source: str, name: str) -> types.ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    filename = f"<netspec {name}>"
    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - our own generated code, never spec text
    setattr(module, SOURCE_ATTRIBUTE, source)
    for value in list(vars(module).values()):
        if isinstance(value, type) and issubclass(value, nn.Module) and value.__module__ == name:
            value.__reduce_ex__ = _reduce_ex
    sys.modules[name] = module
    return module


def clear_cache() -> None:
    """Forget the generated modules executed in this process (for measurements of a cold start);
    instances already built keep their classes."""
    for name in [name for name in sys.modules if name.startswith(MODULE_PREFIX)]:
        del sys.modules[name]


def _reduce_ex(self: nn.Module, protocol: int):
    """Pickle a generated module as: rebuild its class from the source, then set its state."""
    cls = type(self)
    source = getattr(sys.modules.get(cls.__module__), SOURCE_ATTRIBUTE, None)
    if source is None:  # a subclass defined elsewhere: pickled the ordinary way, by reference
        return object.__reduce_ex__(self, protocol)
    return _rebuild, (source, cls.__module__, cls.__qualname__), self.__getstate__()


def _rebuild(source: str, name: str, class_name: str) -> nn.Module:
    """An empty instance of `class_name` from generated `source`, executed as module `name` when
    this process has not loaded it yet; pickle then restores the instance's state."""
    cls = getattr(_load(source, name), class_name)
    return cls.__new__(cls)


def build_module(graph: Graph, inplace: bool = True) -> nn.Module:
    """The network's module; `inplace=False` builds every layer out of place (for comparisons)."""
    return build_generated(generate(graph, inplace), graph.name)


def build_generated(generated: Generated, network: str) -> nn.Module:
    """The network class of a generated file, instantiated (the CLI exports the file it writes)."""
    module = load_source(generated.source, network)
    model = getattr(module, generated.class_name)()
    model.netspec_source = generated.source
    return model
