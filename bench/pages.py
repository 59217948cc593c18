"""Benchmark: one appraisal's page, save, step and live preview against a bare Flask app.

    python bench/pages.py [--rounds 5] [--seconds 5] [--connections 16] [--dir /tmp/opsperf-pages]

Serves opsperf (SQLite, a generated team in the monitor phase) and bench/bare_app.py each with
gunicorn (2 sync workers), and loads them in turn with wrk (one connection per wrk thread, so
each thread keeps its own person, appraisal and version), in alternating rounds:

* page: an employee opens their appraisal — against the bare app serving the same bytes;
* save: employees save KPI actuals (each save changes a value) — against one SQLite INSERT
  and commit;
* preview: the live preview while typing (HTMX) — against the bare app serving the same
  fragment bytes;
* step: request approval / approve / send back, round and round — against one INSERT;
* floor: opsperf with one extra route that only authenticates, reads the appraisal row and
  sends the page's bytes (bench/floor_app.py) — against the bare page. No request of opsperf
  can beat it, so it is the ceiling for the ratios above.

It prints requests per second (median of the rounds) and the ratio opsperf ÷ bare. Targets:
page ≥ 0.25, save ≥ 0.5, preview ≥ 0.25. Then it reports each opsperf worker's memory.
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from opsperf import create_app
from opsperf.persistence.models import Appraisal, User, db
from opsperf.persistence.schema import upgrade_to_head
from opsperf.services import appraisals, cycles, generated, people

PASSWORD = "bench-1234"
FAST_HASH = "pbkdf2:sha256:1000"
TARGETS = {"page": 0.25, "save": 0.5, "preview": 0.25, "step": None, "floor": None}
HERE = Path(__file__).resolve().parent


@dataclass
class Person:
    employee_no: str
    appraisal_id: int
    version: int
    cookie: str = ""
    csrf: str = ""


def build(folder: Path, count: int) -> tuple[str, list[Person], str]:
    """A team of ``count`` people and their lead, appraisals in monitor with actuals typed."""
    database = folder / "opsperf.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_QUEUE": "immediate"})
    with app.app_context():
        upgrade_to_head()
        defs = app.extensions["opsperf.registry"].current
        made = generated.company(defs, 6 * count + 10, team_size=count + 1, password=PASSWORD)
        assert not people.import_people(defs, made.rows, password_method=FAST_HASH).problems
        today = dt.date.today()
        cycles.launch(
            defs,
            name="Bench",
            workflow_id="quarterly_review",
            period_start=today.replace(day=1),
            period_end=today.replace(day=1) + dt.timedelta(days=89),
            department_ids=[d.id for d in defs.departments.values() if d.parent is None],
            actor=None,
        )
        in_sales = {r["employee_no"] for r in made.rows if r["department"] == "sales"}
        lead_no = next(no for no in made.leads if no in in_sales)  # the sales form has "revenue"
        lead = db.session.scalar(select(User).filter_by(employee_no=lead_no))
        assert lead is not None
        team = list(
            db.session.scalars(
                select(Appraisal).where(Appraisal.manager_id == lead.id).order_by(Appraisal.id)
            )
        )[:count]
        assert len(team) == count, f"the lead has {len(team)} reports, not {count}"
        found = []
        for a in team:
            employee = db.session.get(User, a.employee_id)
            assert employee is not None
            _to_monitor(a.id, employee, lead)
            found.append(Person(employee.employee_no, a.id, appraisals.get(a.id).version))
    return url, found, lead_no


def _to_monitor(appraisal_id: int, employee: User, lead: User) -> None:
    """Plan agreed (request + approval), then actuals and a note typed in, as a person would."""
    a = appraisals.get(appraisal_id)
    plan = MultiDict({"plan_summary": "聚焦重点客户，提升续约率。", "key_actions": "每周复盘。"})
    appraisals.save(a.id, employee, plan, a.version)
    appraisals.fire(a.id, employee, "submit_plan", "request", None, appraisals.get(a.id).version)
    appraisals.fire(a.id, lead, "submit_plan", "approve", "同意。", appraisals.get(a.id).version)
    for n in range(8):  # some history on the page
        actuals = MultiDict(
            {"kpis-customer_satisfaction-actual": str(85 + n), "kpis-revenue-note": f"第{n}周"}
        )
        appraisals.save(a.id, employee, actuals, appraisals.get(a.id).version)


# --------------------------------------------------------------------------- servers


class Server:
    def __init__(self, app: str, port: int, env: dict[str, str], cwd: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                app,
            ],
            env={**os.environ, **env},
            cwd=cwd,
        )
        for _ in range(300):
            try:
                urllib.request.urlopen(self.base + "/", timeout=1)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{app} did not start")

    def workers_rss(self) -> list[tuple[int, int]]:
        pids = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        out = []
        for pid in pids:
            status = Path(f"/proc/{pid}/status").read_text()
            fields = {
                line.split(":")[0]: int(line.split()[1])
                for line in status.splitlines()
                if line.startswith(("VmRSS", "VmHWM"))
            }
            out.append((fields["VmRSS"] // 1024, fields["VmHWM"] // 1024))
        return out

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def login(base: str, person: Person) -> None:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "no CSRF token on the log-in page"
    fields = {"login": person.employee_no, "password": PASSWORD, "csrf_token": token.group(1)}
    opener.open(base + "/login", data=urllib.parse.urlencode(fields).encode())
    person.cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    page = opener.open(f"{base}/appraisals/{person.appraisal_id}").read().decode()
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    person.csrf = found.group(1)


# --------------------------------------------------------------------------- wrk


LUA = """
local people = {people}
local next_person = 0
function setup(thread)
  next_person = next_person + 1
  local p = people[(next_person - 1) % #people + 1]
  for k, v in pairs(p) do thread:set(k, v) end
end
n = 0
turn = 0
function request()
  n = n + 1
  return {request}
end
local shown = 0
function response(status, headers, body)
  if status >= 400 and shown < 1 then  -- say why, once per thread
    shown = shown + 1
    print(status, id, version, body:match('flash%-error"[^>]*>(.-)</div>') or body:sub(1, 200))
  end
  {response}
end
"""


def _lua_people(persons: list[Person], lead: Person) -> str:
    """One entry per wrk thread: its person, appraisal, version, session and CSRF token."""
    rows = []
    for p in persons:
        fields = {
            "id": str(p.appraisal_id),
            "version": str(p.version),
            "cookie": p.cookie,
            "csrf": urllib.parse.quote(p.csrf),  # in a form body
            "csrf_header": p.csrf,  # in the X-CSRFToken header (HTMX)
            "lead": lead.cookie,
            "lead_csrf": urllib.parse.quote(lead.csrf),
        }
        rows.append("{" + ", ".join(f'{k} = "{v}"' for k, v in fields.items()) + "}")
    return "{" + ", ".join(rows) + "}"


SCENARIOS: dict[str, dict[str, str]] = {
    "page": {
        "ours": 'wrk.format("GET", "/appraisals/" .. id, {["Cookie"] = cookie})',
        "bare": 'wrk.format("GET", "/page")',
        "response": "",
    },
    "save": {
        "ours": 'wrk.format("POST", "/appraisals/" .. id, {["Cookie"] = cookie, '
        '["Content-Type"] = "application/x-www-form-urlencoded"}, '
        '"csrf_token=" .. csrf .. "&version=" .. version .. '
        '"&kpis-customer_satisfaction-actual=" .. (80 + n % 20))',
        "bare": 'wrk.format("POST", "/save", {["Content-Type"] = '
        '"application/x-www-form-urlencoded"}, '
        '"kpis-customer_satisfaction-actual=" .. (80 + n % 20))',
        "response": "if status == 302 then version = version + 1 end",
    },
    "preview": {
        "ours": 'wrk.format("POST", "/appraisals/" .. id .. "/preview", {["Cookie"] = cookie, '
        '["HX-Request"] = "true", ["X-CSRFToken"] = csrf_header, '
        '["Content-Type"] = "application/x-www-form-urlencoded"}, '
        '"version=" .. version .. "&kpis-customer_satisfaction-actual=" .. (88 + n % 7))',
        "bare": 'wrk.format("POST", "/preview", {["HX-Request"] = "true", '
        '["Content-Type"] = "application/x-www-form-urlencoded"}, '
        '"kpis-customer_satisfaction-actual=" .. (88 + n % 7))',
        "response": "",
    },
    "step": {
        # revise_plan (lead) → submit_plan request (employee) → approve (lead), and again
        "ours": "step_request()",
        "bare": 'wrk.format("POST", "/step", {["Content-Type"] = '
        '"application/x-www-form-urlencoded"}, "trigger=revise_plan&n=" .. n)',
        "response": "if status == 302 then version = version + 1; turn = (turn + 1) % 3 end",
    },
    "floor": {
        "ours": 'wrk.format("GET", "/bench/floor/" .. id, {["Cookie"] = cookie})',
        "bare": 'wrk.format("GET", "/page")',
        "response": "",
    },
}

STEP_LUA = """
local steps = {
  {who = "lead", body = "action=revise_plan:fire&comment%3Arevise_plan%3Afire=%E8%B0%83%E6%95%B4"},
  {who = "self", body = "action=submit_plan:request"},
  {who = "lead", body = "action=submit_plan:approve"},
}
function step_request()
  local s = steps[turn + 1]
  local c = cookie
  if s.who == "lead" then c = lead end
  return wrk.format("POST", "/appraisals/" .. id .. "/fire", {["Cookie"] = c,
    ["Content-Type"] = "application/x-www-form-urlencoded"},
    "csrf_token=" .. (s.who == "lead" and lead_csrf or csrf) .. "&version=" .. version
    .. "&" .. s.body)
end
"""


def run_wrk(
    name: str, base: str, script: str, seconds: int, connections: int, folder: Path
) -> float:
    path = folder / "bench.lua"
    path.write_text(script, encoding="utf-8")
    out = subprocess.run(
        ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds}s", "-s", str(path), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{name}: {bad.group(1)} failed requests:\n{out}")
    return rate


def script_for(scenario: str, side: str, persons: list[Person], lead: Person) -> str:
    spec = SCENARIOS[scenario]
    text = LUA.replace("{people}", _lua_people(persons, lead))
    text = text.replace("{request}", spec[side]).replace("{response}", spec["response"])
    return text + (STEP_LUA if scenario == "step" and side == "ours" else "")


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", choices=list(SCENARIOS), action="append")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/opsperf-pages"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    folder = args.dir
    folder.mkdir(parents=True, exist_ok=True)
    print(f"building a team of {args.connections} in monitor…")
    url, persons, lead_no = build(folder, args.connections)
    env = {
        "OPSPERF_SQLALCHEMY_DATABASE_URI": url,
        "OPSPERF_SECRET_KEY": "bench",
        "OPSPERF_JOBS_QUEUE": "immediate",
    }
    ours = Server("opsperf:create_app()", 5081, env, HERE.parent)
    bare = floor = None
    try:
        for p in persons:
            login(ours.base, p)
        lead = Person(lead_no, persons[0].appraisal_id, 0)
        login(ours.base, lead)
        _capture(ours.base, persons[0], folder)
        bare = Server(
            "bare_app:create_app()",
            5082,
            {
                "BARE_PAGE": str(folder / "page.html"),
                "BARE_FRAGMENT": str(folder / "fragment.html"),
                "BARE_DB": str(folder / "bare.sqlite"),
            },
            HERE,
        )
        floor = Server(
            "floor_app:create_app()", 5083, {**env, "BARE_PAGE": str(folder / "page.html")}, HERE
        )
        rates: dict[tuple[str, str], list[float]] = {}
        scenarios = args.only or list(SCENARIOS)
        for _ in range(args.rounds):
            for scenario in scenarios:
                mine = floor if scenario == "floor" else ours
                for side, server in (("ours", mine), ("bare", bare)):
                    script = script_for(scenario, side, persons, lead)
                    name = f"{scenario} ({side})"
                    rate = run_wrk(
                        name, server.base, script, args.seconds, args.connections, folder
                    )
                    rates.setdefault((scenario, side), []).append(rate)
                    if scenario in ("save", "step") and side == "ours":
                        time.sleep(1)  # requests wrk gave up on may still be finishing
                        _resync(url, persons, lead_no)
        verdict = report(rates, scenarios, ours)
        long_history(url, persons, args.rounds)
        return verdict
    finally:
        for server in (ours, bare, floor):
            if server is not None:
                server.stop()


def _capture(base: str, person: Person, folder: Path) -> None:
    """The bytes the bare app serves: the page and a live-preview fragment, as opsperf sent them."""
    headers = {"Cookie": person.cookie}
    page = urllib.request.urlopen(
        urllib.request.Request(f"{base}/appraisals/{person.appraisal_id}", headers=headers)
    ).read()
    (folder / "page.html").write_bytes(page)
    body = urllib.parse.urlencode({"kpis-customer_satisfaction-actual": "91"}).encode()
    fragment = urllib.request.urlopen(
        urllib.request.Request(
            f"{base}/appraisals/{person.appraisal_id}/preview",
            data=body,
            headers={**headers, "HX-Request": "true", "X-CSRFToken": person.csrf},
        )
    ).read()
    (folder / "fragment.html").write_bytes(fragment)
    print(f"page {len(page):,} bytes, preview fragment {len(fragment):,} bytes")


def _resync(url: str, persons: list[Person], lead_no: str) -> None:
    """After writes: finish any step cycle wrk stopped half-way, read back each version."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_QUEUE": "immediate"})
    with app.app_context():
        lead = db.session.scalar(select(User).filter_by(employee_no=lead_no))
        for p in persons:
            a = appraisals.get(p.appraisal_id)
            if a.state == "plan" and not a.pending_trigger:
                employee = db.session.get(User, a.employee_id)
                appraisals.fire(a.id, employee, "submit_plan", "request", None, a.version)
            a = appraisals.get(p.appraisal_id)
            if a.pending_trigger:
                appraisals.fire(a.id, lead, "submit_plan", "approve", None, a.version)
            a = appraisals.get(a.id)
            assert a.state == "monitor", a.state
            p.version = a.version
        db.engine.dispose()


