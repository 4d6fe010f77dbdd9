from fractions import Fraction

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.evaluation import (
    binary_agreement,
    center_distances_mm,
    fleiss_kappa,
    pairwise_summary,
    reader_pairs,
    weighted_kappa,
)

# Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological
# Bulletin 76(5), 378-382, Table 1: 30 patients, 6 psychiatrists each, number of
# psychiatrists giving each diagnosis (columns: depression, personality disorder,
# schizophrenia, neurosis, other). Published kappa = .430 (P-bar = .556, P-bar-e = .220);
# R irr::kappam.fleiss(diagnoses) gives 0.4302445 on the same data.
FLEISS_1971 = [
    [0, 0, 0, 6, 0],
    [0, 3, 0, 0, 3],
    [0, 1, 4, 0, 1],
    [0, 0, 0, 0, 6],
    [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0],
    [0, 0, 4, 0, 2],
    [2, 0, 3, 1, 0],
    [2, 0, 0, 4, 0],
    [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0],
    [1, 1, 0, 4, 0],
    [0, 3, 3, 0, 0],
    [1, 0, 0, 5, 0],
    [0, 2, 0, 3, 1],
    [0, 0, 5, 0, 1],
    [3, 0, 0, 1, 2],
    [5, 1, 0, 0, 0],
    [0, 2, 0, 4, 0],
    [1, 0, 2, 0, 3],
    [0, 0, 0, 0, 6],
    [0, 1, 0, 5, 0],
    [0, 2, 0, 1, 3],
    [2, 0, 0, 4, 0],
    [1, 0, 0, 4, 1],
    [0, 5, 0, 1, 0],
    [4, 0, 0, 0, 2],
    [0, 2, 0, 4, 0],
    [1, 0, 5, 0, 0],
    [0, 0, 0, 0, 6],
]

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
# Published P-bar = 0.378, P-bar-e = 0.213, kappa = 0.210.
WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def ratings_from_counts(counts):
    """(items, categories) counts -> (items, raters) ratings: category index per rater."""
    return [[j for j, c in enumerate(row) for _ in range(c)] for row in counts]


def test_fleiss_kappa_reproduces_fleiss_1971():
    result = fleiss_kappa(ratings_from_counts(FLEISS_1971), categories=range(5))
    assert result.kappa == pytest.approx(0.4302445, abs=1e-7)
    assert result.observed_agreement == pytest.approx(0.556, abs=5e-4)
    assert result.expected_agreement == pytest.approx(0.220, abs=5e-4)
    assert (result.n_items, result.n_dropped, result.n_ratings) == (30, 0, 180)
    assert result.undefined_reason is None


def test_fleiss_kappa_reproduces_the_wikipedia_example():
    result = fleiss_kappa(ratings_from_counts(WIKIPEDIA), categories=range(5))
    assert result.kappa == pytest.approx(0.210, abs=5e-4)
    assert result.observed_agreement == pytest.approx(0.378, abs=5e-4)
    assert result.expected_agreement == pytest.approx(0.213, abs=5e-4)


def test_per_category_kappa_is_kappa_of_that_category_against_the_rest():
    # Fleiss (1971) eq. for kappa_j equals the overall kappa of the table collapsed to
    # "category j" vs "any other"; both are 0.245, 0.245, 0.520, 0.471, 0.566 here.
    ratings = np.array(ratings_from_counts(FLEISS_1971))
    per_category = fleiss_kappa(ratings, categories=range(5)).per_category
    for j in range(5):
        collapsed = fleiss_kappa((ratings == j).astype(int), categories=(0, 1)).kappa
        assert per_category[j] == pytest.approx(collapsed, abs=1e-12)
    assert [round(per_category[j], 3) for j in range(5)] == [0.245, 0.245, 0.520, 0.471, 0.566]


def test_fleiss_kappa_of_two_raters_is_scotts_pi_by_hand():
    a = [0, 0, 0, 0, 1, 1, 2, 2]
    b = [0, 0, 1, 1, 1, 2, 2, 2]
    # Observed agreement: items 1, 2 (0), 5 (1), 7, 8 (2) -> 5/8.
    # Pooled marginals over 16 ratings: 0 -> 4 + 2 = 6, 1 -> 2 + 3 = 5, 2 -> 2 + 3 = 5,
    # Pe = (36 + 25 + 25) / 256 = 43/128; Scott's pi = (80/128 - 43/128) / (85/128) = 37/85.
    # (Cohen's kappa uses each reader's marginals: Pe = (4*2 + 2*3 + 2*3) / 64 = 5/16,
    # kappa = (5/8 - 5/16) / (11/16) = 5/11, a different number.)
    result = fleiss_kappa(np.column_stack([a, b]), categories=(0, 1, 2))
    assert result.kappa == pytest.approx(float(Fraction(37, 85)), abs=1e-12)
    assert result.observed_agreement == pytest.approx(5 / 8)
    assert result.expected_agreement == pytest.approx(43 / 128)
    assert weighted_kappa(a, b, weights=None).kappa == pytest.approx(5 / 11)


