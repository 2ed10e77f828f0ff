"""Memory analysis of a graph: inference peak by liveness, and a training-step estimate per optimizer.

Both are simulations over the execution order (`netspec.ir.order`, the generated
forward's; `netspec.ir.liveness`), counting what
torch allocates for tensors — bytes of every storage alive at each step — never kernel
workspaces (oneDNN scratchpads, im2col buffers), which torch allocates and frees inside
one op and which depend on the backend.

Inference (eval mode, no autograd):
- the network input is the caller's tensor and lives throughout; outputs live to the end;
- every other value is freed after its last reader — but not before the block it was
  passed into returns: the generated forward of the calling block holds its argument in
  a local variable for the duration of the call (`x = self.layer1(x)`);
- views (flatten, reshape, identity, chunk, split, dropout in eval) and nodes that run in
  place allocate nothing: they share their input's storage, which lives as long as the
  longest-lived of the values sharing it;
- a node's output is allocated while its inputs are still alive, so the live bytes of a
  step are: everything alive before it + its own output + what the op allocates and
  frees within itself (`OpDef.scratch`: max-pool indices, normalization statistics);
- layers that only `output ... when training` values need (`Graph.training_only`:
  auxiliary heads) are skipped, as the compiled module's `if self.training:` skips them;
  the values they would read are held up to their place in the forward all the same
  (right after those values are made: the execution order runs the heads early).

Training (one steady-state step: forward, loss, backward, optimizer step):
- persistent: parameters, buffers, optimizer state (see OPTIMIZER_STATE);
- forward: as inference, plus every tensor an op saves for backward (`OpDef.saved`:
  inputs, outputs, masks, indices, statistics) stays alive until that op's backward;
  dropout allocates its output (it is a view only in eval mode);
- backward, in reverse order: each op frees what it saved once its backward ran; the
  gradient of each value is one buffer of the value's size, except for ops whose
  backward passes the gradient through or as a view (views, add, concat); parameter
  gradients are allocated when their op's backward runs and kept for the step;
- step: parameters + gradients + state + the largest temporaries of the update
  (Adam's denominator `sqrt(v) / c` takes two parameter-sized temporaries at once).
The estimate is the peak over that timeline.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Collection, Mapping

from netspec.ir.graph import Graph, Node
from netspec.ir.liveness import Liveness
from netspec.ops.base import numel

DTYPE_BYTES: Mapping[str, int] = MappingProxyType({"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8})

# Optimizer state in parameter-sized tensors, and the largest parameter-sized temporaries
# its update allocates at once (torch.optim single-tensor implementations, as on CPU).
OPTIMIZER_STATE: Mapping[str, tuple[int, int, str]] = MappingProxyType(
    {
        "sgd": (0, 0, "no state; p -= lr·g in place"),
        "sgd-momentum": (1, 0, "one momentum buffer per parameter; updated in place"),
        "adam": (2, 2, "exp_avg and exp_avg_sq per parameter; sqrt(v)/c takes two temporaries"),
        "adamw": (2, 2, "as adam; the decoupled weight decay is applied in place"),
    }
)


@dataclass(frozen=True)
class InferenceMemory:
    """Peak bytes of live tensors during one forward in eval mode, and where it happens."""

    batch: int
    dtype: str
    peak_bytes: int  # activations, including the input batch
    peak_layer: str
    live_bytes: Mapping[str, int]  # layer → bytes alive while it runs
    param_bytes: int
    buffer_bytes: int

    @property
    def total_bytes(self) -> int:
        """What the process holds at the peak: weights, buffers and live activations."""
        return self.param_bytes + self.buffer_bytes + self.peak_bytes

    def as_dict(self) -> dict:
        return {
            "batch": self.batch,
            "dtype": self.dtype,
            "peak_activation_bytes": self.peak_bytes,
            "peak_layer": self.peak_layer,
            "param_bytes": self.param_bytes,
            "buffer_bytes": self.buffer_bytes,
            "total_bytes": self.total_bytes,
        }


@dataclass(frozen=True)
class TrainingMemory:
    """Peak bytes of one training step with a given optimizer, and its parts."""

    batch: int
    dtype: str
    optimizer: str
    param_bytes: int
    buffer_bytes: int
    gradient_bytes: int
    optimizer_state_bytes: int
    saved_bytes: int  # everything autograd keeps for backward at the end of the forward
    peak_bytes: int
    peak_phase: str  # "forward", "backward at LAYER" or "optimizer step"

    def as_dict(self) -> dict:
        return {
            "batch": self.batch,
            "dtype": self.dtype,
            "optimizer": self.optimizer,
            "param_bytes": self.param_bytes,
            "buffer_bytes": self.buffer_bytes,
            "gradient_bytes": self.gradient_bytes,
            "optimizer_state_bytes": self.optimizer_state_bytes,
            "saved_for_backward_bytes": self.saved_bytes,
            "peak_bytes": self.peak_bytes,
            "peak_phase": self.peak_phase,
        }


@dataclass(frozen=True)
class MemoryScale:
    """What byte figures are for: a batch size and an element type (`--batch`, `--dtype`)."""

    batch: int = 1
    dtype: str = "float32"

    def __post_init__(self) -> None:
        dtype_bytes(self.dtype)  # refuses an unknown type
        if self.batch < 1:
            raise ValueError(f"batch must be at least 1, got {self.batch}")

    @property
    def itemsize(self) -> int:
        return DTYPE_BYTES[self.dtype]

    def activation_bytes(self, elements_per_sample: int) -> int:
        """Bytes of a batch of tensors with this many elements per sample."""
        return elements_per_sample * self.batch * self.itemsize

    def weight_bytes(self, elements: int) -> int:
        """Bytes of parameters or buffers (one copy, whatever the batch)."""
        return elements * self.itemsize

    def describe(self) -> str:
        return f"batch {self.batch}, {self.dtype}"


def dtype_bytes(dtype: str) -> int:
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype '{dtype}'; choose one of {', '.join(DTYPE_BYTES)}") from None


# ---- when the generated module drops its references --------------------------------------------


def release_steps(graph: Graph, live: Liveness) -> dict[str, int]:
    """Per value, the last step during which the generated forward still references it.

    The last reader, extended to the end of every block the value is passed into (the
    caller's local holds the argument during the call); outputs and the input: the end.
    """
    nodes = _in_order(graph, live)
    end = len(nodes)
    frame_end: dict[tuple[str, ...], int] = {}
    for index, node in enumerate(nodes):
        path: tuple[str, ...] = ()
        for frame in node.scope:
            path = path + (frame.name,)
            frame_end[path] = index
    release = dict(live.last_use)
    release[graph.input.name] = end
    for index, node in enumerate(nodes):
        reader_path = tuple(f.name for f in node.scope)
        for value in node.inputs:
            producer_path = tuple(f.name for f in graph.node(value).scope)
            common = 0
            while common < min(len(reader_path), len(producer_path)) and reader_path[common] == producer_path[common]:
                common += 1
            if len(reader_path) > common:
                release[value] = max(release[value], frame_end[reader_path[: common + 1]])
    return release


def _in_order(graph: Graph, live: Liveness) -> list[Node]:
    """The nodes in execution order (`Liveness.order`, the generated forward's)."""
    return [graph.node(name) for name in live.order]


def _value_bytes(node: Node, batch: int, itemsize: int) -> int:
    return numel(node.shape) * batch * itemsize


def _storage_roots(graph: Graph, inplace: Collection[str], live: Liveness, training: bool) -> dict[str, str]:
    roots: dict[str, str] = {}
    for node in graph.nodes:
        if node is graph.input:
            roots[node.name] = node.name
            continue
        shapes = graph.input_shapes(node)
        if node.name in inplace:
            roots[node.name] = roots[node.inputs[live.inplace.get(node.name, 0)]]
        elif node.opdef.aliases_in_training(node.attrs, shapes) if training else node.opdef.aliases_input(node.attrs, shapes):
            roots[node.name] = roots[node.inputs[0]]
        else:
            roots[node.name] = node.name
    return roots


def _scratch_bytes(graph: Graph, node: Node, batch: int, itemsize: int) -> int:
    if node is graph.input:
        return 0
    kept = node.opdef.scratch(node.attrs, graph.input_shapes(node), node.shape)
    return sum(k.elements * (batch if k.per_sample else 1) * (k.itemsize or itemsize) for k in kept)


def _weights(graph: Graph, itemsize: int) -> tuple[int, int, dict[str, int]]:
    params, buffers, per_node = 0, 0, {}
    for node in graph.layers():
        shapes = graph.input_shapes(node)
        p = node.opdef.params(node.attrs, shapes)
        per_node[node.name] = p * itemsize
        params += p * itemsize
        buffers += node.opdef.buffers(node.attrs, shapes) * itemsize
    return params, buffers, per_node


# ---- inference -------------------------------------------------------------------------------------


def inference_memory(
    graph: Graph,
    batch: int = 1,
    dtype: str = "float32",
    inplace: Collection[str] | None = None,
    hold_block_arguments: bool = True,
) -> InferenceMemory:
    """Simulate one eval-mode forward.

    `inplace` overrides which nodes run in place (default: the liveness rule's choice);
    `hold_block_arguments=False` frees every value right after its last reader, as a
    flat forward without nested block calls would.
    """
    itemsize = dtype_bytes(dtype)
    live = graph.liveness
    chosen = set(live.inplace) if inplace is None else set(inplace)
    roots = _storage_roots(graph, chosen, live, training=False)
    release = release_steps(graph, live) if hold_block_arguments else {**live.last_use, graph.input.name: len(graph.nodes)}
    skipped = graph.training_only
    free_after: dict[str, int] = {}
    for value, root in roots.items():
        if value not in skipped:
            free_after[root] = max(free_after.get(root, -1), release[value])

    alive = _LiveStorages(free_after)
    per_step: dict[str, int] = {}
    peak, peak_layer = 0, graph.input.name
    for index, node in enumerate(_in_order(graph, live)):
        if node.name in skipped:  # not run in eval: what is alive at its place in the forward
            per_step[node.name] = alive.total
            continue
        if roots[node.name] == node.name:
            alive.allocate(node.name, _value_bytes(node, batch, itemsize))
        current = alive.total + _scratch_bytes(graph, node, batch, itemsize)
        per_step[node.name] = current
        if current > peak:
            peak, peak_layer = current, node.name
        alive.free_due(index)
    params, buffers, _ = _weights(graph, itemsize)
    return InferenceMemory(batch, dtype, peak, peak_layer, MappingProxyType(per_step), params, buffers)


# ---- training ---------------------------------------------------------------------------------------


def training_memory(
    graph: Graph,
    batch: int = 1,
    dtype: str = "float32",
    optimizer: str = "sgd",
    inplace: Collection[str] | None = None,
    simulated: TrainingPass | None = None,
) -> TrainingMemory:
    """Simulate one steady-state training step; `inplace` as for `inference_memory`.

    The optimizer adds its state to every step alike, so the forward and backward are simulated
    once (`training_pass`) for all optimizers: pass `simulated` to reuse one."""
    if optimizer not in OPTIMIZER_STATE:
        raise ValueError(f"unknown optimizer '{optimizer}'; choose one of {', '.join(OPTIMIZER_STATE)}")
    run = simulated or training_pass(graph, batch, dtype, inplace)
    state_copies, temporaries, _ = OPTIMIZER_STATE[optimizer]
    state = state_copies * run.param_bytes
    peak, phase = run.peak_bytes + state, run.peak_phase
    step = run.param_bytes + run.buffer_bytes + state + run.param_bytes + temporaries * run.largest_param_bytes
    if step > peak:
        peak, phase = step, "optimizer step"
    return TrainingMemory(run.batch, run.dtype, optimizer, run.param_bytes, run.buffer_bytes, run.param_bytes, state,
                          run.saved_bytes, peak, phase)


@dataclass(frozen=True)
class TrainingPass:
    """One training step's forward and backward, before any optimizer state: what every
    optimizer's figure is built from."""

    batch: int
    dtype: str
    param_bytes: int
    buffer_bytes: int
    largest_param_bytes: int  # the largest parameter tensor (optimizers' temporaries are its size)
    saved_bytes: int  # everything autograd keeps for backward at the end of the forward
    peak_bytes: int  # weights + buffers + live activations and gradients, at their peak
    peak_phase: str


def training_pass(graph: Graph, batch: int = 1, dtype: str = "float32",
                  inplace: Collection[str] | None = None) -> TrainingPass:
    """Simulate the forward and the backward of a training step; `inplace` as for `inference_memory`."""
    itemsize = dtype_bytes(dtype)
    live = graph.liveness
    inplace = set(live.inplace) if inplace is None else set(inplace)
    roots = _storage_roots(graph, inplace, live, training=True)
    release = release_steps(graph, live)
    params, buffers, node_params = _weights(graph, itemsize)
    largest_param = max((_largest_tensor(n, graph) for n in graph.layers()), default=0) * itemsize
    persistent = params + buffers
    nodes = _in_order(graph, live)
    size = {n.name: _value_bytes(n, batch, itemsize) for n in nodes}
    needs_grad = _needs_grad(graph)

    # who keeps which storage for backward; extras are private to their node
    keepers: dict[str, set[str]] = {}
    kept_roots: dict[str, set[str]] = {}
    extras: dict[str, int] = {}
    for node in graph.layers():
        if node.name not in needs_grad:
            continue
        saved = node.opdef.saved(node.attrs, graph.input_shapes(node), node.shape, inplace=node.name in inplace)
        kept = {roots[node.inputs[i]] for i in saved.inputs}
        if saved.output:
            kept.add(roots[node.name])
        for root in kept:
            keepers.setdefault(root, set()).add(node.name)
        kept_roots[node.name] = kept
        extras[node.name] = sum(
            k.elements * (batch if k.per_sample else 1) * (k.itemsize or itemsize) for k in saved.extra
        )

    free_after: dict[str, int] = {}
    for value, root in roots.items():
        free_after[root] = max(free_after.get(root, -1), release[value])

    # forward
    alive = _LiveStorages(free_after)
    kept_extras = 0
    peak, phase = 0, "forward"
    for index, node in enumerate(nodes):
        if roots[node.name] == node.name:
            alive.allocate(node.name, size[node.name])
        kept_extras += extras.get(node.name, 0)
        current = persistent + alive.total + kept_extras
        if current > peak:
            peak, phase = current, "forward"
        alive.free_due(index, unless=keepers.__contains__)
    saved_total = alive.total + kept_extras

    # backward, in reverse order; the loss gives each output a gradient of its size
    grads = _Gradients()
    for output in graph.outputs:
        grads.give(output.node, f"d{output.node}", size[output.node])
    param_grads = 0
    for node in reversed(nodes[1:]):
        if node.name not in needs_grad or node.name not in grads.of:
            continue
        g = grads.of.pop(node.name)
        passes = _passes_gradient(node)
        new = 0
        for value in dict.fromkeys(node.inputs):
            if value not in needs_grad:
                continue
            if value in grads.of:  # a second reader's gradient: computed, then added into the first
                new += 0 if passes else size[value]
            elif passes:
                grads.give(value, g, 0)
            else:
                grads.give(value, f"d{value}@{node.name}", size[value])
        param_grads += node_params.get(node.name, 0)
        current = persistent + alive.total + kept_extras + grads.total + new + param_grads
        if current > peak:
            peak, phase = current, f"backward at {node.name}"
        # the op's backward ran: what it kept, and its output's gradient, are released
        kept_extras -= extras.get(node.name, 0)
        for root in kept_roots.get(node.name, ()):
            who = keepers[root]
            who.discard(node.name)
            if not who:
                alive.free(root)
        grads.drop(g)
    return TrainingPass(batch, dtype, params, buffers, largest_param, saved_total, peak, phase)


def _largest_tensor(node: Node, graph: Graph) -> int:
    """Elements of the node's largest parameter tensor (its weight; biases are smaller)."""
    shapes = graph.input_shapes(node)
    total = node.opdef.params(node.attrs, shapes)
    if total == 0:
        return 0
    channels = node.shape[0] if node.shape else 1
    bias = channels if node.attrs.get("bias") is True else 0
    return max(total - bias, bias)


def _needs_grad(graph: Graph) -> set[str]:
    """Values that depend on a parameter: the only ones autograd tracks."""
    result: set[str] = set()
    for node in graph.layers():
        if node.opdef.params(node.attrs, graph.input_shapes(node)) or any(i in result for i in node.inputs):
            result.add(node.name)
    return result


def _passes_gradient(node: Node) -> bool:
    """The op's backward hands the output gradient on unchanged or as a view of it."""
    return node.op in ("add", "concat") or node.opdef.family == "reshape" and node.op in ("flatten", "reshape", "identity")


class _LiveStorages:
    """The storages alive during a simulated pass: bytes each, their running total, and the step
    after which each is due to be freed (so a step costs what it frees, not what is alive)."""

    def __init__(self, free_after: Mapping[str, int]) -> None:
        self.bytes: dict[str, int] = {}
        self.total = 0
        self._due: dict[int, list[str]] = {}
        for root, step in free_after.items():
            self._due.setdefault(step, []).append(root)
        self._swept = -1

    def allocate(self, root: str, nbytes: int) -> None:
        self.bytes[root] = nbytes
        self.total += nbytes

    def free(self, root: str) -> None:
        self.total -= self.bytes.pop(root, 0)

    def free_due(self, step: int, unless: Callable[[str], bool] = lambda root: False) -> None:
        """Free what is due after `step` or earlier, but not the storages `unless` holds back."""
        for due in range(self._swept + 1, step + 1):
            for root in self._due.pop(due, ()):
                if not unless(root):
                    self.free(root)
        self._swept = max(self._swept, step)


class _Gradients:
    """Gradient buffers alive during the simulated backward, with their running total."""

    def __init__(self) -> None:
        self.bytes: dict[str, int] = {}  # gradient buffer → bytes
        self.of: dict[str, str] = {}  # value → its gradient's buffer
        self.holders: dict[str, int] = {}  # gradient buffer → number of values (or views) still using it
        self.total = 0

    def give(self, value: str, buffer: str, nbytes: int) -> None:
        if buffer not in self.bytes:
            self.bytes[buffer] = nbytes
            self.total += nbytes
        self.holders[buffer] = self.holders.get(buffer, 0) + 1
        self.of[value] = buffer

    def drop(self, buffer: str) -> None:
        self.holders[buffer] -= 1
        if self.holders[buffer] == 0:
            del self.holders[buffer]
            self.total -= self.bytes.pop(buffer)
