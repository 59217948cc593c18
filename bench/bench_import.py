"""Benchmark: bringing a company in — a 10,000-row people import and its set-password links
(run by hand, not a test).

    python bench/bench_import.py [--people 10000] [--postgres URL] [--dir /tmp/opsperf-import]

Generates a company of ``--people`` with the shipped pack and writes it as an XLSX file with no
password column, then, through the web app (HR logged in, the job queue running jobs at once):
uploads it to ``/admin/people`` and waits for the import job, then asks for the sheet of
set-password links of everyone and downloads it. It does the same on PostgreSQL when a URL is
given (in a schema ``bench_import`` it replaces).

Baseline, measured in the same run: storing one imported password costs a scrypt hash (the
default method), so the same file *with* passwords would cost the import plus rows × that
hash. The script prints both and their ratio.

Target: import + links for 10,000 people under 30 s.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

from openpyxl import Workbook, load_workbook
from scale import postgres_schema  # bench/ is on the path when a script here runs

from opsperf import create_app
from opsperf.persistence.models import User, db
from opsperf.persistence.schema import upgrade_to_head
from opsperf.services import generated, people

TARGET_SECONDS = 30.0
HR_PASSWORD = "bench-import-1"
COLUMNS = ("employee_no", "name", "email", "department", "position", "manager", "roles")


def _sheet(rows: list[dict[str, str]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("people")
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([row.get(c, "") for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run(label: str, url: str, size: int) -> dict[str, float]:
    app = create_app(
        {"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url, "JOBS_QUEUE": "immediate",
         "WTF_CSRF_ENABLED": False}
    )  # fmt: skip
    with app.app_context():
        upgrade_to_head()
        defs = app.extensions["opsperf.registry"].current
        made = generated.company(defs, size)
        hr = made.hr[0]
        hr_row = next(r for r in made.rows if r["employee_no"] == hr)
        # Only the uploader exists before the upload (HR and admin: the file grants admin),
        # with a password to log in.
        uploader = {**hr_row, "manager": "", "roles": "hr,admin", "password": HR_PASSWORD}
        first = people.import_people(defs, [uploader])
        assert not first.problems, first.problems[:3]
    payload = _sheet(made.rows)
    client = app.test_client()
    assert client.post("/login", data={"login": hr, "password": HR_PASSWORD}).status_code == 302
    figures: dict[str, float] = {}

    started = time.perf_counter()
    response = client.post("/admin/people", data={"file": (io.BytesIO(payload), "people.xlsx")})
    assert response.status_code == 302, response.status_code
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    figures["import"] = time.perf_counter() - started
    assert "flash-success" in page, page[:3000]

    started = time.perf_counter()
    response = client.post("/admin/people/password-links", data={})
    assert response.status_code == 302, response.status_code
    sheet = client.get(response.headers["Location"] + "/file")
    figures["links"] = time.perf_counter() - started
    assert sheet.status_code == 200
    book = load_workbook(io.BytesIO(sheet.data), read_only=True)
    links = sum(1 for _ in book.active.iter_rows(min_row=2, values_only=True))
    with app.app_context():
        count = db.session.query(User).count()
        without = db.session.query(User).filter(User.password_hash == "").count()
    assert links == without == count - 1, (links, without, count)
    print(f"  {label}: {count:,} people, {links:,} links, sheet {len(sheet.data) / 1e6:.1f} MB")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--postgres", help="also run on this PostgreSQL database")
    parser.add_argument("--dir", default="/tmp/opsperf-import")
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)

    timings = []
    for _ in range(20):
        started = time.perf_counter()
        people.hash_password("Spring-2027-ok")
        timings.append(time.perf_counter() - started)
    per_hash = statistics.median(timings)

    database = folder / "import.sqlite"
    database.unlink(missing_ok=True)
    backends = [("SQLite", f"sqlite:///{database}")]
    if args.postgres:
        backends.append(("PostgreSQL", postgres_schema(args.postgres, "bench_import")))
    failed = False
    print(f"{args.people:,} people; one imported password costs {per_hash * 1000:.0f} ms")
    for label, url in backends:
        figures = run(label, url, args.people)
        total = figures["import"] + figures["links"]
        with_passwords = figures["import"] + args.people * per_hash
        print(
            f"  {label}: import {figures['import']:.1f} s + links {figures['links']:.1f} s "
            f"= {total:.1f} s (target < {TARGET_SECONDS:.0f} s); the same file with passwords "
            f"≈ {with_passwords:.0f} s; ratio {total / with_passwords:.3f}"
        )
        failed |= total >= TARGET_SECONDS
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
