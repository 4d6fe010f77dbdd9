from fracturelab.cli._common import name_options


def test_python_names_become_options_but_paths_and_ordinary_words_stay():
    options = {"n_folds": "--folds", "seed": "--seed", "spacing_mm": "--spacing"}
    assert name_options("n_folds=1 is not valid", options) == "--folds 1 is not valid"
    assert name_options("seed -1 is not valid", options) == "--seed -1 is not valid"
    assert name_options("use a coarser spacing_mm", options) == "use a coarser --spacing"
    kept = "/data/spacing_mm/x.png: the seed of n_foldsX"
    assert name_options(kept, options) == kept
