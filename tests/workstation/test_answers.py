from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fracturelab.errors import InputError
from fracturelab.workstation.answers import save_answer, validate_answer
from fracturelab.workstation.db import Database
from fracturelab.workstation.models import Answer, AuditEvent, Case, Reading, User
from fracturelab.workstation.worklist import (
    MAX_TIME_STEP_S,
    assign,
    finish_reading,
    open_reading,
    record_time,
    set_reference,
    worklist,
)


def test_valid_answers_are_completed_and_normalised() -> None:
    assert validate_answer("spine", "L1", {"genant_grade": 2, "morphology": "wedge"}) == {
        "genant_grade": 2, "morphology": "wedge", "not_assessable": False,
    }  # fmt: skip
    assert validate_answer("spine", "T12", {"genant_grade": 0, "morphology": "crush"}) == {
        "genant_grade": 0, "morphology": "normal", "not_assessable": False,
    }  # fmt: skip
    assert validate_answer("spine", "L2", {"genant_grade": 3, "not_assessable": True}) == {
        "genant_grade": None, "morphology": None, "not_assessable": True,
    }  # fmt: skip
    femur = {"center_x": 10, "center_y": 20.5, "label": "aff"}
    assert validate_answer("femur", "fracture", femur) == {
        "center_x": 10.0, "center_y": 20.5, "label": "AFF", "not_assessable": False,
    }  # fmt: skip
    assert validate_answer("femur", "fracture", {"label": "NFF", "not_assessable": True}) == {
        "center_x": None, "center_y": None, "label": None, "not_assessable": True,
    }  # fmt: skip
    assert validate_answer("spine", "L1", {})["genant_grade"] is None


