"""Tests of fracture specs and their text form."""

from __future__ import annotations

import pytest

from fracturelab.errors import InputError
from fracturelab.synth.fractures import FractureSpec, parse_fractures, true_genant_grade


def test_grades_map_to_the_middle_of_their_genant_range() -> None:
    specs = parse_fractures("T12:1:wedge,L1:2:crush,L2:3:biconcave,L3:0:wedge")
    assert [(s.level, s.kind, s.loss_pct) for s in specs] == [
        ("T12", "wedge", 22.5),
        ("L1", "crush", 32.5),
        ("L2", "biconcave", 50.0),
        ("L3", "wedge", 0.0),
    ]
    assert [s.genant_grade for s in specs] == [1, 2, 3, 0]


def test_loss_in_percent_is_taken_as_is() -> None:
    (spec,) = parse_fractures("L3:32.5%:biconcave")
    assert spec == FractureSpec(level="L3", kind="biconcave", loss_pct=32.5)


def test_parsing_ignores_case_spaces_and_empty_items() -> None:
    specs = parse_fractures(" t12 : 2 : Wedge , , l1:18%:CRUSH,")
    assert [(s.level, s.kind, s.loss_pct) for s in specs] == [
        ("T12", "wedge", 32.5),
        ("L1", "crush", 18.0),
    ]


def test_empty_text_means_no_fracture() -> None:
    assert parse_fractures("") == ()


def test_grade_message_names_the_item_and_the_expected_form() -> None:
    with pytest.raises(InputError) as caught:
        parse_fractures("L1:2:crush,T12:5:wedge")
    message = str(caught.value)
    assert "fracture 'T12:5:wedge'" in message
    assert "grade 5 is not 0-3" in message
    assert "LEVEL:GRADE:KIND" in message
    assert "LEVEL:LOSS%:KIND" in message


def test_unknown_kind_suggests_the_closest_valid_kind() -> None:
    with pytest.raises(InputError, match=r"'T12:2:wdge'.*did you mean 'wedge'"):
        parse_fractures("T12:2:wdge")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("T12:2", "three parts"),
        ("T12:2:wedge:extra", "three parts"),
        ("T12::wedge", "three parts"),
        ("X9:2:wedge", "level 'X9' is not a vertebra level"),
        ("T12:-1:wedge", "grade -1 is not 0-3"),
        ("T12:1.5:wedge", "grade 1.5 is not 0-3"),
        ("T12:x:wedge", "grade x is not 0-3"),
        ("T12:80%:wedge", "height loss '80%'"),
        ("T12:-5%:wedge", "height loss '-5%'"),
        ("T12:abc%:wedge", "height loss 'abc%'"),
        ("T12:nan%:wedge", "height loss 'nan%'"),
        ("S1:2:crush", "'S1' cannot be fractured"),
        ("C1:2:crush", "'C1' cannot be fractured"),
        ("T12:2:wedge,T12:3:crush", "T12 is given twice"),
    ],
)
def test_bad_item_is_an_input_error_naming_it(text: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected) as caught:
        parse_fractures(text)
    assert "fracture '" in str(caught.value)


def test_spec_normalises_level_and_kind() -> None:
    spec = FractureSpec(level="l1", kind="Crush", loss_pct=40)  # type: ignore[arg-type]
    assert (spec.level, spec.kind, spec.loss_pct) == ("L1", "crush", 40.0)
    assert str(spec) == "L1:40%:crush"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"level": "Q1", "kind": "wedge", "loss_pct": 30.0}, "not a vertebra level"),
        ({"level": "S1", "kind": "wedge", "loss_pct": 30.0}, "cannot be fractured"),
        ({"level": "L1", "kind": "bent", "loss_pct": 30.0}, "kind 'bent'.*wedge, biconcave, crush"),
        ({"level": "L1", "kind": "wedge", "loss_pct": 80.0}, r"loss_pct 80.0 .*\[0, 80\)"),
        ({"level": "L1", "kind": "wedge", "loss_pct": -0.1}, "loss_pct -0.1"),
        ({"level": "L1", "kind": "wedge", "loss_pct": "30"}, "loss_pct '30'"),
        ({"level": "L1", "kind": "wedge", "loss_pct": True}, "loss_pct True"),
    ],
)
def test_bad_spec_argument_is_an_input_error(kwargs: dict[str, object], expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        FractureSpec(**kwargs)  # type: ignore[arg-type]


def test_from_grade_uses_the_grade_table_and_rejects_other_grades() -> None:
    assert FractureSpec.from_grade("T7", 3, "wedge").loss_pct == 50.0
    with pytest.raises(InputError, match="grade 4"):
        FractureSpec.from_grade("T7", 4, "wedge")


@pytest.mark.parametrize(
    ("loss", "grade"),
    [(0.0, 0), (19.99, 0), (20.0, 1), (24.99, 1), (25.0, 2), (40.0, 2), (40.01, 3), (79.0, 3)],
)
def test_true_genant_grade_boundaries(loss: float, grade: int) -> None:
    assert true_genant_grade(loss) == grade
