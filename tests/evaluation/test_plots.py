import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from fracturelab.evaluation import (
    bootstrap_ci,
    plot_calibration,
    plot_localisation_errors,
    plot_roc,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _predictions(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(200) < 0.2).astype(int)
    return y, np.clip(0.25 + 0.35 * y + rng.normal(0, 0.15, 200), 0, 1)


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG_MAGIC)


def test_roc_plot_writes_a_png_and_closes_its_figure(tmp_path):
    y, patch = _predictions(0)
    _, baseline = _predictions(1)
    ci = bootstrap_ci(y, patch, n_resamples=100)
    path = plot_roc(
        {
            "patch": (y, patch, ci),
            "downsampled": (y, baseline, (0.6, 0.7)),
            "no ci": (y, patch, None),
        },
        tmp_path / "figs" / "roc.png",
        title="AFF vs NFF",
    )
    assert path == tmp_path / "figs" / "roc.png"
    assert _is_png(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["roc.png"]  # no temporary left
    assert plt.get_fignums() == []


def test_calibration_plot_writes_a_png(tmp_path):
    y, patch = _predictions(0)
    path = plot_calibration({"patch": (y, patch)}, tmp_path / "cal.png", strategy="quantile")
    assert _is_png(path)
    assert plt.get_fignums() == []


def test_localisation_plot_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    errors = {"patch": rng.gamma(2.0, 2.0, 50), "baseline": np.r_[rng.gamma(2.0, 4.0, 40), np.nan]}
    path = plot_localisation_errors(errors, tmp_path / "loc.png")
    assert _is_png(path)
    assert plt.get_fignums() == []
