"""The batch manifest: a CSV listing scans (``ct``), optionally their masks and case ids.

Columns: ``ct`` (required: a volume file or a folder of one DICOM series), ``vertebrae``
(optional: the vertebra label map) and ``case_id`` (optional: the name of the scan's output
folder and of its row in exports). Relative paths are relative to the CSV's folder. The whole
file is checked before any work, and every problem is reported in one message.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from fracturelab.errors import InputError

__all__ = ["MANIFEST_COLUMNS", "ManifestRow", "read_manifest"]

#: The columns a manifest may have; ``ct`` is required.
MANIFEST_COLUMNS: tuple[str, ...] = ("ct", "vertebrae", "case_id")


class ManifestError(InputError):
    """A manifest with problems; ``problems`` lists them, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0])
        self.problems = problems


@dataclass
class ManifestRow:
    """One row of a manifest, paths resolved."""

    ct: Path
    vertebrae: Path | None
    case_id: str | None
    where: str


def read_manifest(path: Path) -> list[ManifestRow]:
    """Read and check a manifest.

    Raises:
        InputError: One line per problem (missing ``ct`` column, unknown columns, missing
            files, duplicate case ids), naming the file and line.

    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: the manifest cannot be read ({error})") from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or []]
    if "ct" not in columns:
        raise InputError(
            f"{path}: the manifest has no 'ct' column (columns: {', '.join(columns) or 'none'}); "
            f"give a header with {', '.join(MANIFEST_COLUMNS)}"
        )
    unknown = [c for c in columns if c not in MANIFEST_COLUMNS]
    if unknown:
        raise InputError(
            f"{path}: unknown manifest column(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(MANIFEST_COLUMNS)}"
        )
    rows: list[ManifestRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        record = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        where = f"{path}:{number}"
        if not any(record.values()):
            continue
        if not record.get("ct"):
            problems.append(f"{where}: empty ct; give the CT file or series folder")
            continue
        ct = _resolve(path, record["ct"])
        if not ct.exists():
            problems.append(f"{where}: ct {ct} does not exist; check the path")
        mask = _resolve(path, record["vertebrae"]) if record.get("vertebrae") else None
        if mask is not None and not mask.exists():
            problems.append(f"{where}: vertebrae {mask} does not exist; check the path")
        case_id = record.get("case_id") or None
        if case_id is not None:
            if case_id in seen:
                problems.append(
                    f"{where}: case_id {case_id} is also on line {seen[case_id]}; make it unique"
                )
            seen[case_id] = number
        rows.append(ManifestRow(ct, mask, case_id, where))
    if not rows and not problems:
        problems.append(f"{path}: the manifest lists no scan; add rows under the header")
    if problems:
        raise ManifestError(problems)
    return rows


def _resolve(manifest: Path, value: str) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else manifest.parent / candidate
