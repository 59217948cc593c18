"""Every page of the app, audited in a real headless Chromium: axe-core (WCAG 2.1 AA and the
2.2 target size), reflow on a phone, a tablet and at 200 % zoom, and a keyboard-only step.

The demo (``services.demo.seed``: people and a running cycle with appraisals in every phase) is
seeded once into a SQLite file and served over HTTP for the whole module; the pages' markup
does not depend on the database (the other browser tests run on both). Each page state is
reached in a fresh browser context, logged in, in Chinese and in English. axe-core comes from
the ``axe-playwright-python`` package, which bundles it: nothing is fetched at run time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from opsperf.persistence.models import Appraisal, Cycle, User, db
from opsperf.services import demo
from tests.conftest import FAST_HASH, PACK, make_app
from tests.test_browser import TIMEOUT_MS, browser, pw

__all__ = ["browser", "pw"]  # fixtures shared with the other browser tests

pytestmark = pytest.mark.browser

LOCALES = {"zh": "zh-CN", "en": "en"}
# WCAG 2.0/2.1 A and AA, and 2.5.8 (target size, minimum) from 2.2.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
# A phone, a tablet, and a 1280 px screen at 200 % zoom (640 CSS px wide).
VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3,
              "has_touch": True, "is_mobile": True},
    "tablet": {"viewport": {"width": 768, "height": 1024}, "device_scale_factor": 2,
               "has_touch": True},
    "zoom200": {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2},
    "desktop": {"viewport": {"width": 1280, "height": 900}},
}  # fmt: skip


@dataclass
class Site:
    app: Flask
    url: str
    ids: dict[str, int]  # employee number → their appraisal in the running cycle
    cycle: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("a11y")
    app = make_app(
        {
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'demo.sqlite'}",
            "DEFINITION_ROOTS": PACK,
            "WTF_CSRF_ENABLED": False,
        },
        folder / "instance",
    )
    with app.app_context():
        demo.seed(app.extensions["opsperf.registry"].current, password_method=FAST_HASH)
        cycle = int(db.session.query(Cycle.id).order_by(Cycle.id.desc()).limit(1).scalar())
        rows = (
            db.session.query(User.employee_no, Appraisal.id)
            .join(Appraisal, Appraisal.employee_id == User.id)
            .filter(Appraisal.cycle_id == cycle)
        )
        ids = {no: int(aid) for no, aid in rows}
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="opsperf-a11y", daemon=True)
    thread.start()
    try:
        yield Site(app, f"http://127.0.0.1:{server.server_port}", ids, cycle)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


OpenAs = Callable[..., Page]
# How the probes below name an element in a failure: tag#id.classes "text".
NAMING = """window.__a11y = {name(el) {
  const css = typeof el.className === 'string' && el.className.trim()
    ? '.' + el.className.trim().split(/ +/).join('.') : '';
  const text = (el.textContent || el.value || '').trim().slice(0, 20);
  return `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${css} "${text}"`;
}};"""


@pytest.fixture
def open_as(browser: Browser, site: Site) -> Iterator[OpenAs]:
    """``open_as('s101', 'en', 'phone')`` → a page in a fresh context, logged in, in that
    language."""
    contexts = []
    blocked: list[str] = []

    def make(employee_no: str | None, lang: str, screen: str = "desktop") -> Page:
        context = browser.new_context(base_url=site.url, locale=LOCALES[lang], **VIEWPORTS[screen])
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(NAMING)
        context.on(
            "console",
            lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
        )
        contexts.append(context)
        if employee_no:
            form = {"login": employee_no, "password": demo.PASSWORD}
            response = context.request.post("/login", form=form, max_redirects=0)
            assert response.status == 302, response.text()[:500]
        # the person's stored language wins over the browser's: choose it
        response = context.request.post(f"/language/{lang}", form={"next": "/"})
        assert response.ok
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    assert not blocked, blocked


# --------------------------------------------------------------------------- page states


def _refused(site: Site) -> Callable[[Page], None]:
    def go(page: Page) -> None:
        page.goto(f"/appraisals/{site.ids['p102']}")
        with page.expect_navigation():
            page.click('button[value="submit_plan:request"]')
        expect(page.locator(".field-error").first).to_be_visible()

    return go


def _imported(page: Page) -> None:
    page.goto("/admin/people")
    rows = (
        "employee_no,name,email,department,position,manager\nx1,新同事,x1@demo.opsperf,nowhere,,\n"
    )
    page.set_input_files(
        'input[type="file"]',
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": rows.encode()}],
    )
    page.click('form[enctype] button[type="submit"]')
    page.wait_for_url("**/jobs/*")


def _tokens(page: Page) -> None:
    page.goto("/admin/tokens")
    page.fill("#t-name", "MES")
    page.click('form button[type="submit"].btn-primary')
    expect(page.locator("#new-token")).to_be_visible()


def states(site: Site) -> dict[str, tuple[str | None, Callable[[Page], Any]]]:
    """Page state → (who logs in, how to reach it)."""
    ids, cycle = site.ids, site.cycle

    def goto(path: str) -> Callable[[Page], Any]:
        return lambda page: page.goto(path)

    return {
        "login": (None, goto("/login")),
        "home-employee": ("s101", goto("/")),
        "home-manager": ("s100", goto("/")),
        "plan-employee": ("p102", goto(f"/appraisals/{ids['p102']}")),
        "monitor-checkins": ("p100", goto(f"/appraisals/{ids['p100']}")),
        "assess-self": ("p101", goto(f"/appraisals/{ids['p101']}")),
        "manager-review": ("s100", goto(f"/appraisals/{ids['s102']}")),
        "calibration": ("c100", goto(f"/cycles/{cycle}/calibration")),
        "feedback": ("s101", goto(f"/appraisals/{ids['s101']}")),
        "field-errors": ("p102", _refused(site)),
        "cycles": ("hr01", goto("/cycles/")),
        "cycle": ("hr01", goto(f"/cycles/{cycle}")),
        "people-import": ("hr01", goto("/admin/people")),
        "follow-ups": ("hr01", goto("/follow-ups/")),
        "dashboard-company": ("hr01", goto("/dashboards/company")),
        "dashboard-me": ("p101", goto("/dashboards/me")),
        "alignment": ("s100", goto(f"/cycles/{cycle}/alignment")),
        "api-tokens": ("admin", _tokens),
        "job": ("hr01", _imported),
        "inbox": ("s100", goto("/inbox/")),
        "my-appraisals": ("s101", goto("/appraisals/mine")),
        "thread": ("s101", goto(f"/appraisals/{ids['s101']}/comments?kpi=kpis.revenue")),
        "outbox": ("admin", goto("/admin/emails/")),
    }


STATES = [
    "login", "home-employee", "home-manager", "plan-employee", "monitor-checkins",
    "assess-self", "manager-review", "calibration", "feedback", "field-errors", "cycles",
    "cycle", "people-import", "follow-ups", "dashboard-company", "dashboard-me", "alignment",
    "api-tokens", "job", "inbox", "my-appraisals", "thread", "outbox",
]  # fmt: skip


def reach(open_as: OpenAs, site: Site, state: str, lang: str, screen: str = "desktop") -> Page:
    who, go = states(site)[state]
    page = open_as(who, lang, screen)
    go(page)
    page.wait_for_load_state("networkidle")
    expect(page.locator("html")).to_have_attribute("lang", LOCALES[lang])
    return page


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {v['helpUrl']}")
        for node in v["nodes"][:8]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '')[:300]}")
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("lang", list(LOCALES))
@pytest.mark.parametrize("state", STATES)
def test_axe_finds_nothing(open_as: OpenAs, site: Site, state: str, lang: str) -> None:
    """axe-core over the page: no violation of WCAG 2.1 AA, 2.5.8 or axe's best practices."""
    page = reach(open_as, site, state, lang)
    results = Axe().run(page, options=AXE_OPTIONS)
    violations = results.response["violations"]
    assert not violations, f"{state} ({lang}):\n{describe(violations)}"


