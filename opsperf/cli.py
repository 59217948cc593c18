"""The ``opsperf`` command line: ``opsperf check``, ``opsperf schema``."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from opsperf.definitions.jsonschema import definitions_schema
from opsperf.definitions.loader import load

DEFAULT_ROOTS = ("org", "forms", "workflows")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """opsperf: operations performance management from YAML definitions."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def check(paths: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Load and check definitions (default: org/ forms/ workflows/)."""
    roots = list(paths) or [Path(r) for r in DEFAULT_ROOTS if Path(r).exists()]
    if not roots:
        raise click.UsageError("no definition folders here; name the files or folders to check")
    result = load(roots)
    failed = bool(result.errors) or (strict and bool(result.warnings))
    if fmt == "json":
        payload = {
            "ok": not failed,
            "definitions": len(result.definitions),
            "errors": len(result.errors),
            "warnings": len(result.warnings),
            "diagnostics": [d.as_dict() for d in result.diagnostics],
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        for diagnostic in result.diagnostics:
            click.echo(diagnostic.format())
        click.echo(
            f"{len(result.definitions)} definitions checked: "
            f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)"
            + (" (warnings fail with --strict)" if strict and result.warnings else ""),
            err=False,
        )
    sys.exit(1 if failed else 0)


@main.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to a file.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of all definition kinds."""
    text = json.dumps(definitions_schema(), ensure_ascii=False, indent=2)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")


def _app(database: str | None = None) -> Any:
    from opsperf import create_app

    config = {"SQLALCHEMY_DATABASE_URI": database} if database else None
    return create_app(config)


def _upgraded(app: Any) -> None:
    """Bring the schema to the newest revision and rebuild derived rows made by older rules."""
    from opsperf.persistence.schema import upgrade_to_head
    from opsperf.services.steps import rebuild_if_stale

    with app.app_context():
        upgrade_to_head()
        rebuilt = rebuild_if_stale()
    if rebuilt:
        click.echo(f"rebuilt the open steps of {rebuilt} appraisals")


def _run_tick(app: Any, now: dt.datetime | None = None) -> Any:
    """One run of the scheduled work, with the app's e-mail settings."""
    from opsperf.mail import SmtpMailer
    from opsperf.services import scheduler

    config = app.config
    settings = scheduler.Settings(
        retries=int(config["EMAIL_RETRIES"]),
        retry_delay=int(config["EMAIL_RETRY_DELAY"]),
        digest_hour=int(config["DIGEST_HOUR"]),
    )
    mailer = SmtpMailer(app) if config.get("SMTP_HOST") else None
    with app.app_context():
        return scheduler.tick(now, mailer, settings)


def _serve(app: Any, host: str, port: int) -> None:
    """The development server, with a job worker thread and the scheduler inside the process."""
    import threading

    from opsperf import worker
    from opsperf.services import scheduler

    consumer = worker.start_in_process(app)
    interval = float(app.config.get("TICK_INTERVAL") or 0)
    if interval > 0:
        loop = scheduler.every(interval, lambda: _run_tick(app))
        threading.Thread(target=loop, name="opsperf-tick", daemon=True).start()
    try:
        app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="Start again from fresh demo data.")
def demo(host: str, port: int, reset: bool) -> None:
    """Run the app on SQLite (instance/demo.sqlite) with demo people and a running cycle."""
    from opsperf.config import PROJECT_ROOT
    from opsperf.services.demo import PASSWORD, PEOPLE, seed

    instance = PROJECT_ROOT / "instance"
    instance.mkdir(exist_ok=True)
    database = instance / "demo.sqlite"
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    app = _app(f"sqlite:///{database}")
    _upgraded(app)
    with app.app_context():
        seed(app.extensions["opsperf.registry"].current)
    click.echo(f"\nopsperf demo on http://{host}:{port}/  (password for everyone: {PASSWORD})")
    for number, name, dept, position, _manager, roles in PEOPLE:
        role = f" [{roles}]" if roles else ""
        click.echo(f"  {number:<6} {name}  {dept}/{position or '-'}{role}")
    click.echo("")
    _serve(app, host, port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Upgrade the database and run the app with a job worker (use gunicorn in production)."""
    app = _app()
    _upgraded(app)
    _serve(app, host, port)


@main.command()
@click.option(
    "--now",
    "moment",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="Run as if it were this moment (UTC), e.g. to try the rules out on a copy.",
)
def tick(moment: dt.datetime | None) -> None:
    """Do the scheduled work that is due, once, and exit: reminders, overdue notices,
    escalations, overdue steps fired, daily digests, queued e-mail. Safe to run from cron or a
    systemd timer on several hosts at once: each thing is done exactly once."""
    from opsperf.persistence.models import db

    app = _app()
    report = _run_tick(app, moment)
    with app.app_context():
        db.engine.dispose()
    click.echo(" ".join(f"{k}={v}" for k, v in report.as_dict().items()))
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)


@main.command("worker")
@click.option("-w", "--workers", default=2, show_default=True, help="Worker threads.")
def worker_command(workers: int) -> None:
    """Run background jobs from the queue until stopped (run one or more beside gunicorn)."""
    from opsperf import worker

    app = _app()
    click.echo(f"opsperf worker: {workers} thread(s) on {app.config.get('JOBS_QUEUE') or 'SQLite'}")
    worker.consumer(app, workers).run()


@main.group()
def db() -> None:
    """The database: schema upgrades and backups."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the configured database to the newest schema."""
    app = _app()
    _upgraded(app)
    from opsperf.persistence.schema import current_revision

    with app.app_context():
        click.echo(f"database at revision {current_revision()}")


@db.command("current")
def db_current() -> None:
    """Print the database's schema revision (none: not created yet)."""
    from opsperf.persistence.schema import current_revision

    app = _app()
    with app.app_context():
        click.echo(current_revision() or "none")


@db.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(target: Path) -> None:
    """Copy the SQLite database to TARGET while it runs (PostgreSQL: use pg_dump)."""
    from opsperf.persistence.schema import backup_sqlite

    app = _app()
    with app.app_context():
        try:
            written = backup_sqlite(target)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"backed up to {written} ({written.stat().st_size:,} bytes)")