def test_fleiss_kappa_with_missing_ratings_uses_per_item_counts():
    ratings = [
        [0, 0, None],  # n=2, x=0 positives
        [1, 1, 1],  # n=3, x=3
        [0, 1, np.nan],  # n=2, x=1
        [None, 1, None],  # n=1: dropped
        [1, 0, 0],  # n=3, x=1
    ]
    # Fleiss, Levin & Paik (2003) ch. 18, binary: N = 4, n_bar = 10/4 = 2.5,
    # p = 5/10 = 0.5, sum x(n - x)/n = 0 + 0 + 1*1/2 + 1*2/3 = 7/6,
    # kappa = 1 - (7/6) / (N (n_bar - 1) p q) = 1 - (7/6) / 1.5 = 2/9.
    result = fleiss_kappa(ratings, categories=(0, 1))
    assert result.kappa == pytest.approx(2 / 9, abs=1e-12)
    assert (result.n_items, result.n_dropped, result.n_ratings) == (4, 1, 10)


def test_fleiss_kappa_is_nan_when_every_rating_is_the_same():
    result = fleiss_kappa([[2, 2, 2], [2, 2, 2]], categories=(0, 1, 2, 3))
    assert np.isnan(result.kappa) and result.undefined_reason
    assert np.isnan(result.per_category[0]) and np.isnan(result.per_category[2])


def test_quadratic_kappa_by_hand_on_a_3x3_table():
    a = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2]
    b = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    # Observed table O (rows a, columns b): [[3, 2, 0], [0, 2, 1], [0, 0, 2]], n = 10;
    # row sums 5, 3, 2; column sums 3, 4, 3; weights w_ij = (i - j)^2.
    # sum w O = 2*1 + 1*1 = 3.
    # E = rows x columns / n = [[1.5, 2.0, 1.5], [0.9, 1.2, 0.9], [0.6, 0.8, 0.6]],
    # sum w E = 2.0 + 4*1.5 + 0.9 + 0.9 + 4*0.6 + 0.8 = 13.
    # kappa = 1 - 3/13 = 10/13 (grade 3, unused, changes nothing).
    result = weighted_kappa(a, b)
    assert result.kappa == pytest.approx(10 / 13, abs=1e-12)
    assert (result.n_items, result.n_dropped) == (10, 0)
    assert result.observed_agreement == pytest.approx(7 / 10)
    assert result.undefined_reason is None


def test_identical_readers_have_kappa_one():
    grades = [0, 1, 2, 3, 3, 1, 0]
    assert weighted_kappa(grades, grades).kappa == pytest.approx(1.0)
    assert weighted_kappa(grades, grades, weights="linear").kappa == pytest.approx(1.0)


def test_opposite_readers_have_kappa_minus_one():
    # O is the anti-diagonal: sum w O = 9 + 1 + 1 + 9 = 20; every E cell is 1/4 and
    # sum_ij (i - j)^2 over 4x4 is 40, so sum w E = 10 and kappa = 1 - 20/10 = -1.
    assert weighted_kappa([0, 1, 2, 3], [3, 2, 1, 0]).kappa == pytest.approx(-1.0)


def test_missing_grades_are_dropped_and_counted():
    a = [0, 1, None, 2, np.nan, 3, None]
    b = [0, 1, 1, None, 2, 3, None]
    result = weighted_kappa(a, b)
    assert (result.n_items, result.n_dropped) == (3, 4)
    assert result.kappa == pytest.approx(1.0)


def test_constant_identical_readers_give_nan_with_a_reason():
    result = weighted_kappa([1, 1, 1, None], [1, 1, 1, 2])
    assert np.isnan(result.kappa)
    assert "same single rating" in result.undefined_reason
    assert result.observed_agreement == 1.0


def test_constant_but_different_readers_give_kappa_zero():
    assert weighted_kappa([0, 0, 0], [1, 1, 1]).kappa == pytest.approx(0.0)


def test_text_labels_for_femur_fracture_type():
    a = ["AFF", "NFF", "AFF", None]
    b = ["AFF", "NFF", "NFF", "AFF"]
    result = weighted_kappa(a, b, weights=None, labels=("NFF", "AFF"))
    # 3 common items, 2 agree; marginals a: AFF 2, NFF 1; b: AFF 1, NFF 2.
    # Pe = (2*1 + 1*2) / 9 = 4/9, kappa = (2/3 - 4/9) / (5/9) = 2/5.
    assert result.kappa == pytest.approx(0.4)
    assert result.n_dropped == 1