WIDER_THAN_THE_SCREEN = """() => {
  const width = window.innerWidth;
  const over = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.parentElement && el.parentElement.closest('.table-wrap, .nav')) continue;
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    const spills = style.overflowX === 'visible' ? r.left + el.scrollWidth : r.right;
    if (r.width && Math.max(r.right, spills) > width + 1) {
      over.push(`${__a11y.name(el)} → ${Math.round(Math.max(r.right, spills))}`);
      if (over.length > 12) break;
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, over};
}"""


# A short name in a table (a person, a department: up to six characters) on one line.
NAMES_BROKEN = """() => {
  const broken = [];
  for (const cell of document.querySelectorAll('.table td, .table th')) {
    const text = cell.textContent.trim();
    if (!text || text.length > 6 || /\\s/.test(text) || !cell.getBoundingClientRect().width) {
      continue;
    }
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (tops.size > 1) broken.push(text);
    }
  }
  return broken.slice(0, 10);
}"""


@pytest.mark.parametrize("screen", ["phone", "tablet", "zoom200"])
@pytest.mark.parametrize("lang", list(LOCALES))
@pytest.mark.parametrize("state", STATES)
def test_no_page_wide_sideways_scroll(
    open_as: OpenAs, site: Site, state: str, lang: str, screen: str
) -> None:
    """On a phone, a tablet and at 200 % zoom the page never scrolls sideways as a whole: wide
    tables scroll inside their own card."""
    page = reach(open_as, site, state, lang, screen)
    found = page.evaluate(WIDER_THAN_THE_SCREEN)
    assert found["scroll"] <= found["width"], f"{state} ({lang}, {screen}): {found}"
    broken = page.evaluate(NAMES_BROKEN)
    assert not broken, f"{state} ({lang}, {screen}): names broken over lines: {broken}"


