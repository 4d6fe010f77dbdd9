"""Load test of the labelling workstation: 20 readers autosaving answers at the same time.

Usage:
    python benchmarks/workstation_load.py                  # fresh SQLite file, 20 s
    python benchmarks/workstation_load.py --seconds 60 --think-ms 0   # saturate the server
    python benchmarks/workstation_load.py --db postgresql://postgres@127.0.0.1:5433/fl_test

Starts the real server (uvicorn serving ``create_app``) in a subprocess on 127.0.0.1, on a
temporary SQLite database (or the ``--db`` URL, whose workstation schema is created or
upgraded; users and cases get a unique prefix, so reruns on one database do not clash). It
adds an admin, the readers and ``--cases`` cases (half femur, half spine; their image files
do not exist: the cases carry their levels and image size, so saving answers never reads
images), assigns every case to every reader, and logs every reader in through
``POST /api/login``. Then each reader, a thread with its own
``httpx.Client`` and session cookie, saves answers with ``PUT /api/cases/{id}/answers/{key}``
and the ``X-CSRF-Token`` header for ``--seconds``, waiting a random 0..2x ``--think-ms``
between saves (a reader pressing grade keys; 0 saves back to back).

Prints the p50/p95/p99 latency of the saves, requests per second, errors (anything but 200),
and "lost answers": answers a reader last saved (server said 200) that the database does not
hold afterwards, read directly from the database. It also checks that every save the server
reported as a change has its audit event. Target: p95 < 100 ms, no errors, nothing lost;
exits with status 1 when it is missed.
"""

from __future__ import annotations

import argparse
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from fracturelab.errors import InputError
from fracturelab.workstation.db import Database, init_database
from fracturelab.workstation.models import Answer, AuditEvent, Case, Reading, User
from fracturelab.workstation.users import add_user
from fracturelab.workstation.worklist import assign

TARGET_P95_MS = 100.0
FEMUR_SIZE_PX = 2001  # femur centres are drawn in 0..2000 px
SPINE_LEVELS = ("T11", "T12", "L1", "L2", "L3", "L4", "L5")
MORPHOLOGIES = ("wedge", "biconcave", "crush")
PASSWORD = "load-test-password"

_SERVER = """
import sys
import uvicorn
from fracturelab.workstation.db import Database
from fracturelab.workstation.server.app import create_app
database = Database(sys.argv[1])
uvicorn.run(create_app(database), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
            access_log=False)
"""


@dataclass
class ReaderResult:
    name: str
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    changed: int = 0
    last_saved: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _setup(url: str, prefix: str, n_readers: int, n_cases: int) -> tuple[list[str], list[Case]]:
    """Create the readers, an admin and the cases, and assign every case to every reader."""
    init_database(url)
    database = Database(url)
    try:
        with database.transaction() as session:
            add_user(session, f"{prefix}-admin", PASSWORD, "admin")
            readers = [add_user(session, f"{prefix}-r{k:02d}", PASSWORD) for k in range(n_readers)]
            cases = []
            for k in range(n_cases):
                task = "femur" if k % 2 == 0 else "spine"
                name = f"{prefix}/{task}{k:03d}"
                case = Case(
                    task=task,
                    name=name,
                    image_path=f"/nonexistent/{name}.png" if task == "femur" else
                    f"/nonexistent/{name}.nii.gz",
                    labels_path=None if task == "femur" else f"/nonexistent/{name}_seg.nii.gz",
                    pixel_spacing_mm=0.15 if task == "femur" else None,
                    # what the server checks answers against (it would read it from the files)
                    levels=None if task == "femur" else list(SPINE_LEVELS),
                    width_px=FEMUR_SIZE_PX if task == "femur" else None,
                    height_px=FEMUR_SIZE_PX if task == "femur" else None,
                )  # fmt: skip
                session.add(case)
                cases.append(case)
            session.flush()
            for reader in readers:
                assign(session, cases, reader)
            return [reader.username for reader in readers], cases
    finally:
        database.dispose()


