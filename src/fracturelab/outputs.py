"""Output folders checked before the work, and result files written atomically.

Commands call :func:`check_output_dir` before any work, so that a ``--out`` that cannot be
used is refused at once with one line, and write with :func:`atomic_write_text` /
:func:`atomic_path`, :func:`write_csv` and :func:`save_figure`, so that a failure never leaves
half a file behind. This module is the one home for CSV writing and figure saving.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fracturelab.errors import InputError

__all__ = [
    "atomic_path",
    "atomic_write_text",
    "check_output_dir",
    "csv_text",
    "pyplot",
    "save_figure",
    "write_csv",
]


def check_output_dir(path: str | Path, option: str = "--out") -> Path:
    """Check that a folder can hold outputs, before any work is done; create nothing.

    The folder may exist (it is then written into) or not (it is created when the first
    file is written); the nearest existing folder above it must be writable (as
    :func:`os.access` says for the current user, so root passes permission bits).

    Args:
        path: The output folder.
        option: The command-line option that named it, for the message (``--out``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: One line naming ``option`` and ``path`` when ``path`` is a file, lies
            below a file, or its nearest existing folder is not writable.

    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{option} {folder}: is a file, not a folder; give a folder path")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise InputError(
            f"{option} {folder}: {existing} is a file, so the folder cannot be created there; "
            "give a folder path"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == folder else f" ({existing}, where it would be created)"
        raise InputError(
            f"{option} {folder}: folder{where} is not writable; give a folder you can write to"
        )
    return folder


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; move it into place if the block succeeds.

    Args:
        target: Final file path; its folder is created if needed.

    """
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(final.suffixes)
    handle, name = tempfile.mkstemp(prefix=f".{final.stem}-", suffix=suffix, dir=final.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        umask = os.umask(0)
        os.umask(umask)
        temporary.chmod(0o666 & ~umask)  # mkstemp makes owner-only files; follow the umask
        temporary.replace(final)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_text(target: str | Path, text: str) -> Path:
    """Write text (UTF-8) to ``target`` atomically and return the path."""
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(target)


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> str:
    """Return CSV text: a header of ``columns``, then ``rows`` (Unix line ends).

    Args:
        columns: Column names, in order.
        rows: One mapping (column name to value; missing columns are left empty) or one
            sequence (values in column order) per row.

    Raises:
        ValueError: A mapping row has a key that is not a column, or a sequence row has the
            wrong length.

    """
    buffer = io.StringIO()
    names = list(columns)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    dict_writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    for row in rows:
        if isinstance(row, Mapping):
            dict_writer.writerow(row)
        else:
            values = list(row)
            if len(values) != len(names):
                raise ValueError(f"row has {len(values)} values for {len(names)} columns")
            writer.writerow(values)
    return buffer.getvalue()


def write_csv(
    target: str | Path,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
) -> Path:
    """Write :func:`csv_text` of ``columns`` and ``rows`` to ``target`` atomically."""
    return atomic_write_text(target, csv_text(columns, rows))


def pyplot() -> Any:
    """Return ``matplotlib.pyplot`` on the non-interactive Agg backend (imported lazily)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(
    figure: Any, target: str | Path, *, dpi: int = 110, tight: bool = False, close: bool = True
) -> Path:
    """Save a Matplotlib figure as PNG atomically and return the path.

    Args:
        figure: A ``matplotlib.figure.Figure``.
        target: The PNG path; its folder is created if needed.
        dpi: Resolution, dots per inch.
        tight: Crop the saved image to the drawn content (``bbox_inches="tight"``).
        close: Close the figure afterwards (frees its memory; the default).

    """
    try:
        with atomic_path(target) as temporary:
            figure.savefig(temporary, dpi=dpi, format="png", bbox_inches="tight" if tight else None)
    finally:
        if close:
            import matplotlib.pyplot as plt

            plt.close(figure)
    return Path(target)
