"""Benchmark: every page at company scale (run by hand, not a test).

    python bench/scale.py [--people 10000] [--small 200] [--cycles 4] [--rounds 15]
                          [--postgres URL] [--reuse] [--gunicorn] [--dir /tmp/opsperf-scale]

Builds two companies with the shipped pack, ``--people`` (10,000) and ``--small`` (200), each
with ``--cycles`` quarterly cycles launched for everyone, appraisals spread over the states of
the workflow and half of them with KPI actuals; on SQLite, and on PostgreSQL too when a URL is
given (each company in a schema of its own; the URL's database is used, its schemas
``scale_large`` and ``scale_small`` are replaced). Then, in alternating rounds over the two
companies, it times through the real Flask app (test client, in this process): HR's home, a
team lead's home, a department head's home, the cycle page (first page and a filtered page),
the cycles index, the people page (first and filtered), the API task list, an appraisal
page, the calibration boards, the goal alignment pages and the dashboards; it also times the
launch of the cycles. It prints p50 and p95 per page for both sizes and their ratio.

Targets: every page p50 under 150 ms at 10,000 × 4, and no page more than 3× slower at 10,000
people than at 200. With ``--gunicorn`` it also serves the large SQLite company with gunicorn
(2 sync workers), requests the pages over HTTP and reports each worker's resident memory
(target: under 150 MB per worker).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import String, cast, create_engine, func, insert, literal, select, text, update
from sqlalchemy.engine import make_url

from opsperf import create_app
from opsperf.persistence.models import (
    Appraisal,
    Comment,
    Cycle,
    Notification,
    ScheduleMark,
    User,
    db,
    utcnow,
)
from opsperf.persistence.schema import upgrade_to_head
from opsperf.services import comments, cycles, generated, people, scheduler, steps

PASSWORD = "scale-1234"
FAST_HASH = "pbkdf2:sha256:1000"
TARGET_MS = 150.0
TARGET_RATIO = 3.0
TARGET_RSS_MB = 150.0
# Where the appraisals stand: state → share (the rest stays in plan).
GRADED = ("assess.calibration", "feedback", "closed")
GRADES = [("S", 96.0), ("A", 88.0), ("A", 86.0), ("B", 78.0), ("B", 75.0), ("B", 72.0), ("C", 64.0)]
SPREAD = {
    "monitor": 0.30,
    "assess.self": 0.10,
    "assess.manager": 0.10,
    "assess.calibration": 0.06,
    "feedback": 0.04,
    "closed": 0.05,
}


@dataclass
class World:
    label: str
    app: Flask
    logins: dict[str, str]  # who → employee_no
    cycle_id: int
    appraisal_id: int
    build_seconds: dict[str, float] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, who: str) -> Any:
        if who not in self.clients:
            client = self.app.test_client()
            response = client.post("/login", data={"login": self.logins[who], "password": PASSWORD})
            assert response.status_code == 302, (who, response.status_code)
            self.clients[who] = client
        return self.clients[who]


def _app(url: str) -> Flask:
    return create_app(
        {
            "SECRET_KEY": "scale",
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "JOBS_QUEUE": "immediate",
        }
    )


def build(label: str, url: str, size: int, cycle_count: int, reuse: bool) -> World:
    """A company of ``size`` people with ``cycle_count`` launched cycles (or the one there)."""
    app = _app(url)
    seconds: dict[str, float] = {}
    with app.app_context():
        upgrade_to_head()
        defs = app.extensions["opsperf.registry"].current
        made = generated.company(defs, size)
        if not (reuse and db.session.scalar(select(func.count()).select_from(Cycle))):
            started = time.perf_counter()
            rows = made.rows
            for row in rows:  # passwords only where someone logs in: hashing is not measured
                if row["employee_no"] in (made.hr[0], made.leads[0], *made.heads.values()):
                    row["password"] = PASSWORD
            result = people.import_people(defs, rows, password_method=FAST_HASH)
            assert not result.problems, result.problems[:3]
            seconds["import people"] = time.perf_counter() - started
            top = [d.id for d in defs.departments.values() if d.parent is None]
            for n in range(cycle_count):
                quarter = dt.date(2026, 1, 1) + dt.timedelta(days=91 * n)
                started = time.perf_counter()
                cycles.launch(
                    defs,
                    name=f"2026 Q{n % 4 + 1} 季度绩效考核" + (f" ({n // 4 + 1})" if n >= 4 else ""),
                    workflow_id="quarterly_review",
                    period_start=quarter,
                    period_end=quarter + dt.timedelta(days=89),
                    department_ids=top,
                    actor=None,
                )
                seconds.setdefault("launch a cycle", 0.0)
                seconds["launch a cycle"] += (time.perf_counter() - started) / cycle_count
            started = time.perf_counter()
            _spread(size)
            seconds["spread states + rebuild open steps"] = time.perf_counter() - started
            _inboxes()
        if db.engine.dialect.name == "postgresql":
            # What autovacuum would have done by the time anyone looks: planner statistics and
            # the visibility map (index-only scans).
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        cycle_id = db.session.scalar(select(func.max(Cycle.id)))
        lead = db.session.scalar(select(User.id).filter_by(employee_no=made.leads[0]))
        appraisal_id = db.session.scalar(
            select(Appraisal.id)
            .where(Appraisal.cycle_id == cycle_id, Appraisal.manager_id == lead)
            .limit(1)
        )
        if not db.session.scalar(select(func.count()).select_from(Comment)):
            lead_user = db.session.get(User, lead)
            comments.post(appraisal_id, lead_user, "本月的客户拜访计划请补充到进展里。")
    logins = {"hr": made.hr[0], "lead": made.leads[0], "head": made.heads["sales"]}
    return World(label, app, logins, cycle_id, appraisal_id, seconds)


INBOX = 30  # notifications per person, a third of them unread


def _inboxes() -> None:
    """Every person's inbox holds ``INBOX`` notifications about their own appraisal."""
    now = utcnow()
    rows = [
        {
            "user_id": user_id,
            "appraisal_id": appraisal_id,
            "event": "step",
            "message": "step",
            "params": {"person": name, "step": "绩效监控", "trigger": "提交绩效计划"},
            "anchor": "",
            "created_at": now - dt.timedelta(hours=n),
            "read_at": None if n % 3 == 0 else now,
            "mail": "none",
        }
        for user_id, appraisal_id, name in db.session.execute(
            select(Appraisal.employee_id, func.max(Appraisal.id), User.name)
            .join(User, User.id == Appraisal.employee_id)
            .group_by(Appraisal.employee_id, User.name)
        )
        for n in range(INBOX)
    ]
    for i in range(0, len(rows), 5000):
        db.session.execute(insert(Notification), rows[i : i + 5000])
    db.session.commit()


