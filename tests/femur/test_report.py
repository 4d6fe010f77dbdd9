"""The report's answers and tables on small constructed results (no training)."""

from pathlib import Path

import numpy as np
import pytest

from fracturelab.document import to_markdown
from fracturelab.femur import report
from fracturelab.femur.analysis import analyze
from fracturelab.femur.config import ExperimentConfig
from fracturelab.femur.data import PreparedImage
from fracturelab.femur.geometry import Letterbox
from fracturelab.femur.manifest import ManifestRow
from fracturelab.femur.result import ExperimentResult
from fracturelab.femur.splits import Splits


def _result(
    tmp_path: Path,
    test: tuple[int, int],
    development: tuple[int, int],
    backbones=("cnn",),
    perfect_test: bool = True,
) -> ExperimentResult:
    """One image per patient; ``test`` and ``development`` are (AFF, NFF) patient counts.

    The patch models rank every AFF test patient above every NFF one (AUC 1) when
    ``perfect_test``, and separate the classes imperfectly otherwise and on the development
    images; the downsampling models score at random.
    """
    rng = np.random.default_rng(0)
    plan = [("test", 1)] * test[0] + [("test", 0)] * test[1]
    plan += [(f"fold{i % 2}", 1) for i in range(development[0])]
    plan += [(f"fold{i % 2}", 0) for i in range(development[1])]
    images, assignment = [], []
    for number, (split, aff) in enumerate(plan):
        row = ManifestRow(
            line=number + 2, image=tmp_path / f"p{number}.png", image_text=f"p{number}.png",
            patient_id=f"P{number:03d}", label="AFF" if aff else "NFF",
            center_xy_px=(20.0, 15.0), pixel_spacing_mm=0.2,
        )  # fmt: skip
        images.append(
            PreparedImage(
                row=row,
                shape=(30, 40),
                spacing_xy_mm=(0.2, 0.2),
                localizer_input=np.zeros((32, 32), np.float16),
                localizer_box=Letterbox.fit((30, 40), 32),
                baseline_input=np.zeros((32, 32), np.float16),
                window=np.zeros((30, 40), np.float16),
                window_origin_xy=(0, 0),
            )
        )
        assignment.append(split)
    labels = np.array([aff for _, aff in plan])
    splits = Splits(
        tuple(i.row.image_text for i in images), tuple(i.row.patient_id for i in images),
        tuple(i.row.label for i in images), tuple(assignment), 2,
    )  # fmt: skip
    truth = np.array([[20.0, 15.0]] * len(plan))
    probabilities, thresholds = {}, {}
    for backbone in backbones:
        is_test = np.array([split == "test" for split, _ in plan])
        spread = np.where(is_test & perfect_test, 0.2, 0.6)  # 0.6: the classes overlap
        scores = np.where(labels == 1, 0.7, 0.3) + rng.uniform(-0.5, 0.5, len(plan)) * spread
        probabilities[("patch", backbone)] = scores
        probabilities[("downsample", backbone)] = rng.uniform(0, 1, len(plan))
        thresholds[("patch", backbone)] = thresholds[("downsample", backbone)] = 0.5
    config = ExperimentConfig(n_folds=2, backbones=tuple(backbones), n_bootstrap=200)
    return ExperimentResult(
        tmp_path, config, images, splits,
        {b: truth + rng.normal(0, 2, truth.shape) for b in backbones},
        probabilities, thresholds, backbones[0], {},
    )  # fmt: skip


def _markdown(result: ExperimentResult) -> tuple[str, dict]:
    metrics = analyze(result)
    return to_markdown(report._blocks(result, metrics, {}), result.out), metrics


def test_two_aff_test_patients_carry_a_small_sample_warning(tmp_path: Path) -> None:
    text, metrics = _markdown(_result(tmp_path, test=(2, 5), development=(22, 22)))
    patch = metrics["classification"]["image"]["patch-cnn"]
    assert patch["test"]["auc"] == 1.0 and patch["test"]["auc_ci"] == [1.0, 1.0]
    assert "1.000 [1.000, 1.000]" in text
    # Answers: flagged inline, then the reasons, with the chance of AUC 1 at random: 1/C(7, 2).
    assert "Unreliable: small test set, see the caution below." in text
    assert (
        "Caution: small test set: 2 AFF and 5 NFF patients (fewer than 20 of a class), so its "
        "AUCs, intervals and p-values are unreliable; a model that ranks at random reaches AUC "
        "1.000 with probability 1 in 21." in text
    )
    assert "bootstrap 95 % interval of zero width for patch-cnn (image, test)" in text
    # Tables: the test rows say why; the 22 + 22 validation rows do not.
    expected = (
        "small sample (2 AFF / 5 NFF patients); interval of zero width; test and validation "
        "intervals do not overlap"
    )
    assert patch["test"]["caution"] == expected
    assert patch["validation"]["caution"] == "test and validation intervals do not overlap"
    row = next(line for line in text.splitlines() if line.startswith("| patch-cnn | image | test"))
    assert row.endswith(f"{expected} |")
    assert "small validation set" not in text and "(image, validation)" not in text
    comparison = next(r for r in metrics["comparisons"] if r["level"] == "image")
    assert comparison["caution"] == "small sample (2 AFF / 5 NFF patients)"


