import pytest

from fracturelab.errors import InputError
from fracturelab.spine.levels import (
    LEVELS,
    VERSE_LABELS,
    level_from_verse,
    level_index,
    parse_level_range,
)


def test_levels_run_head_to_foot_with_transitional_levels_in_place():
    assert LEVELS[0] == "C1" and LEVELS[-1] == "S1"
    assert level_index("T12") < level_index("T13") < level_index("L1")
    assert level_index("L5") < level_index("L6") < level_index("S1")


def test_verse_numbering():
    assert VERSE_LABELS["C1"] == 1 and VERSE_LABELS["T1"] == 8 and VERSE_LABELS["L1"] == 20
    assert VERSE_LABELS["T13"] == 28 and VERSE_LABELS["S1"] == 26
    assert level_from_verse(19) == "T12" and level_from_verse(27) is None


def test_parse_level_range_skips_transitional_levels_inside_a_range():
    assert parse_level_range("T11-L2") == ("T11", "T12", "L1", "L2")
    assert parse_level_range("L2,T12, L1") == ("T12", "L1", "L2")
    assert parse_level_range("T12-T13") == ("T12", "T13")


def test_unknown_level_is_refused():
    with pytest.raises(InputError, match="'X9' is not a vertebra level"):
        level_index("X9")


def test_empty_level_list_is_refused():
    with pytest.raises(InputError, match="no level given"):
        parse_level_range(" , ")