SMALL_TARGETS = """(least) => {
  const small = [];
  const seen = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  const sentence = 'p, .help, .field-help, .subtitle, .formula, .flash, .timeline-body';
  const inline = (el) => el.tagName === 'A' && el.closest(sentence);
  const targets = 'a[href], button, input:not([type=hidden]), select, textarea, summary, ' +
    '[tabindex="0"]';
  for (const el of document.querySelectorAll(targets)) {
    if (!seen(el) || el.closest('.sr-only')) continue;
    let r = el.getBoundingClientRect();
    if (el.matches('.rating input')) continue;  // drawn by its label, which is the target
    const label = el.matches('input[type=checkbox], input[type=radio]') && el.closest('label');
    if (label) r = label.getBoundingClientRect();
    if (inline(el) && !el.matches('.btn')) continue;
    if (r.height < least || r.width < least) {
      small.push(`${__a11y.name(el)} ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
  }
  return small;
}"""


@pytest.mark.parametrize("screen", ["desktop", "phone"])
@pytest.mark.parametrize("state", STATES)
def test_targets_are_large_enough(open_as: OpenAs, site: Site, state: str, screen: str) -> None:
    """Every link, button and control is at least 24 × 24 CSS px (WCAG 2.5.8), links in a
    sentence aside; on a touch screen buttons, fields and the menu are 44 px high."""
    page = reach(open_as, site, state, "zh", screen)
    small = page.evaluate(SMALL_TARGETS, 24)
    assert not small, f"{state} ({screen}): {small}"
    if screen == "phone":
        assert page.evaluate("matchMedia('(pointer: coarse)').matches")
        low = page.evaluate(
            """() => [...document.querySelectorAll('.btn, .nav a, select, input:not(' +
                '[type=hidden], [type=checkbox], [type=radio], [type=file])')]
              .filter(el => el.getBoundingClientRect().height > 0 && !el.closest('.rating'))
              .filter(el => el.getBoundingClientRect().height < 44)
              .map(el => `${__a11y.name(el)} ${Math.round(el.getBoundingClientRect().height)}`)"""
        )
        assert not low, f"{state} ({screen}): {low}"


KPI_STATES = ["plan-employee", "monitor-checkins", "assess-self", "manager-review", "feedback",
              "field-errors"]  # fmt: skip
