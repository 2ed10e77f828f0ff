"""Hypothesis strategies for whole specs, with names drawn from the reserved and colliding sets,
and the oracle every generated spec must satisfy (used by the property tests and scripts/fuzz.py)."""
from __future__ import annotations

import keyword

from hypothesis import strategies as st

# Names that generated code, nn.Module or the IR could trip over, and names one edit apart.
RESERVED_NAMES = sorted(
    {
        *(k for k in keyword.kwlist if k.isidentifier()), *keyword.softkwlist,
        "self", "super", "nn", "torch", "F", "x", "out", "cls", "input_", "x_", "out_", "class_", "forward_",
        "forward", "eval", "train", "to", "cuda", "float", "half", "apply", "parameters", "state_dict",
        "named_modules", "children", "modules", "training", "add_module", "register_buffer", "zero_grad",
        "_modules", "_parameters", "_buffers", "__class__", "__init__", "__call__", "__dict__", "__debug__", "__foo",
        "_forward_hooks", "dump_patches", "call_super_init", "T_destination",
        "none", "None_", "in_channels", "out_channels", "OrderedDict", "Sequential", "Module", "type", "print",
        "list", "len", "range", "getattr", "setattr", "int", "str", "object",
        "c", "c1", "c_1", "c2", "c_2", "c_1_2", "conv1", "conv_1", "relu1", "relu_1", "branch1", "shortcut",
        "layer1", "features", "classifier", "a", "b", "b1",
    }
)
NAMES = st.sampled_from(RESERVED_NAMES) | st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)


@st.composite
def specs(draw) -> str:
    """A spec that is usually valid: layers, `as` names, repeats, residuals, concats, named
    values, a block with parameters, and a classifier head; every name from NAMES."""
    network, param, block, block_param = draw(NAMES), draw(NAMES), draw(NAMES), draw(NAMES)
    channels = draw(st.integers(1, 4))
    lines = [f"network {network}({param} = {draw(st.integers(1, 5))})", f"input {channels}x6x6"]
    if draw(st.booleans()):
        inner = draw(NAMES)
        lines += [
            f"block {block}({block_param}, extra = 1):",
            f"    conv {block_param} 3x3 pad=1 as {inner}",
            "    relu",
        ]
    else:
        block = None
    named: list[str] = []

    def maybe_as() -> str:
        if draw(st.integers(0, 2)) == 0:
            return ""
        name = draw(NAMES)
        named.append(name)
        return f" as {name}"

    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["conv", "relu", "bn", "repeat", "residual", "concat", "block", "value", "add"]))
        width = draw(st.integers(1, 4))
        if kind == "conv":
            lines.append(f"conv {width} 3x3 pad=1{maybe_as()}")
        elif kind == "relu":
            lines.append(f"relu{maybe_as()}")
        elif kind == "bn":
            lines.append(f"batchnorm{maybe_as()}")
        elif kind == "repeat":
            index = f" as {draw(NAMES)}" if draw(st.booleans()) else ""
            lines += [f"repeat {draw(st.integers(1, 3))}{index}:", f"    conv {width} 1x1{maybe_as()}"]
        elif kind == "residual":
            lines += ["residual:", f"    conv in.channels 3x3 pad=1{maybe_as()}", f"    relu{maybe_as()}"]
        elif kind == "concat":
            lines += ["concat:", f"    branch: conv {width} 1x1{maybe_as()}", "    branch: relu"]
        elif kind == "block" and block is not None:
            lines.append(f"{block}({width}){maybe_as()}")
        elif kind == "value" and named:
            lines.append(f"{draw(NAMES)} = {draw(st.sampled_from(named))} | relu")
        elif kind == "add" and named:
            source = draw(st.sampled_from(named))
            lines.append(f"add({source}, {source}){maybe_as()}")
    if draw(st.booleans()):
        lines.append(f"global_avgpool; flatten; linear {param}{maybe_as()}")
    return "\n".join(lines) + "\n"


def check_compiled_agrees(text: str) -> str:
    """The oracle: `text` is refused with a NetspecError, or it compiles to a module whose
    parameter count, state_dict and per-layer output shapes (meta device, hooks by module path)
    equal the analysis. Returns "error" or "module" for statistics."""
    import netspec
    from netspec.errors import NetspecError
    from tests.torch_oracle import meta_module, run_on_meta

    try:
        analysis = netspec.analyze(text)
    except NetspecError:
        return "error"
    module = meta_module(lambda: netspec.compile(text))
    names = [layer.name for layer in analysis.layers]
    assert len(names) == len(set(names)), f"two layers share a name: {names}"
    state = module.state_dict()
    assert sum(p.numel() for p in module.parameters()) == analysis.totals.params
    assert sum(t.numel() for t in state.values()) == analysis.totals.params + analysis.totals.buffers
    with_weights = {layer.name for layer in analysis.layers if layer.params}
    owners = {key.rsplit(".", 1)[0] for key in state}
    assert with_weights <= owners, f"layers without state_dict entries: {sorted(with_weights - owners)}"
    shapes, _ = run_on_meta(module, analysis.input_shape)
    for layer in analysis.layers:
        assert shapes.get(layer.name) == layer.output_shape, (layer.name, shapes.get(layer.name), layer.output_shape)
    return "module"