def _start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-c", _SERVER, url, str(port)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode} at start")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/me", timeout=1).status_code == 401:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.terminate()
    raise SystemExit("the server did not answer within 60 s")


def _answer(task: str, rng: random.Random) -> tuple[str, dict[str, Any]]:
    if task == "femur":
        value: dict[str, Any] = {
            "center_x": round(rng.uniform(0, 2000), 1),
            "center_y": round(rng.uniform(0, 2000), 1),
            "label": rng.choice(("AFF", "NFF")),
            "not_assessable": False,
        }
        return "fracture", value
    grade = rng.randint(0, 3)
    morphology = "normal" if grade == 0 else rng.choice(MORPHOLOGIES)
    value = {"genant_grade": grade, "morphology": morphology, "not_assessable": False}
    return rng.choice(SPINE_LEVELS), value


def _reader(
    base: str,
    name: str,
    cases: list[tuple[int, str]],
    start: threading.Barrier,
    stop_at: list[float],
    think_s: float,
    seed: int,
    result: ReaderResult,
) -> None:
    rng = random.Random(seed)
    versions: dict[int, int | None] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        try:
            login = client.post("/api/login", json={"username": name, "password": PASSWORD})
            login.raise_for_status()
        except httpx.HTTPError as error:
            result.errors[f"login failed: {error}"] += 1
            start.abort()
            return
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}
        _save(client, headers, rng, cases, versions, result, timed=False)  # warm-up, untimed
        try:
            start.wait()
        except threading.BrokenBarrierError:
            return
        time.sleep(rng.uniform(0, 2 * think_s))  # readers do not all start at the same moment
        while time.perf_counter() < stop_at[0]:
            _save(client, headers, rng, cases, versions, result, timed=True)
            if think_s > 0:
                time.sleep(rng.uniform(0, 2 * think_s))


def _save(
    client: httpx.Client,
    headers: dict[str, str],
    rng: random.Random,
    cases: list[tuple[int, str]],
    versions: dict[int, int | None],
    result: ReaderResult,
    *,
    timed: bool,
) -> None:
    """Save one random answer to a random case of the worklist and record the outcome."""
    case_id, task = rng.choice(cases)
    key, value = _answer(task, rng)
    body = {"value": value, "base_version": versions.get(case_id)}
    began = time.perf_counter()
    try:
        response = client.put(f"/api/cases/{case_id}/answers/{key}", json=body, headers=headers)
    except httpx.HTTPError as error:
        result.errors[type(error).__name__] += 1
        return
    if timed:
        result.latencies_s.append(time.perf_counter() - began)
    if response.status_code != 200:
        result.errors[f"HTTP {response.status_code}"] += 1
        return
    saved = response.json()
    versions[case_id] = saved["version"]
    result.changed += bool(saved["changed"])
    result.last_saved[(case_id, key)] = saved["value"]


