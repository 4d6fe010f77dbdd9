"""Spine CT: per-vertebra morphometry, Genant grading and reports."""

from fracturelab.spine.grading import genant_grade
from fracturelab.spine.morphometry import MorphometryOptions
from fracturelab.spine.pipeline import analyze
from fracturelab.spine.report import SpineReport, VertebraResult

__all__ = ["MorphometryOptions", "SpineReport", "VertebraResult", "analyze", "genant_grade"]