def long_history(url: str, persons: list[Person], rounds: int) -> None:
    """An appraisal with 2,000 events against one with 20: the page, in this process."""
    quiet, busy = persons[-2], persons[-1]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_QUEUE": "immediate"})
    with app.app_context():
        employee = db.session.scalar(select(User).filter_by(employee_no=busy.employee_no))
        assert employee is not None
        for n in range(2_000):
            a = appraisals.get(busy.appraisal_id)
            data = MultiDict({"kpis-revenue-note": f"第{n}次"})
            appraisals.save(a.id, employee, data, a.version)
        db.engine.dispose()
    app.config.update(WTF_CSRF_ENABLED=False)
    clients = {}
    for p in (quiet, busy):
        client = app.test_client()
        client.post("/login", data={"login": p.employee_no, "password": PASSWORD})
        clients[p.appraisal_id] = client
    times: dict[int, list[float]] = {quiet.appraisal_id: [], busy.appraisal_id: []}
    for _ in range(rounds * 20):
        for appraisal_id, client in clients.items():
            started = time.perf_counter()
            assert client.get(f"/appraisals/{appraisal_id}").status_code == 200
            times[appraisal_id].append(time.perf_counter() - started)
    few, many = (statistics.median(times[p.appraisal_id]) * 1000 for p in (quiet, busy))
    print(
        f"appraisal page, in process: ~20 events {few:.1f} ms, 2,020 events {many:.1f} ms "
        f"(ratio {many / few:.2f})"
    )


def report(rates: dict[tuple[str, str], list[float]], scenarios: list[str], ours: Server) -> int:
    print(f"\n{'':<10}{'opsperf req/s':>15}{'bare req/s':>13}{'ratio':>8}{'target':>8}")
    ok = True
    for scenario in scenarios:
        mine = statistics.median(rates[(scenario, "ours")])
        base = statistics.median(rates[(scenario, "bare")])
        target = TARGETS[scenario]
        ratio = mine / base
        verdict = "" if target is None else ("ok" if ratio >= target else "MISSED")
        ok &= verdict != "MISSED"
        shown = f"{target:.2f}" if target else "—"
        print(f"{scenario:<10}{mine:>15.0f}{base:>13.0f}{ratio:>8.3f}{shown:>8}  {verdict}")
    for rss, peak in ours.workers_rss():
        print(f"opsperf worker: RSS {rss} MB, peak {peak} MB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
