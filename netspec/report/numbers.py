"""How the reports write numbers: exact with thousands separators, short with a unit, bytes in decimal units."""
from __future__ import annotations

UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


def human(n: int | float, digits: int = 2) -> str:
    """4089184256 → '4.09 G'; 61100840 → '61.10 M'; 942 → '942'."""
    for scale, unit in UNITS:
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f} {unit}"
    return f"{n:,}" if isinstance(n, int) else f"{n:g}"


def exact(n: int) -> str:
    return f"{n:,}"


def megabytes(n_bytes: int | float) -> str:
    """Bytes in decimal units: '150.25 MB', '43.0 kB', '0 B'."""
    if n_bytes >= 10**9:
        return f"{n_bytes / 1e9:,.2f} GB"
    if n_bytes >= 10**6:
        return f"{n_bytes / 1e6:,.2f} MB"
    if n_bytes >= 10**3:
        return f"{n_bytes / 1e3:,.1f} kB"
    return f"{int(n_bytes)} B"


__all__ = ["human", "exact", "megabytes"]
