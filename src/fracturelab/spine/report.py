"""Per-vertebra results of a spine analysis, and their JSON and CSV files (contract)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fracturelab.outputs import atomic_write_text, csv_text

__all__ = ["MODEL_CSV_COLUMNS", "MODEL_KEYS", "SCHEMA_VERSION", "SpineReport", "VertebraResult"]

#: Version of the ``vertebrae.json`` layout; see the README before changing it.
SCHEMA_VERSION = "1.0"

_CSV_COLUMNS = (
    "level", "label", "status", "height_anterior_mm", "height_middle_mm", "height_posterior_mm",
    "height_loss_pct", "genant_grade", "morphology", "decided_by", "ratio_ha_hp", "ratio_hm_hp",
    "ratio_hp_expected", "expected_posterior_height_mm", "depth_mm", "volume_mm3",
    "centroid_x_mm", "centroid_y_mm", "centroid_z_mm", "reason", "warnings",
)  # fmt: skip

#: Keys a learned model adds to each vertebra of ``vertebrae.json`` (``spine analyze
#: --model``; see ``docs/spine-model.md``). Absent without a model.
MODEL_KEYS: tuple[str, ...] = (
    "fracture_probability", "model_grade", "model_grade_probabilities", "model_morphology",
    "grade_source",
)  # fmt: skip
#: Columns a learned model adds to ``vertebrae.csv``, after the others. Absent without a model.
MODEL_CSV_COLUMNS: tuple[str, ...] = (
    "fracture_probability", "model_grade", "model_p0", "model_p1", "model_p2", "model_p3",
    "model_morphology", "grade_source",
)  # fmt: skip


@dataclass
class VertebraResult:
    """What fracturelab concludes about one vertebra.

    ``status`` is ``graded``, ``incomplete`` (not gradable: cut by the field of view, too small,
    a level Genant grading does not cover) or ``failed`` (implausible shape). ``genant_grade``
    and ``morphology`` are ``None`` unless graded; ``morphology`` is ``normal`` for grade 0.
    Positions are LPS millimetres. ``measurement_points_mm`` holds, for ``anterior``,
    ``middle`` and ``posterior``, the superior and inferior end points ``[[x, y, z], [x, y, z]]``
    of each measured height; ``ct_refinement_mm`` how far the CT's bone edge moved each height
    (mm, refined minus label map alone); ``edge_voxels`` the vertebra's and its body's voxels
    on the scan's outer faces; ``cut_fraction`` the share of the body's footprint cut by them.
    ``model`` holds a learned model's outputs (:data:`MODEL_KEYS`: ``fracture_probability``
    P(grade >= 1), ``model_grade`` 0-3, ``model_grade_probabilities`` ``[p0, p1, p2, p3]``,
    ``model_morphology``, ``grade_source``), written as top-level keys of the vertebra; it is
    ``None`` (and the keys absent) without a model.
    """

    level: str
    label: int
    status: str
    centroid_mm: list[float]
    volume_mm3: float
    heights_mm: dict[str, float] | None = None
    height_loss_pct: float | None = None
    genant_grade: int | None = None
    morphology: str | None = None
    decided_by: str | None = None
    ratios: dict[str, float] | None = None
    expected_posterior_height_mm: float | None = None
    depth_mm: float | None = None
    height_spread_mm: dict[str, float] | None = None
    body_center_mm: list[float] | None = None
    superior_axis: list[float] | None = None
    anterior_axis: list[float] | None = None
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    measurement_points_mm: dict[str, list[list[float]]] | None = None
    ct_refinement_mm: dict[str, float] | None = None
    edge_voxels: dict[str, int] | None = None
    cut_fraction: float | None = None
    model: dict[str, Any] | None = None

    @property
    def is_fractured(self) -> bool:
        """Graded 1 or worse."""
        return self.genant_grade is not None and self.genant_grade >= 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary, numbers rounded to what is meaningful."""
        data = asdict(self)
        model = data.pop("model")
        for key in ("heights_mm", "height_spread_mm", "ct_refinement_mm"):
            if data[key] is not None:
                data[key] = {k: round(v, 2) for k, v in data[key].items()}
        if data["ratios"] is not None:
            data["ratios"] = {k: round(v, 3) for k, v in data["ratios"].items()}
        for key in ("centroid_mm", "body_center_mm"):
            if data[key] is not None:
                data[key] = [round(v, 2) for v in data[key]]
        if data["measurement_points_mm"] is not None:
            data["measurement_points_mm"] = {
                k: [[round(v, 2) for v in point] for point in pair]
                for k, pair in data["measurement_points_mm"].items()
            }
        if data["cut_fraction"] is not None:
            data["cut_fraction"] = round(data["cut_fraction"], 3)
        for key in ("superior_axis", "anterior_axis"):
            if data[key] is not None:
                data[key] = [round(v, 4) for v in data[key]]
        for key, digits in (
            ("height_loss_pct", 1),
            ("expected_posterior_height_mm", 2),
            ("depth_mm", 2),
            ("volume_mm3", 0),
        ):
            if data[key] is not None:
                data[key] = round(data[key], digits)
        if model is not None:
            data.update({key: model.get(key) for key in MODEL_KEYS})
        return data

    def csv_row(self) -> dict[str, Any]:
        """One flat row for ``vertebrae.csv``."""
        heights = self.heights_mm or {}
        ratios = self.ratios or {}
        data = self.to_dict()

        def value(key: str, source: dict[str, float], digits: int) -> Any:
            return round(source[key], digits) if key in source else ""

        return {
            "level": self.level,
            "label": self.label,
            "status": self.status,
            "height_anterior_mm": value("anterior", heights, 2),
            "height_middle_mm": value("middle", heights, 2),
            "height_posterior_mm": value("posterior", heights, 2),
            "height_loss_pct": _blank(data["height_loss_pct"]),
            "genant_grade": _blank(self.genant_grade),
            "morphology": _blank(self.morphology),
            "decided_by": _blank(self.decided_by),
            "ratio_ha_hp": value("Ha/Hp", ratios, 3),
            "ratio_hm_hp": value("Hm/Hp", ratios, 3),
            "ratio_hp_expected": value("Hp/Hp_expected", ratios, 3),
            "expected_posterior_height_mm": _blank(data["expected_posterior_height_mm"]),
            "depth_mm": _blank(data["depth_mm"]),
            "volume_mm3": data["volume_mm3"],
            "centroid_x_mm": data["centroid_mm"][0],
            "centroid_y_mm": data["centroid_mm"][1],
            "centroid_z_mm": data["centroid_mm"][2],
            "reason": _blank(self.reason),
            "warnings": "; ".join(self.warnings),
        }

    def model_csv_row(self) -> dict[str, Any]:
        """The :data:`MODEL_CSV_COLUMNS` of this vertebra (empty without model outputs)."""
        model = self.model or {}
        probabilities = model.get("model_grade_probabilities") or [None] * 4
        return {
            "fracture_probability": _blank(model.get("fracture_probability")),
            "model_grade": _blank(model.get("model_grade")),
            **{f"model_p{g}": _blank(probabilities[g]) for g in range(4)},
            "model_morphology": _blank(model.get("model_morphology")),
            "grade_source": _blank(model.get("grade_source")),
        }


