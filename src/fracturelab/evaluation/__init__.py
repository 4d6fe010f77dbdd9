"""Evaluation of fracture classifiers and localisers: metrics, intervals, tests and plots."""

from fracturelab.evaluation.agreement import (
    AgreementSummary,
    BinaryAgreement,
    CenterDistances,
    FleissKappa,
    PairAgreement,
    binary_agreement,
    center_distances_mm,
    fleiss_kappa,
    pairwise_summary,
    weighted_kappa,
)
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
    "AgreementSummary",
    "BinaryAgreement",
    "CenterDistances",
    "ConfidenceInterval",
    "DeLongInterval",
    "DeLongResult",
    "FleissKappa",
    "GroupComparison",
    "LocalisationErrors",
    "PairAgreement",
    "ReliabilityCurve",
    "aggregate_by_patient",
    "binary_agreement",
    "binary_metrics",
    "bootstrap_ci",
    "center_distances_mm",
    "choose_threshold",
    "compare_groups",
    "delong_ci",
    "delong_covariance",
    "delong_test",
    "expected_calibration_error",
    "fleiss_kappa",
    "localisation_errors",
    "pairwise_summary",
    "plot_calibration",
    "plot_localisation_errors",
    "plot_roc",
    "reliability_curve",
    "roc_auc",
    "success_rates",
    "weighted_kappa",
]
