"""The shared argument checks: the message names the argument, the value and the options."""

from __future__ import annotations

import pytest

from fracturelab.checks import check_choice, closest_match, did_you_mean
from fracturelab.errors import InputError


def test_allowed_value_is_returned():
    assert check_choice("--backbone", "vit", ("cnn", "vit")) == "vit"


def test_misspelt_value_suggests_the_closest_option():
    with pytest.raises(InputError) as caught:
        check_choice("--backbone", "cnnn", ["cnn", "vit"])
    expected = "--backbone='cnnn' is not valid (did you mean 'cnn'?); allowed: cnn, vit"
    assert str(caught.value) == expected


def test_unrelated_value_gets_no_suggestion():
    with pytest.raises(InputError, match=r"^--backbone='xyz' is not valid; allowed: cnn, vit$"):
        check_choice("--backbone", "xyz", ["cnn", "vit"])


def test_closest_match_respects_the_cutoff():
    assert closest_match("postgress", ["sqlite", "postgresql"]) == "postgresql"
    assert closest_match("abc", ["sqlite"]) is None
    assert did_you_mean("wedeg", ["wedge", "crush"]) == " (did you mean 'wedge'?)"
