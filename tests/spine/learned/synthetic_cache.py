"""A learnable patch cache written directly in the cache format (no CT needed).

Each vertebra is a box in a ``(3, 16, 16, 16)`` patch (CT, own mask, neighbours' masks;
``D`` superior, ``H`` anterior). Its height along ``D`` shrinks with the Genant grade, a
wedge only at the anterior half; a sclerotic band (bright CT) marks fractured ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fracturelab.outputs import write_csv
from fracturelab.spine.learned.data import INDEX_COLUMNS

SIDE = 16
#: Height (voxels along D) of the vertebra of each grade.
HEIGHTS = {0: 10, 1: 8, 2: 6, 3: 4}
LEVELS = ("T11", "T12", "L1", "L2", "L3", "L4")


def vertebra_patch(grade: int, morphology: str, rng: np.random.Generator) -> np.ndarray:
    """One patch, float16 ``(3, SIDE, SIDE, SIDE)``."""
    patch = np.zeros((3, SIDE, SIDE, SIDE), dtype=np.float32)
    full = HEIGHTS[0]
    height = HEIGHTS[grade]
    bottom = (SIDE - full) // 2
    patch[1, bottom : bottom + full, 4:12, 4:12] = 1.0
    if grade:
        if morphology == "wedge":
            patch[1, bottom + height : bottom + full, 8:12, 4:12] = 0.0  # anterior half lower
        else:
            patch[1, bottom + height : bottom + full, 4:12, 4:12] = 0.0
    patch[2, : max(0, bottom - 1)] = 1.0
    patch[2, bottom + full + 1 :] = 1.0
    ct = 0.3 * patch[1] + 0.15 * patch[2] + rng.normal(0.0, 0.03, patch[0].shape)
    if grade:
        top = bottom + height - 1
        ct[top, 4:12, 4:12] += 0.5  # sclerotic band under the collapsed endplate
    patch[0] = np.clip(ct, 0.0, 1.0)
    return patch.astype(np.float16)


def write_cache(
    folder: Path,
    n_patients: int = 12,
    seed: int = 0,
    scans_per_patient: int = 1,
    fractured_every: int = 2,
) -> Path:
    """Write ``index.csv``, ``spec.json`` and patches; return the folder.

    Every ``fractured_every``-th patient has fractures (grades 1-3, wedge or crush), and one
    failed scan is listed with a reason and no patch.
    """
    rng = np.random.default_rng(seed)
    (folder / "patches").mkdir(parents=True, exist_ok=True)
    rows = []
    for p in range(n_patients):
        for s in range(scans_per_patient):
            case = f"case{p:02d}{'abcdef'[s]}"
            for i, level in enumerate(LEVELS):
                grade = 0
                if p % fractured_every == 0 and i in (1, 3):
                    grade = 1 + (p // fractured_every + i) % 3
                morphology = "normal" if grade == 0 else ("wedge" if i == 1 else "crush")
                name = f"patches/{case}_{level}.npy"
                np.save(folder / name, vertebra_patch(grade, morphology, rng))
                loss = {0: 5.0, 1: 22.0, 2: 30.0, 3: 45.0}[grade] + rng.normal(0, 1)
                rows.append(
                    {
                        "case_id": case,
                        "patient_id": f"P{p:02d}",
                        "tier": "graded",
                        "level": level,
                        "label": 18 + i,
                        "genant_grade": grade,
                        "morphology": "" if i == 4 else morphology,  # some unknown
                        "fracture": int(grade >= 1),
                        "patch": name,
                        "height_loss_pct": round(float(loss), 2),
                        "morph_grade": grade,
                        "status": "ok",
                        "reason": "",
                    }
                )
    rows.append(
        {"case_id": "broken", "patient_id": "P99", "tier": "graded", "level": "L1",
         "genant_grade": 0, "status": "failed", "reason": "CT unreadable"}
    )  # fmt: skip
    write_csv(folder / "index.csv", INDEX_COLUMNS, rows)
    spec = {"size_mm": [48, 48, 48], "shape": [SIDE] * 3, "channels": ["ct", "mask", "neighbours"]}
    (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    return folder
