"""Checks of a dataset beyond its tables: fit for training, grades that match the label maps.

See ``docs/spine-dataset.md`` ("Checks").
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from fracturelab.errors import InputError
from fracturelab.imaging import read_volume
from fracturelab.progress import progress_bar
from fracturelab.spine.dataset.model import TIERS, DatasetError, SpineDataset
from fracturelab.spine.labels import load_vertebra_labels
from fracturelab.spine.levels import level_index

__all__ = ["check_levels_in_masks", "check_trainable", "mask_levels"]


def check_trainable(dataset: SpineDataset) -> None:
    """Check that a dataset can train a fracture classifier.

    Raises:
        DatasetError: If it has no graded scan, or no graded vertebra with grade >= 1 (a
            classifier cannot learn what a fracture is without one) or none with grade 0.

    """
    problems: list[str] = []
    if not dataset.cases_in(TIERS[0]):
        problems.append(
            f"dataset {dataset.source}: no graded scan; give a grades CSV (case_id, level, "
            "genant_grade) for some scans"
        )
    else:
        summary = dataset.summary()
        if summary["fractured_vertebrae"] == 0:
            problems.append(
                f"dataset {dataset.source}: no fracture among its {summary['graded_vertebrae']} "
                "graded vertebrae (all grade 0); add scans with graded fractures (grade 1-3)"
            )
        if summary["grades"][0] == 0:
            problems.append(
                f"dataset {dataset.source}: no normal vertebra (grade 0) among the graded ones; "
                "grade the normal vertebrae of the scans too"
            )
    if problems:
        raise DatasetError(dataset.source, problems)


def mask_levels(path: str) -> tuple[list[str], str | None]:
    """Levels named by a vertebra label map (convention detected as ``spine analyze`` does).

    Args:
        path: The label map file or folder.

    Returns:
        ``(levels, None)`` in cranio-caudal order, or ``([], message)`` when it cannot be read
        or its labels are not vertebrae.

    """
    try:
        volume = read_volume(path, role="label map")
        labels = load_vertebra_labels(volume, volume)
    except InputError as error:
        return [], str(error).splitlines()[0]
    return sorted(set(labels.levels.values()), key=level_index), None


def check_levels_in_masks(
    dataset: SpineDataset, jobs: int = 1, *, progress: bool = True
) -> dict[str, list[str]]:
    """Check that every graded level is a vertebra of its scan's label map.

    Reads each graded scan's label map (header and voxels) and names its vertebrae with the
    label conventions of :mod:`fracturelab.spine.conventions` (VerSe, TotalSegmentator).

    Args:
        dataset: The dataset.
        jobs: Label maps read at once (processes); 1 reads them in this process.
        progress: Show a progress bar (rich).

    Returns:
        ``case_id`` -> the levels in its label map, for the graded scans.

    Raises:
        DatasetError: Listing every unreadable label map and every grade of a level that
            the label map does not hold.
        InputError: If ``jobs`` is below 1.

    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs={jobs!r} is not valid; give an integer >= 1")
    graded = [case for case in dataset.cases_in(TIERS[0]) if case.vertebrae is not None]
    paths = [str(case.vertebrae) for case in graded]
    results: list[tuple[list[str], str | None]] = []
    with progress_bar("label maps", len(paths), show=progress) as advance:
        if jobs == 1 or len(paths) < 2:
            for path in paths:
                results.append(mask_levels(path))
                advance()
        else:
            with ProcessPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
                for result in pool.map(mask_levels, paths):
                    results.append(result)
                    advance()
    problems: list[str] = []
    found: dict[str, list[str]] = {}
    for case, (levels, error) in zip(graded, results, strict=True):
        if error is not None:
            problems.append(f"case {case.case_id!r}: {error}")
            continue
        found[case.case_id] = levels
        for level, grade in dataset.grades_of(case.case_id).items():
            if level not in levels:
                origin = dataset.origins.get((case.case_id, level), f"case {case.case_id!r}")
                shown = ", ".join(levels) or "none"
                problems.append(
                    f"{origin}: level {level} (grade {grade.genant_grade}) is not in the label "
                    f"map {case.vertebrae} (it holds {shown}); correct the level or the label map"
                )
    if problems:
        raise DatasetError(dataset.source, problems)
    return found
