"""Phantoms with known ground truth: a CT-like spine with vertebra labels and fractures."""

from fracturelab.synth.fractures import FractureSpec, parse_fractures
from fracturelab.synth.spine_phantom import SpinePhantom, make_spine_phantom

__all__ = ["FractureSpec", "SpinePhantom", "make_spine_phantom", "parse_fractures"]
