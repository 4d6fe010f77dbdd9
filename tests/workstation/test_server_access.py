"""Who may do what: anonymous users, readers on other readers' cases, CSRF, traversal."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fracturelab.workstation.db import Database
from fracturelab.workstation.models import AuditEvent, User, WebSession
from fracturelab.workstation.server.security import COOKIE_NAME, LoginThrottle

from .server_helpers import PASSWORDS, free_port, login, make_app, running


@pytest.fixture
def app(
    database: Database, people: dict[str, User], cases: dict[str, int], tmp_path: Path
) -> FastAPI:
    return make_app(database, tmp_path / "cache")


def _api_calls(app: FastAPI, case_id: int) -> list[tuple[str, str]]:
    """Every API route with its path parameters filled in, as (method, path)."""
    calls = []
    for template, operations in app.openapi()["paths"].items():
        if template.startswith("/api/"):
            path = template.format(case_id=case_id, key="L1", reading_id=1)
            calls += [(method.upper(), path) for method in sorted(operations)]
    return calls


def test_every_api_endpoint_refuses_anonymous_users(app: FastAPI, cases: dict[str, int]) -> None:
    anonymous = TestClient(app)
    calls = [*_api_calls(app, cases["spine"]), ("GET", "/api/openapi.json")]
    assert len(calls) >= 15  # the whole API, not a few routes
    for method, path in calls:
        if path == "/api/login":
            continue
        response = anonymous.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.status_code)


def test_pages_send_anonymous_users_to_the_login_page(app: FastAPI, cases: dict[str, int]) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    for page in ("/", "/admin", f"/cases/{cases['spine']}"):
        response = anonymous.get(page)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/static/login.js").status_code == 200
    assert anonymous.get("/static/style.css").status_code == 200
    assert anonymous.get("/static/spine.js").status_code == 401


def test_a_reader_cannot_touch_another_readers_case(app: FastAPI, cases: dict[str, int]) -> None:
    bob = login(app, "bob")  # bob has "spine" and "femur"; "spine_pir" is alice's only
    for method, path in _api_calls(app, cases["spine_pir"]):
        if not path.startswith("/api/cases/"):
            continue
        body = {"value": {"genant_grade": 1}, "seconds": 5, "done": True}
        response = bob.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    page = bob.get(f"/cases/{cases['spine_pir']}")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "not on your worklist" in page.text
    for method, path in _api_calls(app, cases["spine"]):
        if path.startswith("/api/admin/"):
            body = {"case_ids": [cases["spine_pir"]], "readers": ["bob"], "reading_id": 1,
                    "show_patient_names": True}  # fmt: skip
            assert bob.request(method, path, json=body).status_code == 403, (method, path)
    assert bob.get("/admin").status_code == 403
    # and nothing of it reached bob's worklist
    assert {row["case_id"] for row in bob.get("/api/worklist").json()} == {
        cases["spine"], cases["femur"],
    }  # fmt: skip


def test_readers_never_see_each_others_answers(app: FastAPI, cases: dict[str, int]) -> None:
    alice, bob = login(app, "alice"), login(app, "bob")
    saved = alice.put(
        f"/api/cases/{cases['spine']}/answers/L1", json={"value": {"genant_grade": 3}}
    )
    assert saved.status_code == 200
    seen = bob.get(f"/api/cases/{cases['spine']}").json()
    assert seen["reading"] is None
    bob.put(f"/api/cases/{cases['spine']}/answers/T12", json={"value": {"genant_grade": 0}})
    assert bob.get(f"/api/cases/{cases['spine']}").json()["reading"]["answers"] == {
        "T12": {"genant_grade": 0, "morphology": "normal", "not_assessable": False}
    }
    assert set(alice.get(f"/api/cases/{cases['spine']}").json()["reading"]["answers"]) == {"L1"}


def test_writes_need_the_sessions_csrf_token(app: FastAPI, cases: dict[str, int]) -> None:
    alice = login(app, "alice")
    url = f"/api/cases/{cases['spine']}/answers/L1"
    body = {"value": {"genant_grade": 1}}
    token = alice.headers.pop("X-CSRF-Token")
    missing = alice.put(url, json=body)
    wrong = alice.put(url, json=body, headers={"X-CSRF-Token": token[:-2] + "xx"})
    assert missing.status_code == wrong.status_code == 403
    assert "X-CSRF-Token" in missing.json()["detail"]
    foreign = alice.put(
        url, json=body, headers={"X-CSRF-Token": token, "Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert alice.put(url, json=body, headers={"X-CSRF-Token": token}).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2fapp.py",
        "/static/%2e%2e/app.py",
        "/static/%2e%2e%2f%2e%2e%2f__init__.py",
        "/static/vendor/..%2f..%2fapp.py",
        "/static/%2fetc%2fpasswd",
        "/static/..%5capp.py",
        "/static/",
    ],
)
def test_path_traversal_is_rejected(app: FastAPI, path: str) -> None:
    alice = login(app, "alice")
    response = alice.get(path)
    assert response.status_code == 404, path
    assert "create_app" not in response.text and "root:" not in response.text


def test_case_ids_are_integers_only(app: FastAPI) -> None:
    alice = login(app, "alice")
    for path in ("/api/cases/..%2f..%2fetc%2fpasswd/image", "/api/cases/%2fetc%2fpasswd"):
        assert alice.get(path).status_code in (404, 422), path


def test_login_sets_a_hardened_cookie_and_is_audited(app: FastAPI, database: Database) -> None:
    client = TestClient(app)
    response = client.post("/api/login", json={"username": "alice", "password": PASSWORDS["alice"]})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    with database.session() as session:
        stored = session.scalars(select(WebSession.token_hash)).all()
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "login")).all()
    assert token not in stored and len(stored) == 1  # only a hash is stored
    assert [event.new for event in events] == [{"username": "alice"}]


def test_login_needs_a_json_body(app: FastAPI) -> None:
    response = TestClient(app).post(
        "/api/login", data={"username": "alice", "password": PASSWORDS["alice"]}
    )
    assert response.status_code in (415, 422)


def test_failed_logins_are_throttled_and_logged(
    database: Database, people: dict[str, User], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fracturelab.workstation.server.app import create_app

    throttle = LoginThrottle(free_failures=3, base_delay_s=30)
    app = create_app(database, cache_dir=tmp_path, throttle=throttle)
    client = TestClient(app)
    wrong = {"username": "alice", "password": "not-her-password"}
    codes = [client.post("/api/login", json=wrong).status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    blocked = client.post("/api/login", json={"username": "alice", "password": PASSWORDS["alice"]})
    assert blocked.status_code == 429 and 25 <= int(blocked.headers["retry-after"]) <= 30
    assert (
        client.post(
            "/api/login", json={"username": "bob", "password": PASSWORDS["bob"]}
        ).status_code
        == 200
    )
    with database.session() as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["login_failed"] * 3 + ["login_throttled", "login"]
    assert sum("login_failed" in record.getMessage() for record in caplog.records) == 3


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


def test_failures_from_one_address_do_not_lock_the_account_out_elsewhere(
    database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    from fracturelab.workstation.server.app import create_app

    app = create_app(database, cache_dir=tmp_path)  # the default throttle
    attacker, admin = _client(app, "203.0.113.9"), _client(app, "198.51.100.7")
    wrong = {"username": "admin", "password": "guess-guess"}
    codes = [attacker.post("/api/login", json=wrong).status_code for _ in range(8)]
    assert codes[:3] == [401] * 3 and 429 in codes  # the attacker is slowed down ...
    right = {"username": "admin", "password": PASSWORDS["admin"]}
    assert admin.post("/api/login", json=right).status_code == 200  # ... the admin is not
    assert attacker.post("/api/login", json=right).status_code == 429  # not even with it


def test_delays_grow_and_the_audit_stays_bounded(
    database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    from fracturelab.workstation.server.app import create_app

    clock = FakeClock()
    throttle = LoginThrottle(free_failures=3, base_delay_s=2, max_delay_s=60, clock=clock)
    client = _client(create_app(database, cache_dir=tmp_path, throttle=throttle), "192.0.2.1")
    wrong = {"username": "alice", "password": "not-her-password"}
    for _ in range(3):
        assert client.post("/api/login", json=wrong).status_code == 401
    delays = []
    for _ in range(7):  # wait out each delay, fail again, read the next delay
        refused = client.post("/api/login", json=wrong)
        assert refused.status_code == 429
        delays.append(int(refused.headers["retry-after"]))
        clock.now += delays[-1]
        assert client.post("/api/login", json=wrong).status_code == 401
    assert delays == [2, 4, 8, 16, 32, 60, 60]  # doubling, capped
    with database.session() as session:
        rows_before = session.scalar(select(func.count(AuditEvent.id)))
    for _ in range(200):  # hammering while throttled writes no new rows in this window
        assert client.post("/api/login", json=wrong).status_code == 429
    with database.session() as session:
        rows_after = session.scalar(select(func.count(AuditEvent.id)))
        throttled = session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "login_throttled")
        )
    assert rows_after == rows_before and throttled == 1  # one row per key and window
    assert rows_after <= 3 + 7 + 1


def test_one_address_has_a_limit_over_all_user_names(
    database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    from fracturelab.workstation.server.app import create_app

    throttle = LoginThrottle(max_per_client=5, clock=FakeClock())
    app = create_app(database, cache_dir=tmp_path, throttle=throttle)
    sprayer = _client(app, "192.0.2.50")
    codes = [
        sprayer.post("/api/login", json={"username": f"user{k}", "password": "x"}).status_code
        for k in range(7)
    ]
    assert codes == [401] * 5 + [429] * 2
    ok = {"username": "bob", "password": PASSWORDS["bob"]}
    assert _client(app, "192.0.2.51").post("/api/login", json=ok).status_code == 200


def test_the_throttles_counters_stay_bounded() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_tracked=50, clock=clock)
    for k in range(2000):  # a flood of names from many addresses
        throttle.failed(f"name{k}", f"10.0.{k // 250}.{k % 250}")
        throttle.check(f"name{k}", f"10.0.{k // 250}.{k % 250}")
    assert throttle.tracked() <= 3 * 50
    clock.now += throttle.window_s + 1  # everything old is forgotten
    throttle.failed("alice", "192.0.2.1")
    assert throttle.tracked() == 2


@pytest.mark.parametrize("trusted", [(), ("127.0.0.1",)])
def test_forwarded_addresses_are_believed_only_from_named_proxies(
    database: Database, people: dict[str, User], tmp_path: Path, trusted: tuple[str, ...]
) -> None:
    from fracturelab.workstation.server.app import create_app
    from fracturelab.workstation.server.run import uvicorn_config

    app = create_app(database, cache_dir=tmp_path)
    config = uvicorn_config(app, "127.0.0.1", free_port(), forwarded_allow_ips=trusted)
    config.log_level = "warning"
    wrong = {"username": "alice", "password": "not-her-password"}
    with running(config) as base, httpx.Client(base_url=base) as client:
        codes = [
            client.post(
                "/api/login", json=wrong, headers={"X-Forwarded-For": f"203.0.113.{k}"}
            ).status_code
            for k in range(25)
        ]
    with database.session() as session:
        addresses = set(session.scalars(select(AuditEvent.client)))
    if trusted:  # behind the named proxy every forwarded address is its own client
        assert codes.count(429) < 25 and "203.0.113.24" in addresses
    else:  # a forged header changes nothing: one client, throttled, its real address audited
        assert codes[:3] == [401] * 3 and codes.count(429) >= 20
        assert addresses == {"127.0.0.1"}


def test_unknown_users_get_the_same_answer_as_wrong_passwords(app: FastAPI) -> None:
    client = TestClient(app)
    unknown = client.post("/api/login", json={"username": "mallory", "password": "x"})
    wrong = client.post("/api/login", json={"username": "alice", "password": "x"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_sessions_survive_a_server_restart_and_end_at_logout(
    database: Database, people: dict[str, User], cases: dict[str, int], tmp_path: Path
) -> None:
    first = login(make_app(database, tmp_path), "alice")
    second = TestClient(make_app(database, tmp_path))  # a new process would see the same rows
    second.cookies.update(first.cookies)
    assert second.get("/api/me").json()["username"] == "alice"
    assert (
        second.post(
            "/api/logout", headers={"X-CSRF-Token": first.headers["X-CSRF-Token"]}
        ).status_code
        == 204
    )
    assert first.get("/api/me").status_code == 401


def test_deactivated_users_lose_their_sessions(app: FastAPI, database: Database) -> None:
    alice = login(app, "alice")
    with database.transaction() as session:
        user = session.scalars(select(User).where(User.username == "alice")).one()
        user.active = False
    assert alice.get("/api/worklist").status_code == 401


def test_responses_carry_security_headers(app: FastAPI) -> None:
    response = login(app, "alice").get("/api/worklist")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
