"""Generated source → live torch module: executes the same text `netspec build` writes to disk.

The source runs as a real, registered module (in `sys.modules`, its lines in `linecache`),
so tracebacks show generated lines and `pickle` / `torch.save(model)` find the classes by
name in this process. The module's name is derived from the source, so compiling the same
spec twice reuses one module.
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


def load_source(source: str, network: str) -> types.ModuleType:
    """Execute generated source as a module registered under a name unique to that source."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    name = f"netspec_generated_{re.sub(r'[^A-Za-z0-9_]', '_', network)[:40]}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    filename = f"<netspec {name}>"
    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - our own generated code, never spec text
    sys.modules[name] = module
    return module


def build_module(graph: Graph) -> nn.Module:
    return build_generated(generate(graph), graph.name)


def build_generated(generated: Generated, network: str) -> nn.Module:
    """The network class of a generated file, instantiated (the CLI exports the file it writes)."""
    module = load_source(generated.source, network)
    model = getattr(module, generated.class_name)()
    model.netspec_source = generated.source
    return model
