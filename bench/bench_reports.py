"""Benchmark: printed appraisals (run by hand, not a test).

    python bench/bench_reports.py [--rounds 30] [--batch 1000] [--dir /tmp/opsperf-reports]

1. One appraisal: the demo's 李娜 (s101, scored, graded, signed off), printed through the web
   app as HR, ``--rounds`` times; p50 and p95. Baseline in the same run: WeasyPrint printing the
   very HTML that page made, saved as a static file, with the same stylesheets and fonts — the
   cost of the PDF alone, without reading the appraisal or laying out the template.
2. A batch: a generated company of ``--batch`` people (bench/scale.py's), one cycle, every
   appraisal printed into one ZIP by the background job as HR, with one printing process per
   core. Baseline: the static page above printed ``--batch`` times in a row in one process.

Targets: one appraisal under 300 ms; 1,000 appraisals under 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scale import build  # bench/ is on the path when a script here runs
from weasyprint import HTML

from opsperf import create_app
from opsperf.persistence.models import Appraisal, Cycle, ReportFile, User, db
from opsperf.persistence.schema import upgrade_to_head
from opsperf.services import demo, reports
from opsperf.web import reports as web_reports


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(values) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


def one(folder: Path, rounds: int) -> float:
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'demo.sqlite'}",
            "WTF_CSRF_ENABLED": False,
            "JOBS_QUEUE": "immediate",
        }
    )
    with app.app_context():
        upgrade_to_head()
        demo.seed(app.extensions["opsperf.registry"].current, password_method="pbkdf2:sha256:1000")
        appraisal_id = (
            db.session.query(Appraisal.id)
            .join(User, Appraisal.employee_id == User.id)
            .filter(User.employee_no == "s101")
            .order_by(Appraisal.id.desc())
            .scalar()
        )
    client = app.test_client()
    client.post("/login", data={"login": "hr01", "password": demo.PASSWORD})
    url = f"/appraisals/{appraisal_id}/report.pdf"
    assert client.get(url).status_code == 200  # the first print loads the fonts
    ours = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url)
        ours.append(time.perf_counter() - started)
        assert response.status_code == 200
    with app.test_request_context("/", headers={"Accept-Language": "zh"}):
        page = web_reports.html(reports.report_of(appraisal_id, None), "http://localhost/")
    fonts, sheets = web_reports._styles()
    bare = []
    for _ in range(rounds):
        started = time.perf_counter()
        HTML(string=page, base_url=str(web_reports.FONTS)).write_pdf(
            stylesheets=sheets, font_config=fonts
        )
        bare.append(time.perf_counter() - started)
    ratio = statistics.median(ours) / statistics.median(bare)
    verdict = "ok" if statistics.median(ours) < 0.3 else "MISSED"
    print(f"one appraisal ({len(response.data) / 1024:.0f} KB PDF), {rounds} rounds")
    print(f"  opsperf  {_ms(ours)}")
    print(f"  baseline {_ms(bare)}   (WeasyPrint on the saved HTML)")
    print(f"  ratio {ratio:.2f}   target < 300 ms: {verdict}")
    return statistics.median(bare)


def batch(folder: Path, size: int, bare_one: float) -> None:
    world = build(
        f"{size} people", f"sqlite:///{folder / f'company-{size}.sqlite'}", size, 1, False
    )
    app = world.app
    app.config["REPORT_PROCESSES"] = os.cpu_count() or 1
    client = world.client("hr")
    started = time.perf_counter()
    response = client.post(f"/cycles/{world.cycle_id}/reports")
    seconds = time.perf_counter() - started
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    job = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with app.app_context():
        printed = db.session.query(ReportFile).filter_by(job_id=job).count()
        total = len(
            reports.batch_ids(db.session.get(Cycle, world.cycle_id), reports.BatchScope(None, None))
        )
    zipped = client.get(f"/jobs/{job}/appraisals.zip")
    assert zipped.status_code == 200
    verdict = "ok" if seconds < 180 and printed == total else "MISSED"
    print(f"a batch of {printed} of the cycle's {total} appraisals, {os.cpu_count()} processes")
    print(f"  opsperf  {seconds:7.1f} s   ({seconds / max(printed, 1) * 1000:.0f} ms each)")
    print(f"  baseline {bare_one * total:7.1f} s   (the saved page printed {total} times in a row)")
    print(f"  ratio {seconds / (bare_one * total):.2f}   ZIP {len(zipped.data) / 2**20:.1f} MB")
    print(f"  target < 180 s: {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opsperf-reports-") as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        bare_one = one(folder, args.rounds)
        if args.batch:
            batch(folder, args.batch, bare_one)
    return 0


if __name__ == "__main__":
    sys.exit(main())
