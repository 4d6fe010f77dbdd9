"""The workstation's rules live in its services; the web routes only parse, call and shape JSON."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import fracturelab.workstation as workstation_package
from fracturelab.errors import InputError
from fracturelab.workstation import audit
from fracturelab.workstation.app_settings import SHOW_PATIENT_NAMES, get_flag, set_flag
from fracturelab.workstation.db import Database
from fracturelab.workstation.models import AuditEvent, Case, User
from fracturelab.workstation.readings import progress, reading_of
from fracturelab.workstation.server.pages import STATIC_DIR, render_page
from fracturelab.workstation.worklist import (
    assign,
    assign_by_id,
    neighbours,
    open_reading,
    visible_case,
    worklist_status,
)
from tests.workstation.helpers import read_case

from .server_helpers import login, make_app

PACKAGE = Path(workstation_package.__file__).parent
SERVER = PACKAGE / "server"
ROUTERS = ("reader_api.py", "admin_api.py", "accounts_api.py", "auth_api.py", "pages.py")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imported_modules(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_audit_row_is_written_by_audit_record() -> None:
    builders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "audit.py":
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "AuditEvent":
                builders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert builders == []


@pytest.mark.parametrize("router", ROUTERS)
def test_routes_neither_query_nor_import_a_sibling_router(router: str) -> None:
    imported = _imported_modules(_tree(SERVER / router))
    siblings = {f"fracturelab.workstation.server.{name[:-3]}" for name in ROUTERS}
    assert not imported & siblings
    assert "sqlalchemy" not in imported  # queries live in the services (Session types only)


def test_audit_record_writes_one_row_with_every_field(
    database: Database, people: dict[str, User], spine_case: Case
) -> None:
    with database.transaction() as session:
        admin = session.get(User, people["admin"].id)
        audit.record(
            session, "setting", by=admin, case_id=spine_case.id, key="k", old={"value": 1},
            new={"value": 2}, client="127.0.0.1",
        )  # fmt: skip
        audit.record(session, "login_failed", new={"username": "nobody"})
    with database.session() as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [(r.action, r.user_id, r.case_id, r.key, r.old, r.new, r.client) for r in rows] == [
        ("setting", people["admin"].id, spine_case.id, "k", {"value": 1}, {"value": 2},
         "127.0.0.1"),
        ("login_failed", None, None, None, None, {"username": "nobody"}, None),
    ]  # fmt: skip
    assert all(r.at is not None for r in rows)


def test_set_flag_audits_changes_only(database: Database, people: dict[str, User]) -> None:
    with database.transaction() as session:
        admin = session.get(User, people["admin"].id)
        assert admin is not None
        assert get_flag(session, SHOW_PATIENT_NAMES) is False
        set_flag(session, SHOW_PATIENT_NAMES, True, admin, "1.2.3.4")
        set_flag(session, SHOW_PATIENT_NAMES, True, admin, "1.2.3.4")  # unchanged: no row
        set_flag(session, SHOW_PATIENT_NAMES, False, admin)
    with database.session() as session:
        assert get_flag(session, SHOW_PATIENT_NAMES) is False
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "setting"))
        assert [(r.old, r.new, r.client) for r in rows] == [
            ({"value": False}, {"value": True}, "1.2.3.4"),
            ({"value": True}, {"value": False}, None),
        ]


def test_worklist_services(database: Database, people: dict[str, User]) -> None:
    with database.transaction() as session:
        alice, bob = session.get(User, people["alice"].id), session.get(User, people["bob"].id)
        admin = session.get(User, people["admin"].id)
        assert alice is not None and bob is not None and admin is not None
        cases = [Case(task="spine", name=f"c{i}", image_path=f"/d/{i}.nii.gz") for i in range(3)]
        session.add_all(cases)
        session.flush()
        result = assign_by_id(session, [c.id for c in cases[:2]], ["alice"], by=admin)
        assert (result.added, result.already) == (2, 0)
        read_case(session, cases[0], alice, {"L1": {"genant_grade": 0}})
        open_reading(session, cases[1], alice)
        rows = worklist_status(session, alice)
        assert [(r["name"], r["status"], r["answered"]) for r in rows] == [
            ("c0", "done", 1), ("c1", "open", 0),
        ]  # fmt: skip
        assert neighbours(session, cases[0], alice) == (None, cases[1].id)
        assert neighbours(session, cases[2], alice) == (None, None)  # not on the worklist
        assert visible_case(session, cases[2].id, alice) is None
        assert visible_case(session, cases[2].id, admin) is cases[2]  # admins see every case
        assert reading_of(session, cases[0].id, bob) is None
        with pytest.raises(InputError, match=r"^no case with id 999999; see GET"):
            assign_by_id(session, [999_999], ["alice"])
        with pytest.raises(InputError, match="no user 'carol'"):
            assign_by_id(session, [cases[2].id], ["carol"])
        assign(session, [cases[2]], bob)
        report = progress(session)
    assert [(r["username"], r["assigned"], r["done"]) for r in report["readers"]] == [
        ("alice", 2, 1), ("bob", 1, 0),
    ]  # fmt: skip
    assert [[r["status"] for r in c["readings"]] for c in report["cases"]] == [
        ["done"], ["open"], ["new"],
    ]  # fmt: skip


def test_pages_include_their_shared_parts() -> None:
    for page in ("login.html", "worklist.html", "admin.html", "spine.html", "femur.html"):
        text = render_page(page)
        assert "<!--#include" not in text and "{title}" not in text
        assert text.count('<link rel="stylesheet" href="/static/style.css">') == 1
    spine = render_page("spine.html")
    assert "<title>Spine case · fracturelab workstation</title>" in spine
    assert spine.count('id="prev-case"') == spine.count('id="help"') == 1
    assert sorted(p.name for p in STATIC_DIR.glob("_*.html")) == [
        "_head.html", "_help.html", "_reader-topbar.html",
    ]  # fmt: skip


def test_shared_page_parts_are_not_served(
    database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    client: TestClient = login(make_app(database, tmp_path / "cache"), "alice")
    assert client.get("/static/_head.html").status_code == 404
    assert client.get("/static/reader.js").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<!--#include" not in page.text and 'id="logout"' in page.text
