"""What a batch run takes: eligibility limits, masks, model, outputs and the engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fracturelab.checks import check_choice
from fracturelab.errors import InputError

__all__ = ["DEFAULT_BODY_PARTS", "ENGINES", "BatchSettings"]

#: ``BodyPartExamined`` values taken as thorax/abdomen (compared without case, spaces, ``_``).
DEFAULT_BODY_PARTS: tuple[str, ...] = (
    "CHEST",
    "THORAX",
    "ABDOMEN",
    "PELVIS",
    "ABDOMENPELVIS",
    "CHESTABDOMEN",
    "CHESTABDOMENPELVIS",
    "CAP",
    "TRUNK",
    "BODY",
    "WHOLEBODY",
    "PARTIALBODY",
    "SPINE",
    "TSPINE",
    "LSPINE",
    "TLSPINE",
)

#: Where the scans are read.
ENGINES: tuple[str, ...] = ("local", "dask")


@dataclass
class BatchSettings:
    """Settings of a batch run (``fracturelab batch run`` options).

    Attributes:
        modalities: DICOM ``Modality`` codes taken (others are skipped).
        min_slices: Fewest slices along the scan axis (a thinner slab cannot show the spine).
        max_slice_thickness_mm: Thickest slices (slice spacing for volume files), mm.
        min_slice_thickness_mm: Thinnest slices, mm (0: no limit).
        body_parts: ``BodyPartExamined`` values taken; empty: any.
        allow_missing_body_part: Take a series whose header states no body part.
        segmenter_command: Shell command template run when no mask is given; ``{ct}`` is the
            CT (a volume file or a folder of one series) and ``{out}`` the label map to write
            (``.nii.gz``); both are quoted for the shell.
        totalsegmentator: Use TotalSegmentator's Python API when it is installed and neither a
            mask nor a command gives one.
        labels: Label convention of the masks (``auto``, ``verse``, ``totalseg_v2``, ...).
        model: A spine model folder (``None``: morphometry only).
        device: Device of the model (``auto``: a GPU when there is one).
        out: A folder for per-scan outputs (``None``: results in the database only).
        overview: Write ``overview.png`` beside ``vertebrae.json``.
        engine: ``local`` (a process pool) or ``dask``.
        workers: Worker processes (local pool, or the LocalCluster of the dask engine).
        scheduler: Address of a running Dask scheduler (``tcp://host:8786``); ``None``: start a
            ``LocalCluster``.
        max_attempts: Starts of a scan before a crashing scan is quarantined.
        retry_quarantined: Start quarantined scans again (their attempts begin anew).
        lease_s: A ``running`` row whose runner has not beaten its heart for this long is taken
            back (another host's runner; a dead runner on this host is seen at once).
        task_timeout_s: A scan running longer in a local worker is stopped and charged an
            attempt (0: no limit).

    """

    modalities: tuple[str, ...] = ("CT",)
    min_slices: int = 40
    max_slice_thickness_mm: float = 5.0
    min_slice_thickness_mm: float = 0.0
    body_parts: tuple[str, ...] = DEFAULT_BODY_PARTS
    allow_missing_body_part: bool = True
    segmenter_command: str | None = None
    totalsegmentator: bool = True
    labels: str = "auto"
    model: Path | None = None
    device: str = "auto"
    out: Path | None = None
    overview: bool = True
    engine: str = "local"
    workers: int = 1
    scheduler: str | None = None
    max_attempts: int = 3
    retry_quarantined: bool = False
    lease_s: float = 120.0
    task_timeout_s: float = 0.0

    def check(self) -> None:
        """Check the values before any work.

        Raises:
            InputError: One line naming the option, the problem and the fix.

        """
        check_choice("--engine", self.engine, ENGINES)
        if self.workers < 1:
            raise InputError(f"--workers {self.workers}: must be 1 or more")
        if self.min_slices < 2:
            raise InputError(f"--min-slices {self.min_slices}: must be 2 or more")
        if not self.max_slice_thickness_mm > 0:
            raise InputError(
                f"--max-slice-thickness {self.max_slice_thickness_mm}: must be above 0 mm"
            )
        if self.min_slice_thickness_mm > self.max_slice_thickness_mm:
            raise InputError(
                f"--min-slice-thickness {self.min_slice_thickness_mm} is above "
                f"--max-slice-thickness {self.max_slice_thickness_mm}; lower it"
            )
        if self.max_attempts < 1:
            raise InputError(f"--max-attempts {self.max_attempts}: must be 1 or more")
        if self.segmenter_command is not None and (
            "{ct}" not in self.segmenter_command or "{out}" not in self.segmenter_command
        ):
            raise InputError(
                f"--segmenter-command {self.segmenter_command!r}: must hold {{ct}} and {{out}}, "
                'e.g. "mysegmenter {ct} {out}"'
            )
        if self.scheduler is not None and self.engine != "dask":
            raise InputError("--scheduler is for --engine dask; add --engine dask")
        if self.model is not None and not Path(self.model).is_dir():
            raise InputError(f"--model {self.model}: no such folder; give a spine model folder")