def test_enough_patients_give_no_warning(tmp_path: Path) -> None:
    result = _result(tmp_path, test=(20, 22), development=(22, 22), perfect_test=False)
    text, metrics = _markdown(result)
    assert "Caution" not in text and "Unreliable" not in text
    assert all(not row["caution"] for row in metrics["comparisons"])
    assert metrics["dataset"]["patients_per_class"]["test"] == {
        "aff_patients": 20, "nff_patients": 22
    }  # fmt: skip


@pytest.mark.parametrize(
    ("backbones", "expected"),
    [
        (("cnn",), "CNN vs ViT: not answered: only the CNN was trained; run with --backbones"),
        (("vit",), "CNN vs ViT: not answered: only the ViT was trained; run with --backbones"),
        (("cnn", "vit"), "patch-cnn vs patch-vit (test, per image): AUC"),
    ],
)
def test_the_third_question_is_answered_or_says_why_not(tmp_path, backbones, expected) -> None:
    result = _result(tmp_path, (20, 20), (22, 22), backbones=backbones, perfect_test=False)
    text, _ = _markdown(result)
    assert expected in text
    if len(backbones) == 2:
        assert "not answered" not in text


def test_test_and_validation_side_by_side_and_their_disagreement(tmp_path: Path) -> None:
    """The issue's case: AUC 1.000 [1.000, 1.000] on a few test patients, far less out of fold."""
    text, metrics = _markdown(_result(tmp_path, test=(2, 5), development=(22, 22)))
    image = metrics["classification"]["image"]["patch-cnn"]
    low, high = image["validation"]["auc_ci"]
    assert high < 1.0  # the constructed validation scores overlap between the classes
    answer = next(line for line in text.splitlines() if "patch-cnn vs downsample-cnn" in line)
    assert "(test, per image): AUC 1.000 [1.000, 1.000]" in answer
    assert (
        "Out-of-fold validation over all development patients: AUC "
        f"{image['validation']['auc']:.3f} [{low:.3f}, {high:.3f}]" in answer
    )
    assert "Test and validation disagree for patch-cnn." in answer
    assert (
        f"Caution: test and validation disagree for patch-cnn (image): test AUC 1.000 "
        f"[1.000, 1.000] vs out-of-fold validation AUC {image['validation']['auc']:.3f} "
        f"[{low:.3f}, {high:.3f}]" in text
    )
    assert {r["subset"] for r in metrics["comparisons"]} == {"test", "validation"}


def test_small_validation_set_is_warned_too(tmp_path: Path) -> None:
    text, metrics = _markdown(
        _result(tmp_path, test=(22, 22), development=(8, 19), perfect_test=False)
    )
    assert (
        "Caution: small out-of-fold validation (development) set: 8 AFF and 19 NFF patients "
        "(fewer than 20 of a class)" in text
    )
    assert "small test set" not in text
    validation = metrics["classification"]["image"]["patch-cnn"]["validation"]
    assert validation["caution"].startswith("small sample (8 AFF / 19 NFF patients)")


def test_networks_that_kept_their_first_epoch_are_flagged(tmp_path: Path) -> None:
    result = _result(tmp_path, test=(20, 22), development=(22, 22), perfect_test=False)
    three = [{"epoch": e, "train_loss": 1.0, "val_score": 0.5} for e in (1, 2, 3)]
    result.history = {"localizer-cnn/fold0": three, "patch-cnn/fold0": three,
                      "refiner-cnn/fold0": three[:1]}  # fmt: skip
    result.best_epochs = {"localizer-cnn/fold0": 1, "patch-cnn/fold0": 3, "refiner-cnn/fold0": 1}
    text, metrics = _markdown(result)
    # one epoch trained: keeping it says nothing; three trained and the first kept: a failure
    assert metrics["training"]["first_epoch_kept"] == ["localizer-cnn/fold0"]
    assert (
        "Caution: kept their first epoch (the validation score never improved after it): "
        "localizer-cnn/fold0;" in text
    )


