"""Benchmark: a month of KPI actuals for a whole company — 10,000 people × 10 KPIs = 100,000
check-ins — imported from one CSV through the web app (run by hand, not a test).

    python bench/bench_actuals.py [--people 10000] [--kpis 10] [--postgres URL]
                                  [--dir /tmp/opsperf-actuals]

Writes a pack of its own (one department, a form of ``--kpis`` KPIs checked in monthly), makes
a company of ``--people`` and launches a cycle for it, then, as HR through the web app with the
job queue running jobs at once: uploads the file (the check job: every row checked, a preview
of what would change) and imports it (the import job: checked again, then written in chunks of
2,000 rows, each appraisal's actuals aggregated and an audit event per appraisal). Then the
same file again, which must change nothing. It does the same on PostgreSQL when a URL is given
(in a schema ``bench_actuals`` it replaces).

Baseline, measured in the same run on the same database: the same rows read with ``csv`` and
inserted with one ``executemany`` into a bare table — no checks, no aggregation, no audit.
Memory: the process's peak resident size before and after the import (the file is streamed a
chunk at a time; the peak must not grow with the file).

Target: the import (check + write) of 100,000 rows under 60 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

from scale import postgres_schema  # bench/ is on the path when a script here runs
from sqlalchemy import text

from opsperf import create_app
from opsperf.persistence.models import CheckIn, Event, db
from opsperf.persistence.schema import upgrade_to_head
from opsperf.services import cycles, generated, people

TARGET_SECONDS = 60.0
HR_PASSWORD = "bench-actuals-1"


def pack(folder: Path, kpis: int) -> list[str]:
    listed = "\n".join(
        f"          - {{id: k{i:02d}, name: 指标{i:02d}, unit: 件, weight: "
        f"{100 // kpis + (100 % kpis if i == 0 else 0)}, target: 300}}"
        for i in range(kpis)
    )
    files = {
        "org/company.yaml": """
kind: Department
id: company
name: 公司
""",
        "org/ops.yaml": """
kind: Department
id: ops
parent: company
name: 运营中心
head: lead
positions:
  - {id: lead, name: 主管, form: monthly, workflow: monthly}
  - {id: agent, name: 专员, form: monthly, workflow: monthly}
""",
        "forms/monthly.yaml": f"""
kind: Form
id: monthly
title: 运营考核
period: quarter
sections:
  - id: goals
    title: 指标
    fields:
      - id: kpis
        type: kpi_table
        label: 指标
        checkins: {{period: month, aggregate: sum}}
        kpis:
{listed}
""",
        "workflows/monthly.yaml": """
kind: Workflow
id: monthly
name: 运营考核
states:
  plan: {edit: {employee: [kpis.actual]}}
  monitor: {}
  assess: {}
  feedback: {}
  done: {final: true}
transitions:
  - {trigger: go, source: plan, dest: monitor, roles: [employee]}
  - {trigger: assess, source: monitor, dest: assess, roles: [manager]}
  - {trigger: talk, source: assess, dest: feedback, roles: [manager]}
  - {trigger: close, source: feedback, dest: done, roles: [manager]}