def test_binary_agreement_by_hand():
    a = [0, 0, 0, 0, 1, 2, 3, 0, 2, None]
    b = [0, 0, 0, 1, 1, 3, 0, 0, 2, 1]
    # Fractured (grade >= 1) on the 9 common items:
    #   a: 0 0 0 0 1 1 1 0 1
    #   b: 0 0 0 1 1 1 0 0 1
    # both + = 3, both - = 4, only a = 1 (item 7), only b = 1 (item 4).
    # Po = 7/9; each reader 4/9 positive: Pe = 16/81 + 25/81 = 41/81,
    # kappa = (63 - 41) / (81 - 41) = 22/40; positive agreement 6/8, negative 8/10.
    result = binary_agreement(a, b)
    assert (result.n_items, result.n_dropped) == (9, 1)
    counts = (result.both_positive, result.both_negative, result.only_a, result.only_b)
    assert counts == (3, 4, 1, 1)
    assert result.observed_agreement == pytest.approx(7 / 9)
    assert result.kappa == pytest.approx(22 / 40)
    assert result.positive_agreement == pytest.approx(0.75)
    assert result.negative_agreement == pytest.approx(0.8)


def test_binary_agreement_when_no_item_is_positive():
    result = binary_agreement([0, 0, 0], [0, 0, 0])
    assert np.isnan(result.kappa) and result.undefined_reason
    assert np.isnan(result.positive_agreement) and result.negative_agreement == 1.0


def test_pairwise_summary_of_three_readers():
    ratings = {
        "r1": [0, 1, 2, 3, 0, 1],
        "r2": [0, 1, 2, 3, 0, 1],
        "r3": [3, 2, 1, 0, None, None],
    }
    summary = pairwise_summary(ratings)
    assert summary.readers == ("r1", "r2", "r3")
    assert list(summary.pairs) == [("r1", "r2"), ("r1", "r3"), ("r2", "r3")]
    assert summary.pairs[("r1", "r2")].kappa == pytest.approx(1.0)
    assert summary.pairs[("r1", "r3")].kappa == pytest.approx(-1.0)
    assert summary.pairs[("r1", "r3")].n_dropped == 2
    assert summary.mean_kappa == pytest.approx((1 - 1 - 1) / 3)
    expected = fleiss_kappa(np.array(list(ratings.values()), dtype=object).T)
    assert summary.fleiss is not None
    assert summary.fleiss.kappa == pytest.approx(expected.kappa)


def test_pairwise_summary_of_two_readers_has_no_fleiss_kappa():
    summary = pairwise_summary({"a": [0, 1, 2], "b": [0, 1, 1]}, weights="linear")
    assert summary.fleiss is None
    assert summary.mean_kappa == summary.pairs[("a", "b")].kappa


def test_center_distances_with_anisotropic_spacing_by_hand():
    nan = np.nan
    centers = {
        "a": [[10.0, 20.0], [0.0, 0.0], [nan, nan], [5.0, 5.0]],
        "b": [[13.0, 24.0], [0.0, 10.0], [1.0, 1.0], [5.0, 5.0]],
        "c": [[10.0, 20.0], [nan, nan], [nan, nan], [5.0, 5.0]],
    }
    spacing = [[0.5, 0.2], [0.5, 0.2], [0.5, 0.2], [nan, nan]]
    result = center_distances_mm(centers, spacing)
    assert list(result) == [("a", "b"), ("a", "c"), ("b", "c")]
    ab = result[("a", "b")]
    # image 0: dx = 3 px * 0.5 = 1.5 mm, dy = 4 px * 0.2 = 0.8 mm -> sqrt(2.89) = 1.7 mm
    # image 1: dy = 10 px * 0.2 = 2.0 mm; image 2: a has no centre; image 3: no spacing.
    np.testing.assert_allclose(ab.mm, [1.7, 2.0, nan, nan], equal_nan=True)
    assert (ab.n_items, ab.n_dropped) == (2, 2)
    assert ab.median_mm == pytest.approx(1.85)
    assert ab.iqr_mm == pytest.approx((1.775, 1.925))
    assert result[("a", "c")].mm[0] == 0.0 and result[("a", "c")].n_items == 1
    assert result[("b", "c")].median_mm == pytest.approx(1.7)


def test_center_distances_with_one_spacing_for_all_images():
    result = center_distances_mm({"a": [[0, 0], [1, 1]], "b": [[3, 4], [1, 1]]}, (1.0, 1.0))
    np.testing.assert_allclose(result[("a", "b")].mm, [5.0, 0.0])


def test_center_distances_without_common_marks_give_nan_summary():
    nan = np.nan
    pair = center_distances_mm({"a": [[nan, nan]], "b": [[1.0, 1.0]]}, (1.0, 1.0))[("a", "b")]
    assert pair.n_items == 0 and np.isnan(pair.median_mm) and np.isnan(pair.iqr_mm[0])