def _spread(size: int) -> None:
    """Move appraisals to later states and give half of them KPI actuals, in bulk."""
    rng = random.Random(size)
    ids = list(db.session.scalars(select(Appraisal.id).order_by(Appraisal.id)))
    rng.shuffle(ids)
    start = 0
    for state, share in SPREAD.items():
        chunk = ids[start : start + int(len(ids) * share)]
        start += len(chunk)
        graded = state in GRADED
        # calibrated states carry a score, a grade and a bonus: a grade per 50 people
        for i in range(0, len(chunk), 50):
            grade, score = rng.choice(GRADES) if graded else (None, None)
            db.session.execute(
                update(Appraisal)
                .where(Appraisal.id.in_(chunk[i : i + 50]))
                .values(
                    state=state,
                    state_entered_at=dt.datetime.now() - dt.timedelta(days=rng.randint(0, 20)),
                    score=score,
                    grade=grade,
                    bonus=None if score is None else 6000.0,
                )
            )
    half = set(ids[: len(ids) // 2])
    for appraisal in db.session.scalars(select(Appraisal).where(Appraisal.id.in_(half))):
        values = dict(appraisal.values)
        for field_id, table in values.items():
            if isinstance(table, dict) and all(isinstance(r, dict) for r in table.values()):
                values[field_id] = {
                    kpi: {
                        **row,
                        "actual": round((row.get("target") or 100) * rng.uniform(0.8, 1.2), 1),
                    }
                    for kpi, row in table.items()
                }
        appraisal.values = values
    db.session.commit()
    steps.rebuild()


PAGES = [
    ("HR home /", "hr", "/"),
    ("team lead's home", "lead", "/"),
    ("department head's home", "head", "/"),
    ("cycle page, first page", "hr", "/cycles/{cycle}"),
    (
        "cycle page, filtered",
        "hr",
        "/cycles/{cycle}?department=sales&state=monitor&q=王&sort=-score",
    ),
    ("cycles index", "hr", "/cycles/"),
    ("people page", "hr", "/admin/people"),
    ("people page, search", "hr", "/admin/people?q=张&department=production"),
    ("API task list (HR)", "hr", "/api/v1/tasks"),
    ("team lead's API tasks", "lead", "/api/v1/tasks"),
    ("appraisal page", "lead", "/appraisals/{appraisal}"),
    # Boards list ten a page here: the small company has only a dozen people in calibration,
    # and a page of ten in both compares the counting, not the number of rows drawn.
    ("calibration board, company (HR)", "hr", "/cycles/{cycle}/calibration?per_page=10"),
    ("calibration board, department head", "head", "/cycles/{cycle}/calibration?per_page=10"),
    (
        "calibration board, filtered",
        "hr",
        "/cycles/{cycle}/calibration?department=sales&grade=A&q=王&per_page=10",
    ),
    ("API calibration numbers", "hr", "/api/v1/cycles/{cycle}/calibration"),
    ("follow-ups (HR)", "hr", "/follow-ups/"),
    ("API payout rows, a page (HR)", "hr", "/api/v1/cycles/{cycle}/payout?per_page=10"),
    # The goal tree rolls every aligned KPI of the scope up in one GROUP BY over its people.
    ("goal alignment, company (HR)", "hr", "/cycles/{cycle}/alignment"),
    ("goal alignment, department head", "head", "/cycles/{cycle}/alignment"),
    (
        "alignment: a KPI's people by actual",
        "head",
        "/cycles/{cycle}/alignment/people?goal=sales.quarterly_revenue"
        "&kpi=sales_quarterly.kpis.revenue&sort=-actual&per_page=10",
    ),
    ("department goals recorded by hand (HR)", "hr", "/cycles/{cycle}/goals/production"),
    ("import actuals page (HR)", "hr", "/cycles/{cycle}/actuals"),
    # Dashboards: one GROUP BY over the cycle and the three before it, the KPI attainment
    # kept until the cycle changes, a page of the heat table and the movers limited in SQL.
    ("dashboard, company (HR)", "hr", "/dashboards/company?cycle={cycle}"),
    ("dashboard, department head", "head", "/dashboards/company?cycle={cycle}"),
    (
        "dashboard, a department's position",
        "hr",
        "/dashboards/company?cycle={cycle}&department=sales&position=sales_rep",
    ),
    ("dashboard table as CSV (HR)", "hr", "/dashboards/company.csv?cycle={cycle}&table=trend"),
    ("my dashboard", "lead", "/dashboards/me"),
    (
        "a head's figure's appraisals",
        "head",
        "/dashboards/appraisals?cycle={cycle}&state=monitor",
    ),
    (
        "cycle results as CSV, filtered (HR)",
        "hr",
        "/cycles/{cycle}/results.csv?department=sales&grade=A",
    ),
    # Notifications: a page of one person's, and the header's unread count on every page.
    ("inbox (team lead)", "lead", "/inbox/"),
    ("inbox, unread only (HR)", "hr", "/inbox/?unread=1"),
    ("comments on an appraisal", "lead", "/appraisals/{appraisal}/comments"),
    ("mention box: who may read it", "lead", "/appraisals/{appraisal}/comments/people?q=王"),
]


def time_tick(world: World, rounds: int) -> dict[str, list[float]]:
    """``opsperf tick`` on the company: a run with nothing due (every overdue appraisal dealt
    with already, as after the first run: the steady cost of a run every minute), and a run
    with 100 reminders due (per reminder)."""
    out: dict[str, list[float]] = {}
    with world.app.app_context():
        now = utcnow()
        if not db.session.scalar(select(func.count()).select_from(ScheduleMark)):
            key = (
                literal("overdue:")
                + cast(Appraisal.id, String)
                + literal(":")
                + cast(Appraisal.entry_seq, String)
            )
            db.session.execute(
                insert(ScheduleMark).from_select(
                    ["key", "at"],
                    select(key, literal(now)).where(
                        Appraisal.due_at.is_not(None), Appraisal.due_at <= now
                    ),
                )
            )
            db.session.commit()
        started = time.perf_counter()
        first = scheduler.tick(now)  # the reminders the world's deadlines call for today
        done = first.reminders + first.overdue
        took = time.perf_counter() - started
        print(f"  {world.label}: a first tick did {done} things in {took:.1f} s")
        for _ in range(rounds):
            started = time.perf_counter()
            report = scheduler.tick(now)
            out.setdefault("tick, nothing due", []).append((time.perf_counter() - started) * 1000)
            assert report.reminders == report.overdue == 0, report
        planned = list(
            db.session.scalars(
                select(Appraisal.id)
                .where(Appraisal.cycle_id == world.cycle_id, Appraisal.state == "plan")
                .order_by(Appraisal.id.desc())
                .limit(100)
            )
        )
        db.session.execute(
            update(Appraisal)
            .where(Appraisal.id.in_(planned))
            .values(due_at=now + dt.timedelta(days=2, hours=12), entry_seq=Appraisal.entry_seq + 1)
        )
        db.session.commit()
        started = time.perf_counter()
        report = scheduler.tick(now)
        elapsed = (time.perf_counter() - started) * 1000
        out["tick, per reminder sent"] = [elapsed / max(1, report.reminders)]
    return out


def time_pages(worlds: list[World], rounds: int) -> dict[tuple[str, str], list[float]]:
    timings: dict[tuple[str, str], list[float]] = {}
    for world in worlds:  # warm up: log in, fill caches
        for _name, who, url in PAGES:
            world.client(who).get(url.format(cycle=world.cycle_id, appraisal=world.appraisal_id))
    for _ in range(rounds):
        for world in worlds:
            for name, who, url in PAGES:
                target = url.format(cycle=world.cycle_id, appraisal=world.appraisal_id)
                started = time.perf_counter()
                response = world.client(who).get(target)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, (world.label, target, response.status_code)
                timings.setdefault((world.label, name), []).append(elapsed)
    return timings


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(title: str, small: World, large: World, timings: dict[Any, list[float]]) -> bool:
    print(f"\n{title}: p50 / p95 in ms over {len(next(iter(timings.values())))} rounds")
    print(f"{'page':<28}{small.label:>18}{large.label:>20}{'ratio':>8}  verdict")
    ok = True
    names = [name for name, _who, _url in PAGES]
    names += [n for label, n in timings if label == small.label and n not in names]
    for name in names:
        s, big = timings[(small.label, name)], timings[(large.label, name)]
        ratio = statistics.median(big) / statistics.median(s)
        good = statistics.median(big) < TARGET_MS and ratio <= TARGET_RATIO
        ok &= good
        print(
            f"{name:<28}{statistics.median(s):>9.1f} / {_p(s, 0.95):>5.1f}"
            f"{statistics.median(big):>11.1f} / {_p(big, 0.95):>6.1f}{ratio:>8.2f}  "
            f"{'ok' if good else 'MISSED'}"
        )
    for label, world in (("small", small), ("large", large)):
        for step, seconds in world.build_seconds.items():
            print(f"  build {label}: {step}: {seconds:.2f} s")
    return ok


# --------------------------------------------------------------------------- gunicorn


def gunicorn_rss(url: str, world: World, rounds: int) -> None:
    """Serve the large company with gunicorn; request the pages over HTTP; read workers' RSS."""
    port = 5071
    env = {
        **os.environ,
        "OPSPERF_SQLALCHEMY_DATABASE_URI": url,
        "OPSPERF_SECRET_KEY": "scale",
        "OPSPERF_WTF_CSRF_ENABLED": "false",
        "OPSPERF_JOBS_QUEUE": "immediate",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "opsperf:create_app()"],
        env=env,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(base)
        openers = {}
        for who, number in world.logins.items():
            jar = CookieJar()
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
            body = f"login={number}&password={PASSWORD}".encode()
            opener.open(base + "/login", data=body)
            openers[who] = opener
        timings: dict[str, list[float]] = {}
        for _ in range(rounds):
            for name, who, path in PAGES:
                path = path.format(cycle=world.cycle_id, appraisal=world.appraisal_id)
                target = base + urllib.parse.quote(path, safe="/?=&-")
                started = time.perf_counter()
                with openers[who].open(urllib.request.Request(target)) as response:
                    response.read()
                timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        print(f"\ngunicorn (2 sync workers), {world.label}, over HTTP: p50 ms")
        for name, values in timings.items():
            print(f"  {name:<28}{statistics.median(values):>8.1f}")
        workers = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in workers:
            status = Path(f"/proc/{pid}/status").read_text()
            rss = next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
            )
            high = next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")
            )
            verdict = "ok" if high / 1024 < TARGET_RSS_MB else "MISSED"
            print(f"  worker {pid}: RSS {rss / 1024:.0f} MB, peak {high / 1024:.0f} MB  {verdict}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _wait(base: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/login", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


# --------------------------------------------------------------------------- main


def postgres_schema(url: str, schema: str) -> str:
    """``url`` with its connections in ``schema``, made afresh (dropped first if there)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return (
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--postgres", help="also run on this PostgreSQL database")
    parser.add_argument("--reuse", action="store_true", help="keep SQLite companies built before")
    parser.add_argument("--gunicorn", action="store_true", help="serve with gunicorn; worker RSS")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/opsperf-scale"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)

    ok = True
    backends = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    for backend, pg in backends:
        urls = {}
        for label, size in (("small", args.small), ("large", args.people)):
            if pg:
                urls[label] = postgres_schema(pg, f"scale_{label}")
            else:
                path = args.dir / f"{label}-{size}x{args.cycles}.sqlite"
                if not args.reuse:
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{path}{suffix}").unlink(missing_ok=True)
                urls[label] = f"sqlite:///{path}"
        print(f"{backend}: building {args.small} and {args.people} people × {args.cycles} cycles…")
        small = build(f"{args.small} people", urls["small"], args.small, args.cycles, args.reuse)
        large = build(
            f"{args.people:,} people", urls["large"], args.people, args.cycles, args.reuse
        )
        timings = time_pages([small, large], args.rounds)
        for world in (small, large):
            for name, values in time_tick(world, args.rounds).items():
                timings[(world.label, name)] = values
        ok &= report(backend, small, large, timings)
        if args.gunicorn and not pg:
            gunicorn_rss(urls["large"], large, args.rounds)
    print("\nall targets met" if ok else "\nsome targets MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
