"""Numbers from NumPy and PyTorch as the short decimals people wrote.

A float32 holding 1e-3 is 0.0010000000474974513 as a Python float; runlab
stores the shortest decimal that gives the same float32 back (0.001), in
metrics and in configs alike.
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["is_narrow_float", "shorten_floats", "shortest_float32"]


def is_narrow_float(value: Any) -> bool:
    """Tell whether a NumPy or PyTorch value holds floats of under 64 bits."""
    dtype = getattr(value, "dtype", None)
    floating = (
        getattr(dtype, "is_floating_point", None) or getattr(dtype, "kind", "") == "f"
    )
    return bool(floating) and getattr(dtype, "itemsize", 8) < 8


def shortest_float32(number: float) -> float:
    """Return the shortest decimal that a float32 holds: 1e-3, not 0.0010000000474."""
    packed = struct.pack("<f", number)
    for digits in range(6, 10):
        candidate = float(f"{number:.{digits}g}")
        if struct.pack("<f", candidate) == packed:
            return candidate
    return number


def shorten_floats(value: Any) -> Any:
    """Apply :func:`shortest_float32` to a float or to the floats of nested lists."""
    if isinstance(value, float):
        return shortest_float32(value)
    if isinstance(value, list):
        return [shorten_floats(v) for v in value]
    return value
