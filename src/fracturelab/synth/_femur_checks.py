"""Argument checks of the femur phantom: one-line :class:`InputError` messages."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from fracturelab.errors import InputError
from fracturelab.femur.contract import LABELS

__all__ = [
    "MAX_SIZE_PX",
    "MAX_SPACING_MM",
    "MIN_SIZE_PX",
    "check_int",
    "check_int_range",
    "check_label",
    "check_real",
    "check_real_range",
    "check_seed",
    "check_size",
    "check_spacing",
]

#: Smallest and largest image side accepted, pixels.
MIN_SIZE_PX, MAX_SIZE_PX = 32, 20000
#: Largest pixel spacing accepted, mm.
MAX_SPACING_MM = 5.0


def check_label(label: Any) -> str:
    """``"AFF"`` or ``"NFF"`` from any case."""
    name = label.upper() if isinstance(label, str) else ""
    if name not in LABELS:
        raise InputError(f"label {label!r} is not valid; use one of {', '.join(LABELS)}")
    return name


def check_seed(seed: Any) -> int:
    """An integer seed >= 0."""
    return check_int("seed", seed, "an integer >= 0", 0)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def check_int(name: str, value: Any, allowed: str, low: int) -> int:
    """An integer >= ``low``."""
    if not _is_int(value) or int(value) < low:
        raise InputError(f"{name} {value!r} is not valid; give {allowed}")
    return int(value)


def check_real(name: str, value: Any, allowed: str, low: float, high: float) -> float:
    """A finite number in ``[low, high]``."""
    if not _is_real(value) or not low <= float(value) <= high:
        raise InputError(f"{name} {value!r} is not valid; give {allowed}")
    return float(value)


def check_spacing(value: Any) -> float:
    """A pixel spacing in ``(0, MAX_SPACING_MM]`` mm."""
    if not _is_real(value) or not 0.0 < float(value) <= MAX_SPACING_MM:
        raise InputError(
            f"spacing_mm {value!r} is not valid; give a pixel spacing in mm in "
            f"(0, {MAX_SPACING_MM:g}]"
        )
    return float(value)


def _pair(name: str, value: Any, hint: str) -> tuple[Any, Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        raise InputError(f"{name} {value!r} is not valid; give {hint}")
    return value[0], value[1]


def check_size(size_px: Any) -> tuple[int, int]:
    """``(width, height)`` in pixels, each in ``[MIN_SIZE_PX, MAX_SIZE_PX]``."""
    hint = f"(width, height) in pixels, each an integer in [{MIN_SIZE_PX}, {MAX_SIZE_PX}]"
    width, height = _pair("size_px", size_px, hint)
    if not all(_is_int(v) and MIN_SIZE_PX <= int(v) <= MAX_SIZE_PX for v in (width, height)):
        raise InputError(f"size_px {size_px!r} is not valid; give {hint}")
    return int(width), int(height)


def check_int_range(name: str, value: Any, low: int, high: int, unit: str) -> tuple[int, int]:
    """``(min, max)`` integers with ``low <= min <= max <= high``."""
    hint = f"(min, max) {unit}, integers with {low} <= min <= max <= {high}"
    first, second = _pair(name, value, hint)
    if not (_is_int(first) and _is_int(second) and low <= int(first) <= int(second) <= high):
        raise InputError(f"{name} {value!r} is not valid; give {hint}")
    return int(first), int(second)


def check_real_range(name: str, value: Any, high: float, unit: str) -> tuple[float, float]:
    """``(min, max)`` numbers with ``0 < min <= max <= high``."""
    hint = f"(min, max) {unit} with 0 < min <= max <= {high:g}"
    first, second = _pair(name, value, hint)
    if not (_is_real(first) and _is_real(second) and 0 < float(first) <= float(second) <= high):
        raise InputError(f"{name} {value!r} is not valid; give {hint}")
    return float(first), float(second)