@pytest.mark.parametrize(
    ("task", "key", "value", "fragment"),
    [
        ("spine", "L1", {"genant_grade": 4}, "genant_grade 4 is not valid"),
        ("spine", "L1", {"genant_grade": -1}, "genant_grade -1 is not valid"),
        ("spine", "L1", {"genant_grade": "2"}, "genant_grade '2' is not valid"),
        ("spine", "L1", {"genant_grade": True}, "genant_grade True is not valid"),
        ("spine", "L1", {"genant_grade": 1.5}, "genant_grade 1.5 is not valid"),
        ("spine", "L1", {"morphology": "wedged"}, "morphology 'wedged' is not valid"),
        ("spine", "L1", {"genant_grade": 2, "morphology": "normal"}, "cannot be normal"),
        ("spine", "L1", {"not_assessable": "yes"}, "must be true or false"),
        ("spine", "L1", {"grade": 1}, "unknown field 'grade'"),
        ("spine", "X9", {"genant_grade": 1}, "not a vertebra level"),
        ("femur", "fracture", {"label": "atypical"}, "label 'atypical' is not valid"),
        ("femur", "fracture", {"center_x": 5.0}, "give both center_x and center_y"),
        ("femur", "fracture", {"center_x": "5", "center_y": 1}, "center_x '5' is not valid"),
        ("femur", "fracture", {"center_x": float("nan"), "center_y": 1}, "is not valid"),
        ("femur", "fracture", {"center_x": -20, "center_y": 1}, "outside the image"),
        ("femur", "L1", {"label": "AFF"}, "use 'fracture'"),
        ("knee", "fracture", {}, "task 'knee' is not known"),
    ],
)
def test_bad_answers_are_explained(task: str, key: str, value: Any, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        validate_answer(task, key, value)


def _reading(database: Database, case: Case, reader: User) -> Reading:
    with database.transaction() as session:
        assign(session, [session.get(Case, case.id)], session.get(User, reader.id))
        return open_reading(session, session.get(Case, case.id), session.get(User, reader.id))


def _audit(database: Database) -> list[AuditEvent]:
    with database.session() as session:
        query = select(AuditEvent).where(AuditEvent.action == "answer").order_by(AuditEvent.id)
        return list(session.scalars(query))


def test_save_answer_audits_old_and_new_values(
    database: Database, people: dict[str, User], spine_case: Case
) -> None:
    reading = _reading(database, spine_case, people["alice"])
    with database.transaction() as session:
        reading = session.get(Reading, reading.id)
        alice = session.get(User, people["alice"].id)
        first = save_answer(session, reading, "L1", {"genant_grade": 1, "morphology": "wedge"},
                            alice, "10.0.0.1")  # fmt: skip
    assert first.changed and first.version == 1
    [event] = _audit(database)
    assert event.old is None and event.new == first.value
    assert (event.user_id, event.case_id, event.key, event.client) == (
        alice.id, spine_case.id, "L1", "10.0.0.1",
    )  # fmt: skip
    with database.transaction() as session:
        reading = session.get(Reading, reading.id)
        alice = session.get(User, people["alice"].id)
        again = save_answer(session, reading, "L1", {"genant_grade": 1, "morphology": "wedge"},
                            alice)  # fmt: skip
        assert not again.changed and again.version == 1
        assert len(_audit(database)) == 1  # unchanged: no audit row
        second = save_answer(session, reading, "L1", {"genant_grade": 2, "morphology": "wedge"},
                             alice)  # fmt: skip
    assert second.changed and second.version == 2
    events = _audit(database)
    assert len(events) == 2
    assert events[1].old == first.value and events[1].new["genant_grade"] == 2


def test_two_sessions_saving_different_vertebrae_both_persist(
    database: Database, people: dict[str, User], spine_case: Case
) -> None:
    reading = _reading(database, spine_case, people["alice"])
    tab1, tab2 = database.session(), database.session()
    try:
        readings = [tab.get(Reading, reading.id) for tab in (tab1, tab2)]
        users = [tab.get(User, people["alice"].id) for tab in (tab1, tab2)]
        assert readings[0] is not None and readings[1] is not None
        assert [r.version for r in readings] == [0, 0]  # both tabs loaded the same state
        save_answer(tab1, readings[0], "L1", {"genant_grade": 2, "morphology": "wedge"}, users[0])
        tab1.commit()
        saved = save_answer(tab2, readings[1], "L2", {"genant_grade": 0}, users[1])
        tab2.commit()
        assert saved.version == 2  # the stale tab did not overwrite the version either
    finally:
        tab1.close()
        tab2.close()
    with database.session() as session:
        answers = session.scalars(select(Answer).where(Answer.reading_id == reading.id))
        assert {a.key: a.value["genant_grade"] for a in answers} == {"L1": 2, "L2": 0}
        assert session.get(Reading, reading.id).version == 2  # type: ignore[union-attr]


def test_only_the_reader_saves_and_only_assigned_cases_open(
    database: Database, people: dict[str, User], spine_case: Case
) -> None:
    reading = _reading(database, spine_case, people["alice"])
    with database.transaction() as session:
        reading = session.get(Reading, reading.id)
        bob = session.get(User, people["bob"].id)
        with pytest.raises(InputError, match="only its active reader"):
            save_answer(session, reading, "L1", {"genant_grade": 1}, bob)
        with pytest.raises(InputError, match="not on 'bob'"):
            open_reading(session, session.get(Case, spine_case.id), bob)
        alice = session.get(User, people["alice"].id)
        assert [c.name for c in worklist(session, alice)] == ["case1"]
        assert worklist(session, bob) == []
        assert open_reading(session, session.get(Case, spine_case.id), alice).id == reading.id


def test_assign_is_idempotent_and_reading_lifecycle_is_audited(
    database: Database, people: dict[str, User], spine_case: Case
) -> None:
    with database.transaction() as session:
        case = session.get(Case, spine_case.id)
        alice, bob = session.get(User, people["alice"].id), session.get(User, people["bob"].id)
        admin = session.get(User, people["admin"].id)
        assert assign(session, [case], alice, admin).added == 1
        assert assign(session, [case], alice, admin).already == 1
        assign(session, [case], bob, admin)
        first, second = open_reading(session, case, alice), open_reading(session, case, bob)
        finish_reading(session, first, alice)
        assert first.status == "done"
        with pytest.raises(InputError, match="not an admin"):
            set_reference(session, first, alice)
        set_reference(session, first, admin)
        set_reference(session, second, admin)
        assert (first.is_reference, second.is_reference) == (False, True)
        assert record_time(session, first, 12.5) == 12.5
        assert record_time(session, first, 10_000) == 12.5 + MAX_TIME_STEP_S
        with pytest.raises(InputError, match="seconds"):
            record_time(session, first, -1)
    with database.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["assign", "assign", "status", "reference", "reference"]