def _check_database(
    url: str, results: list[ReaderResult], prefix: str
) -> tuple[int, int, int, int]:
    """Lost answers, answers checked, audit events and their expected count."""
    database = Database(url)
    try:
        with database.session() as session:
            stored: dict[tuple[str, int, str], dict[str, Any]] = {}
            rows = session.execute(
                select(User.username, Reading.case_id, Answer.key, Answer.value)
                .join(Reading, Reading.id == Answer.reading_id)
                .join(User, User.id == Reading.reader_id)
                .where(User.username.like(f"{prefix}-%"))
            )
            for username, case_id, key, value in rows:
                stored[(username, case_id, key)] = value
            audited = session.scalar(
                select(func.count(AuditEvent.id))
                .join(User, User.id == AuditEvent.user_id)
                .where(AuditEvent.action == "answer", User.username.like(f"{prefix}-%"))
            )
    finally:
        database.dispose()
    lost = checked = 0
    for result in results:
        for (case_id, key), value in result.last_saved.items():
            checked += 1
            lost += stored.get((result.name, case_id, key)) != value
    return lost, checked, int(audited or 0), sum(r.changed for r in results)


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--readers", type=int, default=20, help="concurrent readers (20)")
    parser.add_argument("--cases", type=int, default=40, help="cases, half femur (40)")
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration (20)")
    parser.add_argument(
        "--think-ms", type=float, default=500.0,
        help="mean pause of a reader between saves, uniform in 0..2x (500; 0: back to back)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.readers < 1 or args.cases < 2 or args.seconds <= 0:
        parser.error("give --readers >= 1, --cases >= 2 and --seconds > 0")
    prefix = f"load-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="fracturelab-load-") as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'labels.db'}"
        started = time.perf_counter()
        try:
            names, cases = _setup(url, prefix, args.readers, args.cases)
        except InputError as error:
            raise SystemExit(f"error: {error}") from None
        print(
            f"setup: {len(names)} readers + admin, {len(cases)} cases each assigned to every "
            f"reader, in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})",
            flush=True,
        )
        port = _free_port()
        server = _start_server(url, port)
        try:
            results, elapsed_s = _drive(f"http://127.0.0.1:{port}", names, cases, args)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        lost, checked, audited, changed = _check_database(url, results, prefix)
    met = _report(results, args, elapsed_s, lost, checked, audited, changed)
    if not met:
        sys.exit(1)


def _drive(
    base: str, names: list[str], cases: list[Case], args: argparse.Namespace
) -> tuple[list[ReaderResult], float]:
    targets = [(case.id, case.task) for case in cases]
    start = threading.Barrier(len(names) + 1)
    stop_at = [float("inf")]
    results = [ReaderResult(name) for name in names]
    threads = [
        threading.Thread(
            target=_reader,
            args=(base, name, targets, start, stop_at, args.think_ms / 1000, args.seed + k, result),
            name=name,
        )
        for k, (name, result) in enumerate(zip(names, results, strict=True))
    ]
    for thread in threads:
        thread.start()
    try:
        start.wait(timeout=120)  # every reader has logged in
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join()
        failed = [e for r in results for e in r.errors] or ["timed out"]
        raise SystemExit(f"readers could not log in: {failed[0]}") from None
    stop_at[0] = time.perf_counter() + args.seconds
    print(f"load: {len(names)} readers saving for {args.seconds:g} s ...", flush=True)
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - began


def _report(
    results: list[ReaderResult],
    args: argparse.Namespace,
    elapsed_s: float,
    lost: int,
    checked: int,
    audited: int,
    changed: int,
) -> bool:
    latencies = [t for r in results for t in r.latencies_s]
    errors: Counter[str] = Counter()
    for result in results:
        errors.update(result.errors)
    n_errors = sum(errors.values())
    if len(latencies) < 2:
        print("too few saves to measure")
        return False
    p50, p95, p99 = (1000 * _percentile(latencies, q) for q in (50, 95, 99))
    per_reader = [len(r.latencies_s) for r in results]
    print(f"saves               : {len(latencies)} in {elapsed_s:.1f} s "
          f"({len(latencies) / elapsed_s:.0f} requests/s; per reader {min(per_reader)}-"
          f"{max(per_reader)}; think time {args.think_ms:g} ms mean)")  # fmt: skip
    print(f"save latency        : p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, "
          f"max {1000 * max(latencies):.1f} ms")  # fmt: skip
    shown = ", ".join(f"{kind}: {count}" for kind, count in errors.most_common()) or "none"
    print(f"errors              : {n_errors} ({shown})")
    print(f"lost answers        : {lost} of {checked} last-saved answers missing or different")
    print(f"audit events        : {audited} for {changed} changing saves")
    met = p95 < TARGET_P95_MS and n_errors == 0 and lost == 0 and audited == changed
    verdict = "met" if met else "MISSED"
    print(f"target (p95 < {TARGET_P95_MS:g} ms, 0 errors, 0 lost, audit complete): {verdict}")
    return met


if __name__ == "__main__":
    main()
