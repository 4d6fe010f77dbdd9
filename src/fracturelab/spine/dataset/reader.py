"""``read_dataset``: one entry point for the three dataset forms, told apart by what they hold.

- a folder with ``rawdata/`` (BIDS): a VerSe folder (:mod:`.verse`);
- a CSV with ``case``, ``level`` and ``genant_grade`` columns: the workstation's spine export;
- any other CSV: ``scans.csv`` of the two-CSV form, its grades CSV given or found as
  ``grades.csv`` beside it.

See ``docs/spine-dataset.md`` for the formats and ``docs/design.md`` ("Workstation export").
"""

from __future__ import annotations

import csv
from pathlib import Path

from fracturelab.errors import InputError
from fracturelab.spine.dataset.assemble import assemble
from fracturelab.spine.dataset.csv_form import (
    is_workstation_export,
    read_two_csv,
    read_workstation_export,
)
from fracturelab.spine.dataset.model import SpineDataset
from fracturelab.spine.dataset.verse import is_verse_folder, read_verse_folder
from fracturelab.typing import PathLike

__all__ = ["read_dataset"]

#: Name of the grades CSV looked for beside ``scans.csv`` when none is given.
GRADES_NAME = "grades.csv"


def read_dataset(path: PathLike, grades: PathLike | None = None) -> SpineDataset:
    """Read and check a spine dataset.

    Args:
        path: ``scans.csv`` (the two-CSV form), the workstation's spine export CSV, or a VerSe
            folder (``rawdata/`` + ``derivatives/``).
        grades: The grades CSV of the two-CSV form (default: ``grades.csv`` beside
            ``scans.csv``, when it exists), or the VerSe grade table (default: the one CSV in
            the folder with ``<level>_fx-g`` columns). Not used with a workstation export.

    Returns:
        The dataset, each scan with its tier.

    Raises:
        InputError: One line if ``path`` is missing or ``grades`` does not apply;
            a :class:`~fracturelab.spine.dataset.model.DatasetError` listing every problem
            of the data otherwise (one line each: file, line, problem, fix).

    """
    source = Path(path)
    table = None if grades is None else Path(grades)
    if source.is_dir():
        if not is_verse_folder(source):
            raise InputError(
                f"dataset {source}: is a folder without rawdata/ (BIDS); give scans.csv, a "
                "workstation spine export or a VerSe folder"
            )
        return assemble(read_verse_folder(source, table), source.absolute(), str(source))
    if not source.is_file():
        raise InputError(f"dataset {source}: no such file or folder; check the path")
    if table is not None and not table.is_file():
        raise InputError(f"--grades {table}: no such file; check the path")
    root = source.parent.absolute()
    if is_workstation_export(_header(source)):
        if table is not None:
            raise InputError(
                f"--grades {table}: a workstation export {source} holds its grades; "
                "leave --grades out"
            )
        return assemble(read_workstation_export(source), root, str(source))
    if table is None and (source.parent / GRADES_NAME).is_file() and source.name != GRADES_NAME:
        table = source.parent / GRADES_NAME
    return assemble(read_two_csv(source, table), root, str(source))


def _header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            first = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(
            f"dataset {path}: cannot be read ({error}); save it as UTF-8 CSV"
        ) from None
    return [cell.strip() for cell in first]
