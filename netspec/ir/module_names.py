"""Naming pass: layer names a torch module cannot register as children get a trailing underscore.

Node names are the module paths of the compiled module, so a name that `nn.Module`
already uses for itself (`forward`, `eval`, `to`, `state_dict`, `_modules`, ...) cannot
name a layer: `add_module` refuses it. Such a name becomes `forward_` (or `forward__`
if that is taken too). The list is kept here, without importing torch; a test checks it
covers every attribute of `nn.Module` and `nn.Sequential`.
"""
from __future__ import annotations

from dataclasses import replace

from netspec.ir.graph import Frame, Node, Output

MODULE_ATTRIBUTES = frozenset("""
T_destination __annotations__ __call__ __class__ __delattr__ __dict__ __dir__ __doc__ __eq__
__format__ __ge__ __getattr__ __getattribute__ __getstate__ __gt__ __hash__ __init__
__init_subclass__ __le__ __lt__ __module__ __ne__ __new__ __reduce__ __reduce_ex__ __repr__
__setattr__ __setstate__ __sizeof__ __str__ __subclasshook__ __weakref__ __constants__
__getitem__ __setitem__ __delitem__ __len__ __iter__ __contains__ __add__ __iadd__ __mul__
__imul__ __rmul__ __slots__ __qualname__ __bool__
_apply _backward_hooks _backward_pre_hooks _buffers _call_impl _compiled_call_impl
_forward_hooks _forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks
_forward_pre_hooks_with_kwargs _get_backward_hooks _get_backward_pre_hooks _get_name
_is_full_backward_hook _load_from_state_dict _load_state_dict_post_hooks
_load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules _named_members
_non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook
_register_state_dict_hook _replicate_for_data_parallel _save_to_state_dict _slow_forward
_state_dict_hooks _state_dict_pre_hooks _version _wrapped_call_impl _get_item_by_idx
add_module append apply bfloat16 buffers call_super_init children compile cpu cuda double
dump_patches eval extend extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule half insert ipu load_state_dict modules mtia named_buffers named_children
named_modules named_parameters parameters pop register_backward_hook register_buffer
register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
set_submodule share_memory state_dict to to_empty train training type xpu zero_grad
""".split())


def legal_module_names(nodes: list[Node], outputs: list[Output]) -> tuple[list[Node], list[Output]]:
    """Rename every path segment that nn.Module reserves; the rest of each path is unchanged."""
    segments = {segment for n in nodes for segment in n.name.split(".")}  # a scope's path begins its layers' names
    if MODULE_ATTRIBUTES.isdisjoint(segments):
        return nodes, outputs
    paths = {n.name for n in nodes} | {".".join(f.name for f in n.scope[: d + 1]) for n in nodes for d in range(len(n.scope))}
    renamed: dict[str, str] = {}
    taken = set(paths)
    for path in sorted(paths, key=lambda p: p.count(".")):
        parent, _, segment = path.rpartition(".")
        parent = renamed.get(parent, parent)
        if segment in MODULE_ATTRIBUTES:
            segment += "_"
            while f"{parent}.{segment}".lstrip(".") in taken:
                segment += "_"
        new = f"{parent}.{segment}".lstrip(".") if parent else segment
        taken.add(new)
        renamed[path] = new

    def frames(scope: tuple[Frame, ...]) -> tuple[Frame, ...]:
        out, path = [], ""
        for frame in scope:
            path = f"{path}.{frame.name}" if path else frame.name
            out.append(replace(frame, name=renamed[path].rsplit(".", 1)[-1]))
        return tuple(out)

    new_nodes = [
        replace(n, name=renamed.get(n.name, n.name), inputs=tuple(renamed.get(i, i) for i in n.inputs), scope=frames(n.scope))
        for n in nodes
    ]
    new_outputs = [replace(o, node=renamed.get(o.node, o.node)) for o in outputs]
    return new_nodes, new_outputs
