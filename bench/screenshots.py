"""Full-page screenshots of the main pages, in Chinese and in English, for review by eye.

    python bench/screenshots.py [--out /tmp/opsperf-shots] [--width 1280] [--only NAME] [--phone]

Run by hand, not a test. Seeds the demo (``opsperf.services.demo.seed``: the demo people and a
running cycle with appraisals in every phase) into a temporary SQLite database, serves it with
werkzeug on a free port (CSRF on, as in production) and drives Debian's headless Chromium
(``apt-get install chromium fonts-noto-cjk``; never a downloaded browser). Everyone logs in on
the log-in page; the browser asks for the language, and the header's switch is used when the
person's stored language differs.

``--phone`` shoots every scene as a phone shows it (390 px, touch, 3× pixels), as
``<lang>-phone-NN-<name>.png``.

Writes ``<lang>-NN-<name>.png`` (lang ``zh`` or ``en``) into the output folder:

01-login                  the log-in page
02-home-employee          s101's "My tasks"
03-appraisal-live         s103's appraisal in monitor, a revenue actual typed and the live
                          scores swapped in (not saved)
04-appraisal-result       s101's appraisal in feedback, with the result and how it was reached
05-home-manager           s100's "My tasks" (a manager)
06-appraisal-pending      m101's plan awaiting approval, as their manager m100
07-appraisal-refused      p102's fresh plan: "request approval" clicked with required fields empty
08-home-hr                hr01's home page with the cycle's progress
09-cycle                  the cycle page
10-cycle-filtered         the cycle page, filtered and sorted
11-people                 the people page of one department
12-import-job             a people import refused, on its job page
13-calibration            客服部's calibration board as its head c100: a broken quota, one
                          grade changed, the 9-box
14-calibration-company    the whole company's board, as hr01
15-appraisal-override     唐嘉's provisional result with the grade changed at calibration
16-follow-ups             hr01's list of follow-ups
17-alignment              the goal cascade as 销售部's head s100 sees it: company revenue →
                          the department's quarterly revenue → each rep's revenue KPI
18-alignment-company      the whole company's goal tree, as hr01
19-alignment-people       the people whose revenue KPI feeds 销售部's quarterly revenue
20-appraisal-checkins     p100's appraisal in monitor: the month-by-month actuals of the
                          production KPIs, their sparklines and the form to record a month
21-actuals-preview        hr01 checking a file of actuals: what would change, and the rows with
                          problems
22-api-tokens             an administrator's new API token, shown once
23-department-goals       生产部's goals recorded once a cycle, as the workshop's recorder 王磊
24-appraisal-previous     王磊's plan with last quarter beside it (PDCA) and the shared team KPI
25-dashboard-company      the whole company's dashboard, as hr01: completion, grades against
                          the quotas, scores and KPI attainment by department, the trend
26-dashboard-department   生产部's dashboard as its head p100: the people × KPIs heat table and
                          the movers since last quarter
27-dashboard-me           p101's own dashboard: score, grade and KPI attainment by cycle
28-acknowledge-step       s101's appraisal in feedback, the first screen only (1280×800): the
                          manager's write-up, her answer and "I have read" ticked, Acknowledge
                          ready beside them
29-my-appraisals          s101's "My appraisals": this quarter and last, with score and grade
30-inbox                  s100's notifications: sign-offs asked for, steps taken, 李娜's reply
31-thread                 李娜's revenue row thread as s101: a mention, her answer, HR asked in
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from opsperf import create_app
from opsperf.persistence.models import Appraisal, Cycle, User, db
from opsperf.persistence.schema import upgrade_to_head
from opsperf.services import demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCALES = {"zh": "zh-CN", "en": "en"}  # as <html lang> reads; also sent as Accept-Language
FIRST_SCREEN = {"28-acknowledge-step": 800}  # scenes shot as the first screen: its height


@contextmanager
def serve_demo(folder: Path) -> Iterator[tuple[Flask, str]]:
    app = create_app(
        {
            "SECRET_KEY": "screenshots",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'demo.sqlite'}",
            "JOBS_QUEUE": "immediate",
        }
    )
    app.instance_path = str(folder / "instance")
    with app.app_context():
        upgrade_to_head()
        demo.seed(app.extensions["opsperf.registry"].current, password_method="pbkdf2:sha256:1000")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        with app.app_context():
            db.engine.dispose()


def appraisal_of(app: Flask, employee_no: str) -> int:
    with app.app_context():
        found = (
            db.session.query(Appraisal.id)
            .join(User, Appraisal.employee_id == User.id)
            .filter(User.employee_no == employee_no)
            .order_by(Appraisal.id.desc())
            .limit(1)
            .scalar()
        )
    assert found is not None, employee_no
    return int(found)


def current_cycle(app: Flask) -> int:
    """The demo's running cycle (the newest; last quarter's is closed)."""
    with app.app_context():
        return int(db.session.query(Cycle.id).order_by(Cycle.id.desc()).limit(1).scalar())


class Shooter:
    def __init__(
        self, browser: Browser, base_url: str, out: Path, width: int, phone: bool = False
    ) -> None:
        self.browser, self.base_url, self.out, self.width = browser, base_url, out, width
        self.phone = phone
        self.written: list[Path] = []

    def page_as(self, lang: str, employee_no: str | None) -> Page:
        context = self.browser.new_context(
            base_url=self.base_url,
            locale=LOCALES[lang],
            viewport={"width": 390, "height": 844} if self.phone else {"width": self.width,
                                                                        "height": 900},
            device_scale_factor=3 if self.phone else 1,
            has_touch=self.phone,
            is_mobile=self.phone,
        )  # fmt: skip
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto("/login")
        if employee_no:
            page.fill("#login", employee_no)
            page.fill("#password", demo.PASSWORD)
            page.click("form:has(#password) button[type=submit]")
            page.wait_for_url(lambda url: not url.rstrip("/").endswith("/login"))
        # After log-in the person's stored language wins over the browser's: switch if needed
        # (the switch remembers the choice for that person).
        if page.locator("html").get_attribute("lang") != LOCALES[lang]:
            page.click(".lang-switch button")
            expect(page.locator("html")).to_have_attribute("lang", LOCALES[lang])
        return page

    def shoot(self, page: Page, lang: str, name: str) -> None:
        page.wait_for_load_state("networkidle")
        # The header is sticky: scrolled (e.g. by typing), it would be drawn mid-page.
        page.evaluate("window.scrollTo(0, 0)")
        path = self.out / f"{lang}-{'phone-' if self.phone else ''}{name}.png"
        if name in FIRST_SCREEN:
            page.set_viewport_size({"width": self.width, "height": FIRST_SCREEN[name]})
        page.screenshot(path=str(path), full_page=name not in FIRST_SCREEN)
        self.written.append(path)
        print(path)


def scenes(app: Flask) -> list[tuple[str, str | None, Callable[[Page], None]]]:
    """(name, who logs in, what to do before the screenshot)."""
    s101, s103 = appraisal_of(app, "s101"), appraisal_of(app, "s103")
    c104 = appraisal_of(app, "c104")
    m101, p102 = appraisal_of(app, "m101"), appraisal_of(app, "p102")
    cycle = current_cycle(app)

    def live(page: Page) -> None:
        page.goto(f"/appraisals/{s103}")
        satisfaction = page.locator('input[name="kpis-customer_satisfaction-actual"]')
        satisfaction.fill("")
        satisfaction.press_sequentially("96")
        # 96 % reaches the top band: the live score reads 120.
        expect(page.locator("#kpi-score-kpis-customer_satisfaction")).to_have_text("120")

    def refused(page: Page) -> None:
        page.goto(f"/appraisals/{p102}")  # a fresh plan: nothing filled in yet
        with page.expect_navigation():
            page.click('button[value="submit_plan:request"]')
        expect(page.locator(".field-error").first).to_be_visible()

    def imported(page: Page) -> None:
        page.goto("/admin/people")
        header = "employee_no,name,email,department,position,manager\n"
        rows = header + "x1,新同事,x1@demo.opsperf,nowhere,,\n"
        page.set_input_files(
            'input[type="file"]',
            files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": rows.encode()}],
        )
        page.click('form[enctype] button[type="submit"]')
        page.wait_for_url("**/jobs/*")

    def actuals(page: Page) -> None:
        page.goto(f"/cycles/{cycle}/actuals")
        month = dt.date.today().strftime("%Y-%m")
        rows = (
            "工号,指标,期间,实际值,备注\n"
            + "".join(
                f"p100,{kpi},{month},{value},MES 月报\n"
                for kpi, value in (
                    ("efficiency", 43.6),
                    ("pass_rate", 98.9),
                    ("cost_control", 97.2),
                )
            )
            + f"p101,efficiency,{month},41.0,\np999,efficiency,{month},40,\n"
        )
        page.set_input_files(
            'input[type="file"]',
            files=[{"name": "mes-export.csv", "mimeType": "text/csv", "buffer": rows.encode()}],
        )
        page.click('form[enctype] button[type="submit"]')
        page.wait_for_url("**/jobs/*")
        expect(page.locator("#actuals-counts")).to_be_visible()

    def acknowledge(page: Page) -> None:
        page.goto(f"/appraisals/{s101}")
        page.check('input[name="agreement"][value="agree"]')
        page.check("#acknowledged")
        expect(page.locator('button[value="acknowledge:fire"]')).to_be_enabled()
        page.evaluate("document.activeElement && document.activeElement.blur()")

    def tokens(page: Page) -> None:
        page.goto("/admin/tokens")
        page.fill("#t-name", "MES 每月同步")
        page.click('form button[type="submit"].btn-primary')
        expect(page.locator("#new-token")).to_be_visible()

    filtered = f"/cycles/{cycle}?state=plan&sort=name"
    p100, p102 = appraisal_of(app, "p100"), appraisal_of(app, "p102")
    goals = f"/cycles/{cycle}/goals/production"
    people = (
        f"/cycles/{cycle}/alignment/people?goal=sales.quarterly_revenue"
        "&kpi=sales_quarterly.kpis.revenue&sort=-actual"
    )
    return [
        ("01-login", None, lambda page: None),
        ("02-home-employee", "s101", lambda page: None),
        ("03-appraisal-live", "s103", live),
        ("04-appraisal-result", "s101", lambda page: page.goto(f"/appraisals/{s101}")),
        ("05-home-manager", "s100", lambda page: None),
        ("06-appraisal-pending", "m100", lambda page: page.goto(f"/appraisals/{m101}")),
        ("07-appraisal-refused", "p102", refused),
        ("08-home-hr", "hr01", lambda page: None),
        ("09-cycle", "hr01", lambda page: page.goto(f"/cycles/{cycle}")),
        ("10-cycle-filtered", "hr01", lambda page: page.goto(filtered)),
        ("11-people", "hr01", lambda page: page.goto("/admin/people?department=sales")),
        ("12-import-job", "hr01", imported),
        ("13-calibration", "c100", lambda page: page.goto(f"/cycles/{cycle}/calibration")),
        ("14-calibration-company", "hr01", lambda page: page.goto(f"/cycles/{cycle}/calibration")),
        ("15-appraisal-override", "hr01", lambda page: page.goto(f"/appraisals/{c104}")),
        ("16-follow-ups", "hr01", lambda page: page.goto("/follow-ups/")),
        ("17-alignment", "s100", lambda page: page.goto(f"/cycles/{cycle}/alignment")),
        ("18-alignment-company", "hr01", lambda page: page.goto(f"/cycles/{cycle}/alignment")),
        ("19-alignment-people", "s100", lambda page: page.goto(people)),
        ("20-appraisal-checkins", "p100", lambda page: page.goto(f"/appraisals/{p100}#checkins")),
        ("21-actuals-preview", "hr01", actuals),
        ("22-api-tokens", "admin", tokens),
        ("23-department-goals", "p102", lambda page: page.goto(goals)),
        ("24-appraisal-previous", "p102", lambda page: page.goto(f"/appraisals/{p102}")),
        ("25-dashboard-company", "hr01", lambda page: page.goto("/dashboards/company")),
        ("26-dashboard-department", "p100", lambda page: page.goto("/dashboards/company")),
        ("27-dashboard-me", "p101", lambda page: page.goto("/dashboards/me")),
        ("28-acknowledge-step", "s101", acknowledge),
        ("29-my-appraisals", "s101", lambda page: page.goto("/appraisals/mine")),
        ("30-inbox", "s100", lambda page: page.goto("/inbox/")),
        (
            "31-thread",
            "s101",
            lambda page: page.goto(f"/appraisals/{s101}/comments?kpi=kpis.revenue"),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/opsperf-shots"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--only", help="only scenes whose name contains this")
    parser.add_argument("--phone", action="store_true", help="as a phone shows them (390 px)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="opsperf-shots-") as tmp,
        serve_demo(Path(tmp)) as (app, base_url),
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        shooter = Shooter(browser, base_url, args.out, args.width, args.phone)
        try:
            for lang in LOCALES:
                for name, who, before in scenes(app):
                    if args.only and args.only not in name:
                        continue
                    page = shooter.page_as(lang, who)
                    before(page)
                    shooter.shoot(page, lang, name)
                    page.context.close()
        finally:
            browser.close()
    elapsed = time.perf_counter() - started
    print(f"{len(shooter.written)} screenshots in {args.out} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
