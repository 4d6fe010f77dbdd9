"""The femur file contract: manifest columns and class names (see ``docs/design.md``).

Declared once here, torch-free, and imported by the manifest reader, the synthetic data
writer and the workstation's export, so the three always agree.
"""

from __future__ import annotations

__all__ = [
    "AFF",
    "LABELS",
    "MANIFEST_COLUMNS",
    "NFF",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
]

#: Atypical femur fracture: the positive class.
AFF = "AFF"
#: Normal (typical) femur fracture: the negative class.
NFF = "NFF"
#: Class names of the manifest's ``label`` column; the positive class comes first.
LABELS: tuple[str, ...] = (AFF, NFF)
#: Columns every femur manifest has (``docs/design.md``, "Femur manifest").
REQUIRED_COLUMNS: tuple[str, ...] = ("image", "patient_id", "label", "center_x", "center_y")
#: Columns a manifest may add.
OPTIONAL_COLUMNS: tuple[str, ...] = ("pixel_spacing_mm",)
#: Every manifest column, in the order written.
MANIFEST_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