@dataclass
class SpineReport:
    """All vertebrae of one scan, in cranio-caudal order, and how they were read.

    Args:
        vertebrae: One result per vertebra label.
        label_convention: Numbering of the label map (``verse``, ``totalseg_v2`` ...).
        label_detection: What was detected about the label map, in words.
        inputs: Paths of the CT and label map (``None`` for in-memory volumes).
        ct_geometry: Shape, spacing (mm) and orientation of the CT grid.
        method: Measuring options, for provenance.
        level_warnings: Doubts about the level names (order along the spine, duplicates,
            gaps); also in the summary and on each vertebra concerned.
        model: The learned model applied (folder, backbone, size, its fracturelab version,
            threshold, the final-grade rule), shown in the summary; ``None`` without one.

    """

    vertebrae: list[VertebraResult]
    label_convention: str
    label_detection: str
    inputs: dict[str, str | None] = field(default_factory=dict)
    ct_geometry: dict[str, Any] = field(default_factory=dict)
    method: dict[str, Any] = field(default_factory=dict)
    level_warnings: list[str] = field(default_factory=list)
    model: dict[str, Any] | None = None

    def __getitem__(self, level: str) -> VertebraResult:
        for vertebra in self.vertebrae:
            if vertebra.level == level.upper():
                return vertebra
        known = ", ".join(v.level for v in self.vertebrae)
        raise KeyError(f"no vertebra {level!r} in this report; it has {known}")

    @property
    def summary(self) -> dict[str, Any]:
        """Counts, fractures, worst grade (``None`` if none graded) and level-name doubts.

        With a learned model also ``model`` (what was applied) and ``n_model_flagged``
        (vertebrae whose morphometric grade the model questions; ``docs/spine-model.md``).
        """
        graded = [v for v in self.vertebrae if v.status == "graded"]
        grades = [v.genant_grade for v in graded if v.genant_grade is not None]
        extra: dict[str, Any] = {}
        if self.model is not None:
            extra = {
                "model": dict(self.model),
                "n_model_flagged": sum(
                    (v.model or {}).get("grade_source") == "morphometry_flagged"
                    for v in self.vertebrae
                ),
            }
        return {
            "n_vertebrae": len(self.vertebrae),
            "n_graded": len(graded),
            "n_incomplete": sum(v.status == "incomplete" for v in self.vertebrae),
            "n_failed": sum(v.status == "failed" for v in self.vertebrae),
            "n_fractured": sum(v.is_fractured for v in graded),
            "max_grade": max(grades) if grades else None,
            "level_warnings": list(self.level_warnings),
            **extra,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the ``vertebrae.json`` document as a dictionary."""
        from fracturelab import __version__

        return {
            "schema_version": SCHEMA_VERSION,
            "fracturelab_version": __version__,
            "label_convention": self.label_convention,
            "label_detection": self.label_detection,
            "inputs": self.inputs,
            "ct_geometry": self.ct_geometry,
            "method": self.method,
            "vertebrae": [v.to_dict() for v in self.vertebrae],
            "summary": self.summary,
        }

    def to_json(self) -> str:
        """Return the ``vertebrae.json`` text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_csv(self) -> str:
        """Return the ``vertebrae.csv`` text, one row per vertebra.

        With a learned model the :data:`MODEL_CSV_COLUMNS` follow the others.
        """
        if self.model is None:
            return csv_text(_CSV_COLUMNS, [vertebra.csv_row() for vertebra in self.vertebrae])
        rows = [{**v.csv_row(), **v.model_csv_row()} for v in self.vertebrae]
        return csv_text((*_CSV_COLUMNS, *MODEL_CSV_COLUMNS), rows)

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``vertebrae.json`` and ``vertebrae.csv`` (atomically) into ``out_dir``."""
        folder = Path(out_dir)
        return {
            "json": atomic_write_text(folder / "vertebrae.json", self.to_json()),
            "csv": atomic_write_text(folder / "vertebrae.csv", self.to_csv()),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpineReport:
        """Rebuild a report from a ``vertebrae.json`` document."""
        names = set(VertebraResult.__dataclass_fields__) - {"model"}
        vertebrae = [
            VertebraResult(
                **{k: v for k, v in item.items() if k in names},
                model={k: item.get(k) for k in MODEL_KEYS} if "grade_source" in item else None,
            )
            for item in data["vertebrae"]
        ]
        return cls(
            vertebrae=vertebrae,
            label_convention=data["label_convention"],
            label_detection=data.get("label_detection", ""),
            inputs=data.get("inputs", {}),
            ct_geometry=data.get("ct_geometry", {}),
            method=data.get("method", {}),
            level_warnings=list(data.get("summary", {}).get("level_warnings", [])),
            model=data.get("summary", {}).get("model"),
        )


def _blank(value: Any) -> Any:
    return "" if value is None else value
