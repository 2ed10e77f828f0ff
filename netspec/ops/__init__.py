"""Layer kinds, one family per module; importing this package fills the registry."""
from netspec.ops import activation, conv, dropout, linear, merge, norm, pool, reshape  # noqa: F401
from netspec.ops.registry import all_ops, lookup

__all__ = ["all_ops", "lookup"]
