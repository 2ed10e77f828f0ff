"""Final node names: `conv#2` placeholders become `conv2`, or plain `conv` when a scope has one; never two alike."""
from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import replace
from typing import Mapping

from netspec.ir.graph import Frame, Node, Output


def finalize_names(
    nodes: list[Node], outputs: list[Output], issued: Mapping[tuple[str, str], int] | None = None
) -> tuple[list[Node], list[Output]]:
    """`issued` is how many `base#k` placeholders each (scope path, base) was given, used or not:
    the fourth branch is `branch4` even when the others are named some other way."""
    issued = issued or {}
    counts: dict[tuple[tuple[str, ...], str], set[int]] = defaultdict(set)
    explicit: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for node in nodes:
        segments = node.name.split(".")
        for depth, segment in enumerate(segments):
            prefix = tuple(segments[:depth])
            if "#" in segment:
                base, index = segment.split("#")
                counts[(prefix, base)].add(int(index))
            else:
                explicit[prefix].add(segment)

    chosen: dict[tuple[tuple[str, ...], str], str] = {}
    taken: dict[tuple[str, ...], set[str]] = defaultdict(set)  # numbered names already given, per scope

    def final(prefix: tuple[str, ...], segment: str) -> str:
        """`conv#2` → `conv2` (or `conv` when alone), unless the spec or an earlier placeholder
        already uses that name in the same scope: then `conv_2`, `conv_2_2`, ... (never twice)."""
        if "#" not in segment:
            return segment
        key = (prefix, segment)
        if key in chosen:
            return chosen[key]
        base, index = segment.split("#")
        alone = len(counts[(prefix, base)]) == 1 and issued.get((".".join(prefix), base), 1) == 1
        name = base if alone else f"{base}{index}"
        candidates = itertools.chain([name, f"{base}_{index}"], (f"{base}_{index}_{k}" for k in itertools.count(2)))
        name = next(c for c in candidates if c not in explicit[prefix] and c not in taken[prefix])
        taken[prefix].add(name)
        chosen[key] = name
        return name

    def rename(path: str) -> str:
        segments = path.split(".")
        return ".".join(final(tuple(segments[:d]), s) for d, s in enumerate(segments))

    def rename_frames(frames: tuple[Frame, ...]) -> tuple[Frame, ...]:
        provisional = [f.name for f in frames]
        return tuple(
            replace(f, name=final(tuple(provisional[:d]), f.name)) for d, f in enumerate(frames)
        )

    renamed = [
        replace(n, name=rename(n.name), inputs=tuple(rename(i) for i in n.inputs), scope=rename_frames(n.scope))
        for n in nodes
    ]
    new_outputs = [replace(o, node=rename(o.node), name=rename(o.name) if "#" in o.name else o.name) for o in outputs]
    return renamed, new_outputs


def module_path_clashes(nodes: list[Node]) -> list[tuple[Node, Node]]:
    """Pairs (earlier, later) of layers whose module paths clash: the same name twice, or a
    layer named like a scope that holds other layers (`b` and `b.conv`). The IR promises
    one module per path, so these are errors, never silently merged modules."""
    owner: dict[str, Node] = {}  # path → the first layer at it or under it
    layers: dict[str, Node] = {}
    clashes = []
    for node in nodes:
        segments = node.name.split(".")
        scopes = [".".join(segments[:d]) for d in range(1, len(segments))]
        if node.name in layers:
            clash = layers[node.name]
        elif node.name in owner:
            clash = owner[node.name]
        else:
            clash = next((layers[s] for s in scopes if s in layers), None)
        if clash is not None:
            clashes.append((clash, node))
            continue
        layers[node.name] = node
        for scope in scopes:
            owner.setdefault(scope, node)
    return clashes
