"""Generated source → live torch module: executes the same text `netspec build` writes to disk."""
from __future__ import annotations

import linecache

import torch.nn as nn

from netspec.compiler.codegen import class_name, generate
from netspec.ir.graph import Graph


def load_source(source: str, filename: str) -> dict:
    """Execute generated source as a module namespace; tracebacks show its real lines (linecache)."""
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict = {"__name__": f"netspec_generated_{abs(hash(filename))}", "__file__": filename}
    exec(code, namespace)  # noqa: S102 - our own generated code, never spec text
    return namespace


def build_module(graph: Graph) -> nn.Module:
    return build_source_module(graph, generate(graph))


def build_source_module(graph: Graph, source: str) -> nn.Module:
    """The module that generated `source` (of `graph`) defines, instantiated."""
    namespace = load_source(source, f"<netspec {graph.name}>")
    module = namespace[class_name(graph)]()
    module.netspec_source = source
    return module
