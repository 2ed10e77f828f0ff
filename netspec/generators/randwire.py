"""Randomly wired networks (Xie, Kirillov, Girshick & He, ICCV 2019) written as an ordinary spec.

A stage is a classical random graph (Watts-Strogatz, Erdős-Rényi or Barabási-Albert, from
networkx) made a DAG by directing every edge from the lower to the higher node number.
Following the paper's Section 3: a node with several inputs sums them with learned positive
weights (the `weighted_sum` op), then applies ReLU → 3×3 separable convolution → batchnorm;
nodes without predecessors read the stage input (their convolution has stride 2), and the
nodes without successors are averaged into the stage output. Stages are chained as in the
paper's Table 1. The result is plain text in our language: named values and merges, one
block per stage, nothing that only this generator understands.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import networkx as nx

GRAPH_MODELS = ("ws", "er", "ba")
REGIMES = ("small", "regular")
PAPER = "Xie, Kirillov, Girshick & He, \"Exploring Randomly Wired Neural Networks for Image Recognition\", ICCV 2019"


@dataclass(frozen=True)
class RandWireConfig:
    """Everything that determines a generated network; equal configs give byte-identical specs."""

    graph: str = "ws"
    nodes: int = 32
    k: int = 4  # WS: each node starts joined to its k nearest ring neighbours
    p: float | None = None  # WS: rewiring probability (0.75); ER: edge probability (0.2)
    m: int = 5  # BA: edges added with each new node
    seed: int = 0
    regime: str = "small"
    channels: int = 78
    classes: int = 1000
    name: str | None = None

    @property
    def probability(self) -> float:
        if self.p is not None:
            return self.p
        return 0.2 if self.graph == "er" else 0.75

    @property
    def network_name(self) -> str:
        return self.name or f"randwire_{self.graph}_seed{self.seed}"

    def describe_model(self, nodes: int) -> str:
        if self.graph == "ws":
            return f"WS(N={nodes}, K={self.k}, P={self.probability:g})"
        if self.graph == "er":
            return f"ER(N={nodes}, P={self.probability:g})"
        return f"BA(N={nodes}, M={self.m})"

    def command(self) -> str:
        parts = [f"netspec randwire --graph {self.graph} --nodes {self.nodes}"]
        if self.graph == "ws":
            parts.append(f"--k {self.k} --p {self.probability:g}")
        elif self.graph == "er":
            parts.append(f"--p {self.probability:g}")
        else:
            parts.append(f"--m {self.m}")
        parts.append(f"--seed {self.seed} --regime {self.regime} --channels {self.channels}")
        return " ".join(parts)


class ConfigError(ValueError):
    """The requested graph model or regime cannot be built (said in terms of the command's options)."""


@dataclass(frozen=True)
class Stage:
    """One random-graph stage: its Table 1 name, node count and output channels."""

    name: str
    nodes: int
    channels: int


def stages(config: RandWireConfig) -> tuple[Stage, ...]:
    """The random-graph rows of the paper's Table 1 for the config's regime."""
    n, c = config.nodes, config.channels
    if config.regime == "small":  # conv1, conv2 are plain convolutions
        return (Stage("conv3", n, c), Stage("conv4", n, 2 * c), Stage("conv5", n, 4 * c))
    return (Stage("conv2", n // 2, c), Stage("conv3", n, 2 * c), Stage("conv4", n, 4 * c), Stage("conv5", n, 8 * c))


def check_config(config: RandWireConfig) -> None:
    if config.graph not in GRAPH_MODELS:
        raise ConfigError(f"--graph must be one of {', '.join(GRAPH_MODELS)}, got '{config.graph}'")
    if config.regime not in REGIMES:
        raise ConfigError(f"--regime must be one of {', '.join(REGIMES)}, got '{config.regime}'")
    if config.channels < 2:
        raise ConfigError(f"--channels must be at least 2, got {config.channels}")
    if not 0.0 <= config.probability <= 1.0:
        raise ConfigError(f"--p is a probability and must be between 0 and 1, got {config.probability:g}")
    smallest = min(stage.nodes for stage in stages(config))
    if smallest < 2:
        raise ConfigError(f"--nodes {config.nodes} leaves a stage with {smallest} nodes; give at least 4")
    if config.graph == "ws" and (config.k < 2 or config.k % 2 or config.k >= smallest):
        raise ConfigError(f"--k must be even, at least 2 and below each stage's node count ({smallest}); got {config.k}")
    if config.graph == "ba" and not 1 <= config.m < smallest:
        raise ConfigError(f"--m must be at least 1 and below each stage's node count ({smallest}); got {config.m}")


def random_dag(config: RandWireConfig, nodes: int, stage: str) -> nx.DiGraph:
    """The stage's undirected random graph from networkx, each edge directed from lower to higher number."""
    rng = random.Random(f"randwire:{config.seed}:{stage}")  # a string seed is hashed stably (SHA-512)
    if config.graph == "ws":
        undirected = nx.watts_strogatz_graph(nodes, config.k, config.probability, seed=rng)
    elif config.graph == "er":
        undirected = nx.erdos_renyi_graph(nodes, config.probability, seed=rng)
    else:
        undirected = nx.barabasi_albert_graph(nodes, config.m, seed=rng)
    dag = nx.DiGraph()
    dag.add_nodes_from(sorted(undirected.nodes))
    dag.add_edges_from(sorted((min(u, v), max(u, v)) for u, v in undirected.edges))
    return dag


def stage_graphs(config: RandWireConfig) -> dict[str, nx.DiGraph]:
    check_config(config)
    return {stage.name: random_dag(config, stage.nodes, stage.name) for stage in stages(config)}


# ---- writing the spec -------------------------------------------------------------------


def _stage_block(stage: Stage, dag: nx.DiGraph, config: RandWireConfig) -> list[str]:
    order = list(nx.lexicographical_topological_sort(dag))
    sources = [v for v in order if dag.in_degree(v) == 0]
    sinks = [v for v in order if dag.out_degree(v) == 0]
    lines = [
        f"# {stage.name}: {config.describe_model(stage.nodes)}, {dag.number_of_edges()} edges; "
        f"{len(sources)} nodes read the stage input, {len(sinks)} are averaged into its output",
        f"block {stage.name}_graph():",
    ]
    for v in order:
        preds = sorted(dag.predecessors(v))
        if not preds:
            lines.append(f"    n{v} = node({stage.channels}, stride=2)")
        elif len(preds) == 1:
            lines.append(f"    n{v} = n{preds[0]} | node({stage.channels})")
        else:
            lines.append(f"    n{v} = weighted_sum({', '.join(f'n{u}' for u in preds)}) | node({stage.channels})")
    if len(sinks) == 1:
        lines.append(f"    n{sinks[0]}")
    else:
        lines.append(f"    weighted_sum({', '.join(f'n{v}' for v in sinks)}, learned=false) as mean")
    return lines


def randwire_spec(config: RandWireConfig) -> str:
    """The spec text of one sampled network; the same config always gives the same bytes."""
    graphs = stage_graphs(config)
    c = config.channels
    out = [
        f"# RandWire-{config.graph.upper()}, {config.regime} regime (C = {c}), graphs {config.describe_model(config.nodes)}, seed {config.seed}.",
        f"# Written by: {config.command()}",
        f"# {PAPER}, Table 1.",
        "# Each stage is a random graph made acyclic by numbering its nodes (edges go from the",
        "# lower number to the higher). A node sums its inputs with learned positive weights",
        "# (weighted_sum), then applies ReLU, a 3x3 separable convolution and batchnorm; nodes",
        "# without inputs read the stage input with stride 2; nodes without successors are averaged.",
        f"network {config.network_name}(classes = {config.classes})",
        "input 3x224x224",
        "",
        "# A node's transformation: ReLU -> 3x3 depthwise conv -> 1x1 conv -> batchnorm.",
        "block node(channels, stride = 1):",
        "    relu",
        "    conv in.channels 3x3 stride=stride pad=1 groups=in.channels bias=false as depthwise",
        "    conv channels 1x1 bias=false as pointwise",
        "    batchnorm as bn",
        "",
    ]
    for stage in stages(config):
        out += _stage_block(stage, graphs[stage.name], config) + [""]
    out.append(f"conv {c // 2} 3x3 stride=2 pad=1 bias=false as conv1; batchnorm as bn1")
    if config.regime == "small":
        out.append(f"relu; conv {c} 3x3 stride=2 pad=1 bias=false as conv2; batchnorm as bn2")
    for stage in stages(config):
        out.append(f"{stage.name}_graph() as {stage.name}")
    out += [
        "# classifier: 1x1 conv to 1280 channels, global average pooling, a linear layer",
        "relu; conv 1280 1x1 bias=false as conv6; batchnorm as bn6; relu",
        "global_avgpool as pool",
        "flatten",
        "linear classes as fc",
    ]
    return "\n".join(out) + "\n"
