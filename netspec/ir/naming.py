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
    # A scope is identified by its provisional dotted path ("" for the top level). Every scope
    # path is a prefix of a node name; each distinct one is looked at once (linear time).
    counts: dict[tuple[str, str], set[int]] = defaultdict(set)
    explicit: dict[str, set[str]] = defaultdict(set)
    scanned: set[str] = set()
    for node in nodes:
        path = node.name
        while path and path not in scanned:
            scanned.add(path)
            prefix, _, segment = path.rpartition(".")
            if "#" in segment:
                base, index = segment.split("#")
                counts[(prefix, base)].add(int(index))
            else:
                explicit[prefix].add(segment)
            path = prefix

    chosen: dict[tuple[str, str], str] = {}
    taken: dict[str, set[str]] = defaultdict(set)  # numbered names already given, per scope

    def final(prefix: str, segment: str) -> str:
        """`conv#2` → `conv2` (or `conv` when alone), unless the spec or an earlier placeholder
        already uses that name in the same scope: then `conv_2`, `conv_2_2`, ... (never twice)."""
        if "#" not in segment:
            return segment
        key = (prefix, segment)
        if key in chosen:
            return chosen[key]
        base, index = segment.split("#")
        alone = len(counts[(prefix, base)]) == 1 and issued.get((prefix, base), 1) == 1
        name = base if alone else f"{base}{index}"
        used, given = explicit[prefix], taken[prefix]
        if name in used or name in given:
            candidates = itertools.chain([f"{base}_{index}"], (f"{base}_{index}_{k}" for k in itertools.count(2)))
            name = next(c for c in candidates if c not in used and c not in given)
        given.add(name)
        chosen[key] = name
        return name

    renamed_paths: dict[str, str] = {}

    def rename(path: str) -> str:
        done = renamed_paths.get(path)
        if done is None:
            prefix, _, segment = path.rpartition(".")
            done = f"{rename(prefix)}.{final(prefix, segment)}" if prefix else final("", segment)
            renamed_paths[path] = done
        return done

    renamed_scopes: dict[int, tuple[Frame, ...]] = {}  # by identity: the nodes of a scope share its tuple

    def rename_frames(frames: tuple[Frame, ...]) -> tuple[Frame, ...]:
        done = renamed_scopes.get(id(frames))
        if done is None:
            prefixes = [""]
            for frame in frames[:-1]:
                prefixes.append(f"{prefixes[-1]}.{frame.name}" if prefixes[-1] else frame.name)
            done = tuple(
                f if "#" not in f.name else Frame(final(prefix, f.name), f.block, f.span, f.args, f.definition)
                for prefix, f in zip(prefixes, frames)
            )
            renamed_scopes[id(frames)] = done
        return done

    renamed = list(nodes)
    for index, n in enumerate(renamed):  # replaced one by one: each old node is freed as it goes
        renamed[index] = Node(rename(n.name), n.op, n.attrs, tuple([rename(i) for i in n.inputs]), n.shape, n.span, rename_frames(n.scope))
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
        parent = node.name.rpartition(".")[0]
        if parent in owner:  # then no layer is at or above it (one there would have clashed with its scope)
            clash = layers.get(node.name) or owner.get(node.name)
            if clash is not None:
                clashes.append((clash, node))
            else:
                layers[node.name] = node
            continue
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
