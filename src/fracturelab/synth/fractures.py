"""Fractures to put into a synthetic spine: what kind, where, and how much height is lost."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal, cast, get_args

from fracturelab.checks import closest_match
from fracturelab.errors import InputError
from fracturelab.spine.levels import LEVELS, level_index

__all__ = ["FractureSpec", "parse_fractures", "true_genant_grade"]

FractureKind = Literal["wedge", "biconcave", "crush"]

#: Fracture shapes the phantom can draw.
FRACTURE_KINDS: tuple[str, ...] = get_args(FractureKind)

#: Height loss in % used for a Genant grade: the middle of the grade's range (0 is normal).
GRADE_LOSS_PCT: dict[int, float] = {0: 0.0, 1: 22.5, 2: 32.5, 3: 50.0}

#: Largest height loss the phantom draws (exclusive), in %.
MAX_LOSS_PCT = 80.0

#: Levels without a vertebral body that can collapse: the atlas ring and the sacral block.
UNFRACTURABLE_LEVELS: tuple[str, ...] = ("C1", "S1")

_FORM = "write LEVEL:GRADE:KIND like T12:2:wedge or LEVEL:LOSS%:KIND like L1:32%:crush"


def true_genant_grade(loss_pct: float) -> int:
    """Genant grade of a true height loss (the phantom's ground truth, not a measurement).

    Args:
        loss_pct: Height loss in %.

    Returns:
        0 below 20 %, 1 for [20, 25), 2 for [25, 40], 3 above 40 %.

    """
    if loss_pct < 20.0:
        return 0
    if loss_pct < 25.0:
        return 1
    if loss_pct <= 40.0:
        return 2
    return 3


@dataclass(frozen=True)
class FractureSpec:
    """One vertebral fracture to draw into a spine phantom.

    Args:
        level: Vertebra level, e.g. ``"T12"`` (any case; stored as ``"T12"``). C1 (a ring
            without a body) and S1 (the sacral block) cannot be fractured.
        kind: ``"wedge"`` (anterior height lost), ``"biconcave"`` (middle height lost) or
            ``"crush"`` (the whole body lower).
        loss_pct: True height loss in %, in [0, 80). It is the loss that the Genant grade is
            read from: 1 - Ha/Hp for a wedge, 1 - Hm/Hp for a biconcave vertebra, and the
            loss against the nominal height for a crush.

    Raises:
        InputError: If the level is unknown or not fracturable, the kind is unknown, or the
            loss is out of range.

    """

    level: str
    kind: FractureKind
    loss_pct: float

    def __post_init__(self) -> None:
        if not isinstance(self.level, str):
            raise InputError(f"level {self.level!r} must be a level name like 'T12'")
        canonical = LEVELS[level_index(self.level.strip())]
        if canonical in UNFRACTURABLE_LEVELS:
            body = "the atlas is a ring" if canonical == "C1" else "the sacrum is a block"
            raise InputError(
                f"level {canonical!r} cannot be fractured in the phantom ({body} without a "
                "vertebral body that collapses); choose one of C2-C7, T1-T13, L1-L6"
            )
        object.__setattr__(self, "level", canonical)
        kind = str(self.kind).strip().lower()
        if kind not in FRACTURE_KINDS:
            raise InputError(f"fracture kind {self.kind!r} is not valid; {_kind_hint(kind)}")
        object.__setattr__(self, "kind", kind)
        if isinstance(self.loss_pct, bool) or not isinstance(self.loss_pct, numbers.Real):
            raise InputError(f"loss_pct {self.loss_pct!r} must be a number in [0, 80)")
        loss = float(self.loss_pct)
        if not math.isfinite(loss) or not 0.0 <= loss < MAX_LOSS_PCT:
            raise InputError(
                f"loss_pct {self.loss_pct!r} is out of range; give a height loss in % "
                f"in [0, {MAX_LOSS_PCT:g})"
            )
        object.__setattr__(self, "loss_pct", loss)

    @classmethod
    def from_grade(cls, level: str, grade: int, kind: FractureKind) -> FractureSpec:
        """Make a fracture whose loss is the middle of a Genant grade's range.

        Args:
            level: Vertebra level, e.g. ``"L1"``.
            grade: Genant grade 0-3 (0 %, 22.5 %, 32.5 %, 50 %).
            kind: ``"wedge"``, ``"biconcave"`` or ``"crush"``.

        Raises:
            InputError: If the grade is not 0-3 or another argument is bad.

        """
        if isinstance(grade, bool) or grade not in GRADE_LOSS_PCT:
            raise InputError(f"grade {grade!r} is not valid; give a Genant grade 0, 1, 2 or 3")
        return cls(level=level, kind=kind, loss_pct=GRADE_LOSS_PCT[grade])

    @property
    def loss_fraction(self) -> float:
        """Height loss as a fraction in [0, 0.8)."""
        return self.loss_pct / 100.0

    @property
    def genant_grade(self) -> int:
        """Genant grade of the true height loss."""
        return true_genant_grade(self.loss_pct)

    def __str__(self) -> str:
        return f"{self.level}:{self.loss_pct:g}%:{self.kind}"


def parse_fractures(text: str) -> tuple[FractureSpec, ...]:
    """Parse fractures written as ``LEVEL:GRADE:KIND`` or ``LEVEL:LOSS%:KIND`` items.

    Items are separated by commas, e.g. ``"T12:2:wedge,L1:3:crush,L3:32.5%:biconcave"``. A
    Genant grade maps to the middle of its range: 1 -> 22.5 %, 2 -> 32.5 %, 3 -> 50 %; grade 0
    is a normal vertebra (0 %). Empty items are skipped, so ``""`` means no fracture.

    Args:
        text: The fractures, comma-separated.

    Returns:
        One spec per item, in the order given.

    Raises:
        InputError: Naming the bad item and the expected form, if an item is malformed, a
            level is unknown or given twice, a grade is not 0-3, a loss is not in [0, 80) %, or a
            kind is unknown (the closest valid kind is suggested).

    """
    specs: list[FractureSpec] = []
    seen: set[str] = set()
    for item in (part.strip() for part in str(text).split(",")):
        if not item:
            continue
        spec = _parse_item(item)
        if spec.level in seen:
            raise InputError(
                f"fracture {item!r}: level {spec.level} is given twice; give each level once"
            )
        seen.add(spec.level)
        specs.append(spec)
    return tuple(specs)


def _parse_item(item: str) -> FractureSpec:
    parts = [part.strip() for part in item.split(":")]
    if len(parts) != 3 or not all(parts):
        raise InputError(f"fracture {item!r}: expected three parts separated by ':'; {_FORM}")
    level, severity, kind = parts
    try:
        level_index(level)
    except InputError:
        raise InputError(
            f"fracture {item!r}: level {level!r} is not a vertebra level (C1-C7, T1-T13, "
            f"L1-L6, S1); {_FORM}"
        ) from None
    loss = _parse_severity(item, severity)
    if kind.lower() not in FRACTURE_KINDS:
        raise InputError(f"fracture {item!r}: kind {kind!r} is not valid; {_kind_hint(kind)}")
    try:
        return FractureSpec(level=level, kind=cast(FractureKind, kind.lower()), loss_pct=loss)
    except InputError as error:
        raise InputError(f"fracture {item!r}: {error}") from None


def _parse_severity(item: str, severity: str) -> float:
    if severity.endswith("%"):
        number = severity[:-1].strip()
        try:
            loss = float(number)
        except ValueError:
            loss = math.nan
        if not math.isfinite(loss) or not 0.0 <= loss < MAX_LOSS_PCT:
            raise InputError(
                f"fracture {item!r}: height loss {severity!r} is not a number in "
                f"[0, {MAX_LOSS_PCT:g})%; {_FORM}"
            )
        return loss
    if severity.isdigit() and int(severity) in GRADE_LOSS_PCT:
        return GRADE_LOSS_PCT[int(severity)]
    raise InputError(
        f"fracture {item!r}: grade {severity} is not 0-3 (add % for a height loss); {_FORM}"
    )


def _kind_hint(kind: str) -> str:
    allowed = ", ".join(FRACTURE_KINDS)
    close = closest_match(kind.lower(), FRACTURE_KINDS, cutoff=0.0)
    suggestion = f"; did you mean {close!r}?" if close else ""
    return f"use one of {allowed}{suggestion}"
