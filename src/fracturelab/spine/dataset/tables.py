"""Reading the CSV tables of a spine dataset, collecting every problem as one line.

Each helper appends problems to a list instead of raising, so that a dataset is checked in
one pass and the user sees every problem at once (see ``docs/spine-dataset.md``). A problem
line names the file and line, the problem and the fix.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fracturelab.checks import did_you_mean
from fracturelab.spine.dataset.model import GRADES, MORPHOLOGIES
from fracturelab.spine.levels import LEVELS

__all__ = [
    "NOT_ASSESSED",
    "Row",
    "Table",
    "parse_grade",
    "parse_level",
    "parse_morphology",
    "read_table",
    "resolve_path",
]

#: Cell values that mean "not assessed" (compared in lower case): the grade is skipped.
NOT_ASSESSED: frozenset[str] = frozenset(
    {"", "na", "n/a", "nan", "none", "null", "not assessed", "not_assessed", "not assessable"}
)


@dataclass
class Row:
    """One data row of a table.

    Attributes:
        line: Line number in the file (the header is line 1).
        values: Column name -> stripped cell text (missing cells are ``""``).

    """

    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        """The stripped text of ``column`` (``""`` when the column or the cell is missing)."""
        return self.values.get(column, "")


@dataclass
class Table:
    """A CSV read as text.

    Attributes:
        path: The file.
        columns: Header names, stripped, in order.
        rows: Data rows (blank lines left out).

    """

    path: Path
    columns: list[str]
    rows: list[Row]

    def where(self, row: Row) -> str:
        """``"<path> line <n>"`` for messages."""
        return f"{self.path} line {row.line}"


def read_table(path: Path, required: Sequence[str], problems: list[str], what: str) -> Table | None:
    """Read a CSV and check its header; return ``None`` when it cannot be used at all.

    Args:
        path: The CSV file.
        required: Columns it must have.
        problems: Where problems are appended.
        what: What the file is, for messages (``"scans CSV"``).

    Returns:
        The table, or ``None`` if the file is missing, unreadable, empty, or lacks a column
        or repeats one (each reported in ``problems``).

    """
    if not path.is_file():
        problems.append(f"{what} {path}: no such file; check the path")
        return None
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            lines = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        problems.append(f"{what} {path}: cannot be read ({error}); save it as UTF-8 CSV")
        return None
    if not lines or not any(cell.strip() for cell in lines[0]):
        problems.append(f"{what} {path}: is empty; write a header line ({', '.join(required)})")
        return None
    columns = [cell.strip() for cell in lines[0]]
    usable = True
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    for name in repeated:
        problems.append(
            f"{what} {path} line 1: column {name!r} appears {columns.count(name)} times; keep one"
        )
        usable = False
    for name in required:
        if name not in columns:
            hint = did_you_mean(name, [c for c in columns if c not in required])
            problems.append(
                f"{what} {path} line 1: column {name!r} is missing{hint}; "
                f"the header must hold {', '.join(required)}"
            )
            usable = False
    if not usable:
        return None
    rows: list[Row] = []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        values = {
            name: (cells[k].strip() if k < len(cells) else "") for k, name in enumerate(columns)
        }
        rows.append(Row(number, values))
    return Table(path, columns, rows)


def resolve_path(text: str, root: Path) -> Path:
    """An absolute path: ``text`` itself when absolute, else relative to ``root``."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else (root / path).absolute()


def parse_grade(text: str, where: str, column: str, problems: list[str]) -> int | None:
    """A Genant grade 0-3 from a cell; ``None`` when not assessed or bad (bad is reported).

    ``"2"`` and ``"2.0"`` (spreadsheets write floats) are grade 2; a value in
    :data:`NOT_ASSESSED` is not assessed and gives ``None`` without a problem.

    """
    if text.strip().lower() in NOT_ASSESSED:
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{where}: {column} {text!r} is not a grade; use 0, 1, 2 or 3")
        return None
    if not math.isfinite(value) or value != round(value) or int(value) not in GRADES:
        problems.append(
            f"{where}: {column} {text!r} is outside 0-3; use a Genant grade 0 (normal), "
            "1 (mild), 2 (moderate) or 3 (severe)"
        )
        return None
    return int(value)


def parse_morphology(text: str, where: str, problems: list[str]) -> str | None:
    """A morphology name from a cell (any case); ``None`` when empty or unknown (reported)."""
    value = text.strip().lower()
    if value in NOT_ASSESSED or value == "unknown":
        return None
    if value in MORPHOLOGIES:
        return value
    hint = did_you_mean(value, MORPHOLOGIES)
    problems.append(
        f"{where}: morphology {text!r} is unknown{hint}; use {', '.join(MORPHOLOGIES)} "
        "or leave it empty"
    )
    return None


def parse_level(text: str, where: str, problems: list[str]) -> str | None:
    """A level name (``"l1"`` -> ``"L1"``); ``None`` when it is not a vertebra level (reported)."""
    value = text.strip().upper()
    if value in LEVELS:
        return value
    hint = did_you_mean(value, LEVELS)
    problems.append(
        f"{where}: level {text!r} is not a vertebra level{hint}; use C1-C7, T1-T13, L1-L6 or S1"
    )
    return None
