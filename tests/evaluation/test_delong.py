import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fracturelab.evaluation import delong_ci, delong_covariance, delong_test
from tests.evaluation import asah


@pytest.fixture(scope="module")
def data():
    return asah.load()


@pytest.mark.parametrize(("first", "second", "z", "p", "ci"), asah.PROC_ROC_TEST)
def test_delong_test_reproduces_proc_roc_test_on_asah(data, first, second, z, p, ci):
    result = delong_test(data["outcome"], data[first], data[second])
    assert result.z == pytest.approx(z, rel=1e-9)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert result.ci_difference == pytest.approx(ci, rel=1e-9)
    assert (result.n_positive, result.n_negative) == (41, 72)


def test_delong_aucs_are_those_printed_by_proc(data):
    # roc.test(r.wfns, r.s100b) prints "AUC of roc1 0.8236789, AUC of roc2 0.7313686".
    result = delong_test(data["outcome"], data["wfns"], data["s100b"])
    assert result.auc_a == pytest.approx(0.8236789, abs=5e-8)
    assert result.auc_b == pytest.approx(0.7313686, abs=5e-8)
    assert result.difference == pytest.approx(result.auc_a - result.auc_b)


@pytest.mark.parametrize("name", ["wfns", "ndka", "s100b"])
def test_delong_variance_reproduces_proc_var(data, name):
    interval = delong_ci(data["outcome"], data[name])
    assert interval.variance == pytest.approx(asah.PROC_VAR[name], rel=1e-9)
    assert interval.se == pytest.approx(np.sqrt(asah.PROC_VAR[name]), rel=1e-9)


def test_delong_ci_reproduces_proc_ci_auc(data):
    interval = delong_ci(data["outcome"], data["ndka"])
    low, estimate, high = asah.PROC_CI_AUC_NDKA
    assert (interval.low, interval.estimate, interval.high) == pytest.approx(
        (low, estimate, high), rel=1e-9
    )


def test_reversing_the_predictors_flips_z_and_keeps_p(data):
    ab = delong_test(data["outcome"], data["wfns"], data["s100b"])
    ba = delong_test(data["outcome"], data["s100b"], data["wfns"])
    assert ba.z == pytest.approx(-ab.z)
    assert ba.p_value == pytest.approx(ab.p_value)


def test_identical_predictors_give_p_one_and_zero_difference(data):
    result = delong_test(data["outcome"], data["wfns"], data["wfns"].copy())
    assert result.difference == 0.0
    assert result.z == 0.0
    assert result.p_value == 1.0
    assert result.se == 0.0


def _brute_force(y, scores):
    """DeLong 1988 written plainly: psi(x, y) = 1 if x > y, 1/2 if tied, 0 otherwise."""
    positives = [i for i in range(len(y)) if y[i] == 1]
    negatives = [j for j in range(len(y)) if y[j] == 0]
    m, n = len(positives), len(negatives)
    k = len(scores)
    v10 = np.zeros((k, m))  # per positive: share of negatives it beats
    v01 = np.zeros((k, n))  # per negative: share of positives that beat it
    for r in range(k):
        for a, i in enumerate(positives):
            for b, j in enumerate(negatives):
                x, z = scores[r][i], scores[r][j]
                psi = 1.0 if x > z else 0.5 if x == z else 0.0
                v10[r, a] += psi / n
                v01[r, b] += psi / m
    aucs = v10.mean(axis=1)
    s10 = np.zeros((k, k))
    s01 = np.zeros((k, k))
    for r in range(k):
        for s in range(k):
            s10[r, s] = sum((v10[r, a] - aucs[r]) * (v10[s, a] - aucs[s]) for a in range(m)) / (
                m - 1
            )
            s01[r, s] = sum((v01[r, b] - aucs[r]) * (v01[s, b] - aucs[s]) for b in range(n)) / (
                n - 1
            )
    return aucs, s10 / m + s01 / n


@pytest.mark.parametrize("seed", [0, 1])
def test_covariance_equals_brute_force_structural_components_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(70) < 0.3).astype(int)
    y[:2], y[2:4] = 1, 0
    a = np.round(y + rng.normal(0, 1, 70), 0)  # rounding makes many ties
    b = np.round(0.5 * a + rng.normal(0, 1, 70), 1)
    aucs, covariance = delong_covariance(y, np.stack([a, b]))
    expected_aucs, expected_covariance = _brute_force(y, [a, b])
    np.testing.assert_allclose(aucs, expected_aucs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(covariance, expected_covariance, rtol=1e-10, atol=1e-15)
    result = delong_test(y, a, b)
    expected_se = np.sqrt(
        expected_covariance[0, 0] + expected_covariance[1, 1] - 2 * expected_covariance[0, 1]
    )
    assert result.se == pytest.approx(expected_se, rel=1e-10)


def test_aucs_equal_sklearn():
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.2).astype(int)
    a = rng.random(300) + 0.3 * y
    b = np.round(rng.random(300) + 0.1 * y, 2)
    result = delong_test(y, a, b)
    assert result.auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert result.auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)
