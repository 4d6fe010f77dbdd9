"""Phantoms with known ground truth: spine CTs and femur radiographs.

A CT-like spine with vertebra labels and fractures; femur radiographs with atypical (AFF) or
normal (NFF) fractures of known centre.
"""

from fracturelab.synth.femur import (
    FemurPhantom,
    FemurSpec,
    make_femur_dataset,
    make_femur_radiograph,
    render_femur_radiograph,
    sample_femur_spec,
)
from fracturelab.synth.fractures import FractureSpec, parse_fractures
from fracturelab.synth.spine_phantom import SpinePhantom, make_spine_phantom

__all__ = [
    "FemurPhantom",
    "FemurSpec",
    "FractureSpec",
    "SpinePhantom",
    "make_femur_dataset",
    "make_femur_radiograph",
    "make_spine_phantom",
    "parse_fractures",
    "render_femur_radiograph",
    "sample_femur_spec",
]