KPI_TABLE_CUT = """() => [...document.querySelectorAll('.kpi-table')].flatMap((table) => {
  const wrap = table.closest('.table-wrap').getBoundingClientRect();
  const card = table.closest('.card, .form-section').getBoundingClientRect();
  const right = Math.min(wrap.right, card.right);
  return [...table.querySelectorAll('th, td')]
    .filter((cell) => cell.getBoundingClientRect().right > right + 0.5)
    .map((cell) => `${__a11y.name(cell)}: ${cell.getBoundingClientRect().right - right}px`);
})"""


@pytest.mark.parametrize("width", [768, 1024, 1280, 1440])
@pytest.mark.parametrize("state", KPI_STATES)
def test_the_kpi_table_fits_its_card(open_as: OpenAs, site: Site, state: str, width: int) -> None:
    """On a tablet and at 1280 px and wider no cell of a KPI table reaches past its card."""
    page = reach(open_as, site, state, "en")
    page.set_viewport_size({"width": width, "height": 900})
    assert page.locator(".kpi-table").count()
    cut = page.evaluate(KPI_TABLE_CUT)
    assert not cut, f"{state} at {width}px: {cut}"


FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  // a rating's radio is drawn by the box after it
  const drawn = el.matches('.rating input') ? el.nextElementSibling : el;
  const style = getComputedStyle(drawn);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  const ring = style.boxShadow !== 'none';
  const r = drawn.getBoundingClientRect();
  const header = document.querySelector('.app-header');
  const below = header ? header.getBoundingClientRect().bottom : 0;
  return {
    tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('name') || '',
    cls: el.className || '', label: el.getAttribute('aria-label') || '',
    type: el.getAttribute('type') || '', value: el.value || '',
    text: (el.textContent || '').trim().slice(0, 30),
    trigger: el.dataset.trigger || '',
    visible: outline || ring,
    inHeader: !!(header && header.contains(el)) || el.matches('.skip-link'),
    top: r.top, bottom: r.bottom, below, height: innerHeight,
  };
}"""


def _walk_step(page: Page, trigger: str, take: bool) -> list[str]:
    """Tab through the page from the top, filling each empty required control on the way,
    until the step button; every stop must show its focus clear of the sticky header."""
    problems: list[str] = []
    for _stop in range(200):
        page.keyboard.press("Tab")
        at = page.evaluate(FOCUS)
        if at is None:
            continue
        where = f"{at['tag']}#{at['id']}.{at['cls']}[{at['name'] or at['label']}]"
        if not at["visible"]:
            problems.append(f"{where}: no visible focus")
        # clear of the header; a region taller than the room below it (a long table on a
        # phone) cannot be, and must not be hidden entirely (WCAG 2.4.11)
        fits = at["bottom"] - at["top"] <= at["height"] - at["below"]
        hidden = at["top"] < at["below"] - 1 if fits else at["bottom"] < at["below"] + 24
        if not at["inHeader"] and (hidden or at["top"] > at["height"]):
            problems.append(f"{where}: at {at['top']:.0f}px, the header ends at {at['below']:.0f}")
        if at["trigger"] == trigger:
            if take:
                with page.expect_navigation():
                    page.keyboard.press("Enter")
            return problems
        empty_required = page.evaluate(
            "() => { const el = document.activeElement; return el.required && !el.value; }"
        )
        if at["tag"] == "textarea" and empty_required:
            page.keyboard.type("本季度按计划完成各项指标，良品率稳定在目标以上，持续改进。")
        elif at["tag"] == "input" and at["type"] == "number" and empty_required:
            page.keyboard.type("90")
        elif at["type"] == "radio" and page.evaluate(
            "() => { const el = document.activeElement; return el.required && "
            "!document.querySelector(`input[name='${el.name}']:checked`); }"
        ):
            page.keyboard.press("Space")
            for _i in range(3):
                page.keyboard.press("ArrowRight")
        elif at["tag"] == "select" and empty_required:
            page.keyboard.press("ArrowDown")
    problems.append(f"never reached the step {trigger}")
    return problems


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_a_step_taken_with_the_keyboard_alone(open_as: OpenAs, site: Site, screen: str) -> None:
    """An employee logs in, opens their self-assessment from the home page, fills it in and
    submits it with Tab, Shift+Tab, Space, Enter and the arrow keys only; the focus is always
    visible and never under the sticky header. (On the phone the walk stops at the step
    button, so that the other tests still find that appraisal in its self-assessment.)"""
    who = {"desktop": "c106", "phone": "p101"}[screen]
    appraisal_id = site.ids[who]
    page = open_as(None, "en", screen)
    page.goto("/login")
    for _stop in range(10):
        if page.evaluate("document.activeElement.id") == "login":
            break
        page.keyboard.press("Tab")
    page.keyboard.type(who)
    page.keyboard.press("Tab")
    page.keyboard.type(demo.PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # home: the first stop is the skip link, which moves the focus past the menu
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _stop in range(100):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == (
            f"/appraisals/{appraisal_id}"
        ):
            break
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(f"/appraisals/{appraisal_id}")
    problems = _walk_step(page, "submit_self", take=screen == "desktop")
    assert not problems, problems
    if screen == "desktop":
        expect(page.locator(".flash-success")).to_be_visible()
        with site.app.app_context():
            assert db.session.get(Appraisal, appraisal_id).state == "assess.manager"


def test_a_refused_step_opens_at_the_first_field_to_correct(open_as: OpenAs, site: Site) -> None:
    """The plan's step clicked with required fields empty: the page comes back with the focus
    in the first of them, each marked invalid and described by its message, and the message
    above the page names them."""
    page = reach(open_as, site, "field-errors", "en")
    focused = page.evaluate("document.activeElement.id")
    invalid = page.locator('[aria-invalid="true"]')
    assert invalid.count() >= 1
    assert focused == invalid.first.get_attribute("id")
    box = page.locator(f"#{focused}").bounding_box()
    header = page.locator(".app-header").bounding_box()
    assert box is not None
    assert header is not None
    assert box["y"] >= header["y"] + header["height"]
    for i in range(invalid.count()):
        control = invalid.nth(i)
        described = (control.get_attribute("aria-describedby") or "").split()
        said = " ".join(page.locator(f"#{ident}").inner_text() for ident in described)
        assert page.locator(f"#{described[0]}").get_attribute("class") == "field-error", said
        assert control.get_attribute("required") is not None or control.get_attribute("type")
    label = page.locator(f'label[for="{focused}"]').inner_text()
    expect(page.locator(".flash-error")).to_contain_text(label)


def test_the_live_total_speaks_from_a_region_that_stays(open_as: OpenAs, site: Site) -> None:
    """Typing an actual updates the total inside an aria-live region that is not itself
    replaced, so screen readers hear the new total; the step card's region stays too."""
    page = open_as("s103", "en")
    page.goto(f"/appraisals/{site.ids['s103']}")
    region = page.locator('.kpi[aria-live="polite"]:has(#total-score)')
    expect(region).to_have_count(1)
    page.evaluate(
        """() => { window.__regions = [document.querySelector('.kpi[aria-live]:has(#total-score)'),
          document.getElementById('actions-live')]; }"""
    )
    before = page.locator("#total-score").inner_text()
    page.locator("#kpis-customer_satisfaction-actual").fill("96")
    expect(page.locator("#total-score")).not_to_have_text(before)
    assert page.evaluate(
        """() => window.__regions[0] === document.querySelector('.kpi[aria-live]:has(#total-score)')
          && window.__regions[1] === document.getElementById('actions-live')
          && window.__regions[1].getAttribute('aria-live') === 'polite'"""
    )


def test_chinese_in_the_english_page_is_marked(open_as: OpenAs, site: Site) -> None:
    """A unit written only in Chinese (件/人·时) is read as Chinese in the English page."""
    page = reach(open_as, site, "monitor-checkins", "en")
    marked = page.locator('.kpi-table [lang="zh-CN"]')
    assert "件/人·时" in marked.all_inner_texts()
    chinese = reach(open_as, site, "monitor-checkins", "zh")
    expect(chinese.locator('.kpi-table [lang="zh-CN"]')).to_have_count(0)
