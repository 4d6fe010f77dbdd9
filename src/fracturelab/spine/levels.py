"""Vertebra level names, their anatomical order and the VerSe numbering."""

from __future__ import annotations

__all__ = ["LEVELS", "VERSE_LABELS", "level_from_verse", "level_index", "parse_level_range"]

from fracturelab.errors import InputError

#: All level names in cranio-caudal order; transitional T13 and L6 sit where they occur.
LEVELS: tuple[str, ...] = (
    *(f"C{i}" for i in range(1, 8)),
    *(f"T{i}" for i in range(1, 14)),
    *(f"L{i}" for i in range(1, 7)),
    "S1",
)

#: VerSe numbering: 1-7 C1-C7, 8-19 T1-T12, 20-25 L1-L6, 26 sacrum (S1), 28 T13.
VERSE_LABELS: dict[str, int] = {
    **{f"C{i}": i for i in range(1, 8)},
    **{f"T{i}": 7 + i for i in range(1, 13)},
    **{f"L{i}": 19 + i for i in range(1, 7)},
    "S1": 26,
    "T13": 28,
}

_VERSE_TO_LEVEL = {label: level for level, label in VERSE_LABELS.items()}


def level_index(level: str) -> int:
    """Position of a level in cranio-caudal order (C1 is 0, S1 is the largest).

    Raises:
        InputError: If ``level`` is not a known level name.

    """
    try:
        return LEVELS.index(level.upper())
    except ValueError:
        raise InputError(
            f"level {level!r} is not a vertebra level; use C1-C7, T1-T13, L1-L6 or S1"
        ) from None


def level_from_verse(label: int) -> str | None:
    """Level name of a VerSe label, or ``None`` if the label is not a vertebra."""
    return _VERSE_TO_LEVEL.get(int(label))


def parse_level_range(text: str) -> tuple[str, ...]:
    """Parse ``"T8-L5"`` or ``"T12,L1,L2"`` into level names in cranio-caudal order.

    Transitional levels (T13, L6) are included in a range only when named as an end point.

    Raises:
        InputError: If a name is unknown or the range is empty.

    """
    names: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if "-" in part:
            first, last = (level_index(p.strip()) for p in part.split("-", 1))
            if first > last:
                first, last = last, first
            span = [
                LEVELS[i]
                for i in range(first, last + 1)
                if LEVELS[i] not in ("T13", "L6") or i in (first, last)
            ]
            names.extend(span)
        else:
            names.append(LEVELS[level_index(part)])
    if not names:
        raise InputError(f"levels {text!r}: no level given; write e.g. 'T8-L5'")
    return tuple(sorted(set(names), key=level_index))
