"""Evaluation of fracture classifiers and localisers: metrics, intervals, tests and plots."""

from fracturelab.evaluation.agreement import (
    AgreementSummary,
    CenterDistances,
    ReaderPair,
    center_distances_mm,
    pairwise_summary,
    reader_pairs,
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
from fracturelab.evaluation.fleiss import FleissKappa, fleiss_kappa
from fracturelab.evaluation.kappa import (
    KAPPA_WEIGHTS,
    MIN_COMMON_ITEMS,
    BinaryAgreement,
    PairAgreement,
    binary_agreement,
    weighted_kappa,
)
from fracturelab.evaluation.localisation import (
    GroupComparison,
    LocalisationErrors,
    compare_groups,
    localisation_errors,
    success_rates,
)
from fracturelab.evaluation.plots import plot_calibration, plot_localisation_errors, plot_roc
from fracturelab.evaluation.proportion import wilson_interval
from fracturelab.evaluation.ratings import GENANT_GRADES

__all__ = [
    "GENANT_GRADES",
    "KAPPA_WEIGHTS",
    "MIN_COMMON_ITEMS",
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
    "ReaderPair",
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
    "reader_pairs",
    "reliability_curve",
    "roc_auc",
    "success_rates",
    "weighted_kappa",
    "wilson_interval",
]
