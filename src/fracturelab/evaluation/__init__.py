"""Evaluation of fracture classifiers and localisers: metrics, intervals, tests and plots."""

from fracturelab.evaluation.bootstrap import ConfidenceInterval, bootstrap_ci
from fracturelab.evaluation.calibration import (
    ReliabilityCurve,
    expected_calibration_error,
    reliability_curve,
)
from fracturelab.evaluation.classification import (
    aggregate_by_patient,
    binary_metrics,
    choose_threshold,
    roc_auc,
)
from fracturelab.evaluation.delong import (
    DeLongInterval,
    DeLongResult,
    delong_ci,
    delong_covariance,
    delong_test,
)
from fracturelab.evaluation.localisation import (
    GroupComparison,
    LocalisationErrors,
    compare_groups,
    localisation_errors,
    success_rates,
)
from fracturelab.evaluation.plots import plot_calibration, plot_localisation_errors, plot_roc

__all__ = [
    "ConfidenceInterval",
    "DeLongInterval",
    "DeLongResult",
    "GroupComparison",
    "LocalisationErrors",
    "ReliabilityCurve",
    "aggregate_by_patient",
    "binary_metrics",
    "bootstrap_ci",
    "choose_threshold",
    "compare_groups",
    "delong_ci",
    "delong_covariance",
    "delong_test",
    "expected_calibration_error",
    "localisation_errors",
    "plot_calibration",
    "plot_localisation_errors",
    "plot_roc",
    "reliability_curve",
    "roc_auc",
    "success_rates",
]