def test_two_stage_localisation_reports_both_stages_per_class(tmp_path: Path) -> None:
    result = _result(tmp_path, test=(20, 22), development=(22, 22), perfect_test=False)
    truth = result.truth_xy_px
    result.coarse_centers = {
        "cnn": (truth + np.array([10.0, 0.0])).astype(np.float32)
    }  # 2 mm at 0.2 mm
    result.centers = {"cnn": (truth + np.array([0.0, 1.0])).astype(np.float32)}  # 0.2 mm
    text, metrics = _markdown(result)
    assert metrics["localisation"]["method"] == "two-stage"
    assert metrics["localisation"]["stage1"]["cnn"]["test"]["AFF"]["median"] == pytest.approx(2)
    assert metrics["localisation"]["cnn"]["test"]["NFF"]["median"] == pytest.approx(0.2)
    assert (
        "Localisation (cnn, two stages), median error AFF / NFF: test 2.00 / 2.00 mm after "
        "stage 1, 0.20 / 0.20 mm after stage 2" in text
    )
    assert "out-of-fold validation over all development images 2.00 / 2.00 mm after stage 1" in text
    assert metrics["localisation"]["outside_offsets"]["cnn"] == 0.0  # 2 mm < 10 mm trained
    rows = [line for line in text.splitlines() if line.startswith("| cnn | stage ")]
    assert {line.split(" | ")[1] for line in rows} == {"stage 1", "stage 2"}


def test_examples_figure_keeps_every_crop_its_full_size(tmp_path: Path, monkeypatch) -> None:
    """A centre predicted far off the image once drew its patch as a narrow strip."""
    from fracturelab.femur import figures
    from tests.femur.builders import write_png

    result = _result(tmp_path, test=(2, 2), development=(4, 4), perfect_test=False)
    for image in result.images:
        write_png(image.row.image, 40, 30)
    result.centers["cnn"][0] = [5000.0, -3000.0]  # far off the 40 x 30 image
    captured = {}

    def keep(figure, path, **kwargs):
        captured["figure"] = figure
        return path

    monkeypatch.setattr(figures, "save_figure", keep)
    figures.draw_examples(result, tmp_path / "examples.png", per_class=2)
    axes = captured["figure"].axes
    size = result.config.patch.size_px
    patch_axes = axes[len(axes) // 2 :]
    for axis in patch_axes:  # the bottom row: the patches
        assert axis.get_xlim() == (-0.5, size - 0.5) and axis.get_ylim() == (size - 0.5, -0.5)
    # the crop of the far-off prediction was moved onto the image: it shows pixels, not padding
    shown = patch_axes[0].images[0].get_array()
    assert float(np.asarray(shown).max()) > 0


def test_repeated_cross_validation_widens_the_validation_interval(tmp_path: Path) -> None:
    """Three repetitions: their mean AUC, and an interval with the between-repeat variance."""
    from sklearn.metrics import roc_auc_score

    result = _result(tmp_path, test=(20, 22), development=(22, 22), perfect_test=False)
    single = analyze(result)["classification"]["image"]["patch-cnn"]["validation"]
    development = result.splits.development()
    rng = np.random.default_rng(1)
    base = result.probabilities[("patch", "cnn")]
    noisy = np.clip(base + rng.normal(0, 0.3, base.size), 0, 1)
    repeats = np.stack([base, noisy, base[::-1].copy()])
    result.repeat_probabilities = {("patch", "cnn"): repeats}
    metrics = analyze(result)
    validation = metrics["classification"]["image"]["patch-cnn"]["validation"]
    y = result.labels[development]
    aucs = [roc_auc_score(y, r[development]) for r in repeats]
    assert validation["repeats"]["aucs"] == pytest.approx(aucs)
    assert validation["auc"] == pytest.approx(np.mean(aucs))
    assert validation["repeats"]["sd_between"] == pytest.approx(np.std(aucs, ddof=1))
    width = validation["auc_ci"][1] - validation["auc_ci"][0]
    assert width > single["auc_ci"][1] - single["auc_ci"][0]
    text = to_markdown(report._blocks(result, metrics, {}), result.out)
    assert "(mean of 3 repeated cross-validations)" in text
