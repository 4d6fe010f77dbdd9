"""Where the CT's endplate edge lies against the true surface, by slice thickness (1D model).

Usage:
    python benchmarks/spine_edge_model.py [--thickness 1 2 3] [--interpolation 1 3]

A line through an endplate crosses cancellous bone, the endplate's cortex (a thin bright layer
of thickness ``c`` and level ``C``) and the disc. The scanner averages it over the slice
(a box of the slice thickness) and blurs it (Gaussian, half a voxel); the result is sampled at
voxel centres, interpolated along the measurement line (linear or cubic spline) and the edge is
found by the measurement's own rule (``fracturelab.spine.endplates.refine_edge``: half-way
between the line's bone and disc levels). For every thickness and cortex, the edge's error
(mm, positive outside the bone) is printed as mean +- spread over where the surface falls
within its voxel (12 positions).

This is why the CT refinement is used only up to 2 mm voxels along the spine (README, Limits):
at 1 mm the edge lies 0.1-0.4 mm outside the surface whatever the cortex; at 3 mm it lies about
0.8-1.4 mm outside, by an amount that depends on the cortex (unknown in a patient), and moves by
+-0.35-0.7 mm with the surface's place in its slice: as large as the label map's own error there.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

from fracturelab.spine.endplates import EDGE_SEARCH_VOXELS, refine_edge

CANCELLOUS_HU, DISC_HU = 220.0, 90.0
#: (cortex thickness mm, cortex HU): thick dense, medium, thin, thin osteoporotic.
CORTICES = ((1.5, 800.0), (1.0, 600.0), (0.5, 800.0), (0.7, 450.0))
DISC_MM = 9.0
PSF_SIGMA_VOXELS = 0.5


def scanned_line(
    phase_mm: float, thickness_mm: float, cortex_mm: float, cortex_hu: float
) -> tuple[np.ndarray, np.ndarray]:
    """Voxel centres (mm) and HU along a line; the body's surface is at 0, bone below it."""
    centres = np.arange(-40.0, 40.0, thickness_mm) + phase_mm
    offsets = np.linspace(-0.5, 0.5, 101) * thickness_mm
    u = centres[:, None] + offsets[None, :]
    tissue = np.select(
        [u < -cortex_mm, u < 0.0, u < DISC_MM, u < DISC_MM + cortex_mm],
        [CANCELLOUS_HU, cortex_hu, DISC_HU, cortex_hu],
        CANCELLOUS_HU,
    )
    values = ndimage.gaussian_filter1d(tissue.mean(axis=1), PSF_SIGMA_VOXELS, mode="nearest")
    return centres, values


def edge_errors(thickness_mm: float, cortex: tuple[float, float], order: int) -> np.ndarray:
    """Edge minus true surface (mm) at 12 positions of the surface within its voxel."""
    errors = []
    for phase in np.linspace(0.0, thickness_mm, 13)[:-1]:
        centres, values = scanned_line(phase, thickness_mm, *cortex)
        t = np.arange(-25.0, 25.0, 0.1)
        hu = ndimage.map_coordinates(
            values, [(t - centres[0]) / thickness_mm], order=order, mode="nearest"
        )
        # the label map's crossing: half-way between the last voxel centre inside and the first out
        mask_crossing = 0.5 * (centres[centres < 0].max() + centres[centres >= 0].min())
        window = max(EDGE_SEARCH_VOXELS * thickness_mm, 1.5)
        edge = refine_edge(t, hu, mask_crossing, 1.0, window)
        errors.append(np.nan if edge is None else edge)
    return np.asarray(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--thickness", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    parser.add_argument("--interpolation", type=int, nargs="+", default=[1, 3],
                        help="spline order used to read the CT along the line")  # fmt: skip
    args = parser.parse_args()
    print("edge error (mm, + = outside the bone): mean +- spread over the surface's place")
    cortices = " | ".join(f"cortex {c:.1f} mm {h:.0f} HU" for c, h in CORTICES)
    print(f"slice mm | interp. | {cortices}")
    for thickness in args.thickness:
        for order in args.interpolation:
            cells = []
            for cortex in CORTICES:
                errors = edge_errors(thickness, cortex, order)
                found = np.isfinite(errors)
                text = f"{np.mean(errors[found]):+.2f} +- {np.std(errors[found]):.2f}"
                if not found.all():
                    text += f" ({int((~found).sum())} not found)"
                cells.append(f"{text:>22}")
            name = "linear" if order == 1 else "cubic"
            print(f"{thickness:8.1f} | {name:>7} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