@main.group()
def people() -> None:
    """Manage people."""


@people.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def people_import(file: Path) -> None:
    """Import people from a CSV or XLSX file (all rows or none)."""
    from opsperf.errors import ValidationFailed
    from opsperf.services.people import import_people, read_rows

    app = _app()
    with app.app_context():
        try:
            rows = read_rows(file)
        except ValidationFailed as exc:
            raise click.ClickException(str(exc)) from exc
        result = import_people(app.extensions["opsperf.registry"].current, rows)
    if result.problems:
        for problem in result.problems:
            click.echo(f"{file}: {problem}", err=True)
        raise click.ClickException(f"{len(result.problems)} problem(s): nothing was imported")
    click.echo(f"imported {result.created} new and {result.updated} updated people")


@main.group()
def report() -> None:
    """Printed reports."""


@report.command("pdf")
@click.argument("appraisal_id", type=int)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="The PDF file to write.",
)  # fmt: skip
@click.option(
    "--lang", "language", type=click.Choice(["zh", "en"]), default="zh", show_default=True
)
def report_pdf(appraisal_id: int, output: Path, language: str) -> None:
    """Print an appraisal as a PDF (the configured database; nothing withheld)."""
    from opsperf.errors import OpsperfError
    from opsperf.services import reports as reports_svc
    from opsperf.web import reports

    app = _app()
    base = str(app.config.get("PUBLIC_URL") or "http://localhost/")
    with app.test_request_context("/", base_url=base, headers={"Accept-Language": language}):
        try:
            data = reports.pdf(reports_svc.report_of(appraisal_id, None), base)
        except OpsperfError as exc:
            raise click.ClickException(str(exc)) from exc
    output.write_bytes(data)
    click.echo(f"wrote {output} ({len(data) / 1024:.0f} KB)")


@main.group()
def actuals() -> None:
    """KPI actuals recorded period by period (check-ins)."""


@actuals.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cycle", "cycle_id", type=int, required=True, help="The cycle's id.")
@click.option("--valid-only", is_flag=True, help="Import the rows that pass; skip the others.")
@click.option("--dry-run", is_flag=True, help="Check the file and say what would change.")
def actuals_import(file: Path, cycle_id: int, valid_only: bool, dry_run: bool) -> None:
    """Import check-ins from a CSV or XLSX file: employee_no, kpi, period, value[, note].

    The whole file is checked first; nothing is written if a row is wrong, unless
    --valid-only. Importing the same file again changes nothing."""
    from opsperf.errors import OpsperfError
    from opsperf.services import checkins

    if file.stat().st_size > 64 * 2**20:
        raise click.ClickException("the file is larger than 64 MB: split it")
    data = file.read_bytes()
    app = _app()
    with app.app_context():
        try:
            cycle = checkins.cycle_for_import(cycle_id)

            def rows() -> Any:
                return checkins.read_file(file.name, data)

            defs = app.extensions["opsperf.registry"].current
            if dry_run:
                plan = checkins.check(cycle, rows(), defs=defs)
            else:
                plan = checkins.import_rows(
                    cycle, rows, None, "import", file.name, valid_only=valid_only, defs=defs
                )
        except OpsperfError as exc:
            raise click.ClickException(str(exc)) from exc
    for problem in plan.problems:
        click.echo(f"{file}: {problem}", err=True)
    if plan.problems_total > len(plan.problems):
        click.echo(f"{file}: … and {plan.problems_total - len(plan.problems)} more", err=True)
    counts = f"{plan.rows} rows: {plan.new} new, {plan.changed} changed, {plan.unchanged} unchanged"
    if dry_run:
        click.echo(f"{counts}; nothing was written (--dry-run)")
    elif plan.problems_total and not valid_only and plan.written:
        raise click.ClickException(
            f"stopped at row {plan.stopped_at}: {plan.problems_total} row(s) changed since the "
            f"check; {plan.written} check-ins before them were written"
        )
    elif plan.problems_total and not valid_only:
        raise click.ClickException(
            f"{plan.problems_total} row(s) with problems: nothing was imported"
        )
    else:
        click.echo(f"{counts}; {plan.written} check-ins written")
    if dry_run and plan.problems_total:
        raise SystemExit(1)


if __name__ == "__main__":
    main(prog_name="opsperf")