""",
    }
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return [str(folder / f) for f in ("org", "forms", "workflows")]


def peak_mb() -> float:
    """This process's peak resident size (VmHWM: unlike ru_maxrss, not inherited from the
    process that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(label: str, url: str, roots: list[str], size: int, kpis: int) -> dict[str, float]:
    app = create_app(
        {"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "JOBS_QUEUE": "immediate",
         "WTF_CSRF_ENABLED": False, "DEFINITION_ROOTS": roots}
    )  # fmt: skip
    with app.app_context():
        upgrade_to_head()
        defs = app.extensions["opsperf.registry"].current
        made = generated.company(defs, size)
        hr = made.hr[0]
        rows = [{**r, "password": HR_PASSWORD} if r["employee_no"] == hr else r for r in made.rows]
        result = people.import_people(defs, rows, password_method="pbkdf2:sha256:1000")
        assert not result.problems, result.problems[:3]
        started = time.perf_counter()
        launched = cycles.launch(
            defs, name="2026 Q4", workflow_id="monthly", period_start=_date("2026-10-01"),
            period_end=_date("2026-12-31"), department_ids=["ops"], actor=None,
        )  # fmt: skip
        cycle_id = launched.cycle.id
        people_in = [a.employee.employee_no for a in launched.cycle.appraisals]
        print(f"  {label}: {len(people_in):,} appraisals launched in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["employee_no", "kpi", "period", "value"])
    for n, no in enumerate(people_in):
        for i in range(kpis):
            writer.writerow([no, f"k{i:02d}", "2026-10", 90 + (n * 7 + i * 13) % 40])
    payload = out.getvalue().encode()
    lines = len(people_in) * kpis
    figures: dict[str, float] = {"rows": lines}

    # the baseline: the same rows, read and inserted as they are
    with app.app_context():
        db.session.execute(text("DROP TABLE IF EXISTS bare_actuals"))
        db.session.execute(
            text("CREATE TABLE bare_actuals (employee_no VARCHAR(64), kpi VARCHAR(64), "
                 "period VARCHAR(16), value DOUBLE PRECISION)")
        )  # fmt: skip
        db.session.commit()
        started = time.perf_counter()
        reader = csv.reader(io.StringIO(payload.decode()))
        next(reader)
        db.session.execute(
            text("INSERT INTO bare_actuals VALUES (:e, :k, :p, :v)"),
            [{"e": e, "k": k, "p": p, "v": float(v)} for e, k, p, v in reader],
        )
        db.session.commit()
        figures["baseline"] = time.perf_counter() - started

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    # The upload, the import and the second upload run in a fresh process, so that its peak
    # memory is the import's, not the company's launch's.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        figures.update(pool.apply(imports, (url, roots, cycle_id, hr, payload)))
    with app.app_context():
        stored = db.session.query(CheckIn).count()
        audited = db.session.query(Event).filter(Event.kind == "checkin").count()
    assert stored == lines, (stored, lines)
    print(f"  {label}: {stored:,} check-ins stored, {audited:,} audit events, "
          f"file {len(payload) / 1e6:.1f} MB")  # fmt: skip
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return figures


def imports(url: str, roots: list[str], cycle_id: int, hr: str, payload: bytes) -> dict[str, float]:
    """Check and import the file as HR through the web app, then check it again."""
    app = create_app(
        {"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "JOBS_QUEUE": "immediate",
         "WTF_CSRF_ENABLED": False, "DEFINITION_ROOTS": roots}
    )  # fmt: skip
    figures: dict[str, float] = {}
    client = app.test_client()
    assert client.post("/login", data={"login": hr, "password": HR_PASSWORD}).status_code == 302
    before = peak_mb()
    started = time.perf_counter()
    response = client.post(
        f"/cycles/{cycle_id}/actuals", data={"file": (io.BytesIO(payload), "actuals.csv")}
    )
    checked = response.headers["Location"]
    page = client.get(checked).get_data(as_text=True)
    figures["check"] = time.perf_counter() - started
    assert "Every row passed" in page or "所有行都通过检查" in page, page[-3000:]
    job_id = int(checked.rstrip("/").split("/")[-1])
    started = time.perf_counter()
    response = client.post(f"/cycles/{cycle_id}/actuals/{job_id}/import")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    figures["import"] = time.perf_counter() - started
    figures["peak_before_mb"] = before
    figures["peak_growth_mb"] = peak_mb() - before
    started = time.perf_counter()
    response = client.post(
        f"/cycles/{cycle_id}/actuals", data={"file": (io.BytesIO(payload), "actuals.csv")}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    figures["again"] = time.perf_counter() - started
    assert "nothing would change" in page or "不会有任何变化" in page
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return figures


def _date(text_: str) -> object:
    import datetime as dt

    return dt.date.fromisoformat(text_)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--kpis", type=int, default=10)
    parser.add_argument("--postgres", help="also run on this PostgreSQL database")
    parser.add_argument("--dir", default="/tmp/opsperf-actuals")
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    roots = pack(Path(tempfile.mkdtemp(prefix="pack-", dir=folder)), args.kpis)
    database = folder / "actuals.sqlite"
    database.unlink(missing_ok=True)
    backends = [("SQLite", f"sqlite:///{database}")]
    if args.postgres:
        backends.append(("PostgreSQL", postgres_schema(args.postgres, "bench_actuals")))
    failed = False
    for label, url in backends:
        f = run(label, url, roots, args.people, args.kpis)
        total = f["check"] + f["import"]
        print(
            f"  {label}: {f['rows']:,.0f} rows — check {f['check']:.1f} s + import "
            f"{f['import']:.1f} s = {total:.1f} s (target < {TARGET_SECONDS:.0f} s); the same "
            f"file again {f['again']:.1f} s (changes nothing); baseline csv + executemany "
            f"{f['baseline']:.1f} s; ratio {f['import'] / f['baseline']:.1f} (import) and "
            f"{total / f['baseline']:.1f} (check + import); the importing process's peak "
            f"memory grew {f['peak_growth_mb']:.0f} MB (from {f['peak_before_mb']:.0f} MB)"
        )
        failed |= total >= TARGET_SECONDS
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
