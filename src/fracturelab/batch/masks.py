"""Where a scan's vertebra label map comes from: given, a command template, TotalSegmentator.

In order: the mask given for the scan (manifest ``vertebrae`` column, or found beside it by
the naming rule of :mod:`fracturelab.batch.discovery`); ``--segmenter-command`` (a shell
command template with ``{ct}`` and ``{out}``); TotalSegmentator's Python API when the
``totalsegmentator`` package is installed (``task="total"``, one multi-label file; its weights
are the user's business: fracturelab never downloads anything). Without any of them the scan
fails with a clear reason.
"""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
from pathlib import Path

from fracturelab.errors import InputError

__all__ = ["NO_MASK", "find_mask"]

#: The reason of a scan that has no mask and no segmenter.
NO_MASK = (
    "no vertebra mask: none given or beside the scan (<name>_vertebrae.nii.gz), no "
    "--segmenter-command, and TotalSegmentator is not installed; give one of them"
)


def find_mask(
    ct: Path,
    given: str | None,
    work_dir: Path,
    *,
    command: str | None = None,
    totalsegmentator: bool = True,
) -> tuple[Path, str]:
    """Return the scan's label map and how it was obtained (``given``, ``command``, ...).

    Args:
        ct: The CT: a volume file or a folder of one DICOM series.
        given: A mask given for the scan.
        work_dir: A private temporary folder where a segmenter writes its output.
        command: The ``--segmenter-command`` template.
        totalsegmentator: Try TotalSegmentator when installed.

    Raises:
        InputError: The given mask is missing, the command fails or writes nothing, or
            there is no way to get a mask.

    """
    if given:
        mask = Path(given)
        if not mask.exists():
            raise InputError(f"vertebrae {mask}: no such file; check the mask beside the scan")
        return mask, "given"
    out = work_dir / "vertebrae.nii.gz"
    if command:
        line = command.format(ct=shlex.quote(str(ct)), out=shlex.quote(str(out)))
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", line], capture_output=True, text=True, check=False
            )
        except OSError as error:
            raise InputError(f"--segmenter-command cannot be started ({error})") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()
            raise InputError(
                f"--segmenter-command exited with code {done.returncode}"
                + (f" ({tail[-1][:200]})" if tail else "")
                + "; check the command on this scan"
            )
        if not out.is_file():
            raise InputError(
                "--segmenter-command ran but wrote no label map to {out}; make it write there"
            )
        return out, "command"
    if totalsegmentator and importlib.util.find_spec("totalsegmentator") is not None:
        return _totalsegmentator(ct, out), "totalsegmentator"
    raise InputError(NO_MASK)


def _totalsegmentator(ct: Path, out: Path) -> Path:  # pragma: no cover - not installed here
    """Run TotalSegmentator (``task="total"``, multi-label output) through its Python API."""
    totalsegmentator = importlib.import_module("totalsegmentator.python_api").totalsegmentator

    try:
        totalsegmentator(input=str(ct), output=str(out), ml=True, task="total", quiet=True)
    except Exception as error:  # TotalSegmentator raises many types
        raise InputError(f"TotalSegmentator failed on {ct} ({error})") from None
    if not out.is_file():
        raise InputError(f"TotalSegmentator wrote no label map for {ct}")
    return out