# One test per bad input.


def test_length_mismatch():
    with pytest.raises(InputError, match=r"^grades_b has length 2 but grades_a has length 3"):
        weighted_kappa([0, 1, 2], [0, 1])


def test_length_mismatch_between_readers():
    with pytest.raises(InputError, match=r"^ratings_by_reader\['b'\] has length 2 but"):
        pairwise_summary({"a": [0, 1, 2], "b": [0, 1]})


def test_grade_outside_the_labels():
    with pytest.raises(InputError, match=r"^grades_b has values \[4\]; allowed: 0, 1, 2, 3"):
        weighted_kappa([0, 1, 2], [0, 1, 4])


def test_fleiss_rating_outside_the_categories():
    with pytest.raises(InputError, match=r"^ratings has values \['x'\]; allowed: 0, 1"):
        fleiss_kappa([[0, 1], [1, "x"]], categories=(0, 1))


def test_fewer_than_two_common_items():
    with pytest.raises(InputError, match=r"^grades_a and grades_b have 1 of 3 items rated by both"):
        weighted_kappa([0, None, 2], [0, 1, None])


def test_fewer_than_two_common_items_names_the_readers():
    with pytest.raises(InputError, match=r"^readers 'a' and 'c' have 0 of 3 items rated by both"):
        pairwise_summary({"a": [0, 1, None], "b": [0, 1, 2], "c": [None, None, 1]})


def test_fleiss_with_fewer_than_two_rated_items():
    with pytest.raises(InputError, match=r"^ratings has 1 of 2 items with >= 2 ratings"):
        fleiss_kappa([[0, 1, 1], [None, 1, None]], categories=(0, 1))


def test_fleiss_with_one_reader():
    with pytest.raises(InputError, match=r"^ratings has shape \(3, 1\)"):
        fleiss_kappa([[0], [1], [1]], categories=(0, 1))


def test_unknown_weights():
    with pytest.raises(InputError, match=r"^weights='cubic' is not known"):
        weighted_kappa([0, 1], [0, 1], weights="cubic")


def test_duplicate_labels():
    with pytest.raises(InputError, match=r"^labels=\(0, 1, 1\) is not allowed"):
        weighted_kappa([0, 1], [0, 1], labels=(0, 1, 1))


def test_positive_from_outside_the_labels():
    with pytest.raises(InputError, match=r"^positive_from=5 is not a label"):
        binary_agreement([0, 1], [0, 1], positive_from=5)


def test_single_reader():
    with pytest.raises(InputError, match=r"^ratings_by_reader has readers \['a'\]; need at"):
        pairwise_summary({"a": [0, 1]})


def test_spacing_not_positive():
    with pytest.raises(InputError, match=r"^spacing_xy_mm has values in \[0, 0.5\]"):
        center_distances_mm({"a": [[0, 0]], "b": [[1, 1]]}, (0.5, 0.0))


def test_spacing_with_wrong_shape():
    with pytest.raises(InputError, match=r"^spacing_xy_mm has shape \(3,\)"):
        center_distances_mm({"a": [[0, 0]], "b": [[1, 1]]}, (0.5, 0.5, 0.5))


def test_half_missing_centre():
    with pytest.raises(InputError, match=r"^centers_by_reader\['b'\] has infinite or half"):
        center_distances_mm({"a": [[0, 0]], "b": [[1, np.nan]]}, (0.5, 0.5))


def test_centres_with_wrong_shape():
    with pytest.raises(InputError, match=r"^centers_by_reader\['a'\] has shape \(3,\)"):
        center_distances_mm({"a": [0, 0, 1], "b": [[1, 1]]}, (0.5, 0.5))


def test_centre_count_mismatch():
    with pytest.raises(InputError, match=r"^centers_by_reader\['b'\] has length 1 but"):
        center_distances_mm({"a": [[0, 0], [1, 1]], "b": [[1, 1]]}, (0.5, 0.5))


def test_reader_pairs_keep_only_items_both_rated_in_sorted_order():
    ratings = {
        "ann": {"c": 1, "a": 0, "b": None},
        "bob": {"a": 2, "b": 1, "c": float("nan"), "d": 3},
        "cat": {"d": 0},
    }
    pairs = reader_pairs(ratings)
    assert [(p.reader_a, p.reader_b) for p in pairs] == [
        ("ann", "bob"),
        ("ann", "cat"),
        ("bob", "cat"),
    ]
    assert (pairs[0].items, pairs[0].ratings_a, pairs[0].ratings_b) == (("a",), (0,), (2,))
    assert pairs[1].items == ()
    assert (pairs[2].items, pairs[2].ratings_a, pairs[2].ratings_b) == (("d",), (3,), (0,))
