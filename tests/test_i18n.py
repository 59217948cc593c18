"""Message catalogs: complete, in step with the code, and used by the pages and the errors."""

from __future__ import annotations

import io
import itertools
import re
import shlex
from collections import Counter
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po, write_po
from babel.support import Translations
from flask import Flask
from flask.testing import FlaskClient

from opsperf.config import PROJECT_ROOT, TRANSLATIONS
from opsperf.persistence.models import User, db
from tests.helpers import appraisal_of, launch

LANGS = ("zh", "en")
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def _keywords() -> dict[str, Any]:
    """The extraction keywords of ``make translations`` (the Makefile is the one source)."""
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^BABEL_KEYWORDS\s*:=\s*((?:.*\\\n)*.*)$", makefile, re.M)
    assert found, "the Makefile defines BABEL_KEYWORDS"
    words = shlex.split(found.group(1).replace("\\\n", " "))
    specs = [word for flag, word in itertools.pairwise(words) if flag == "-k"]
    return {**DEFAULT_KEYWORDS, **parse_keywords(specs)}


def _key(message: Message) -> tuple[str | None, str]:
    msgid = message.id[0] if isinstance(message.id, tuple) else message.id
    return message.context, str(msgid)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Every message in the code and templates, extracted now into a temporary template."""
    with (PROJECT_ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    catalog = Catalog(project="opsperf")
    for path, lineno, message, comments, context in extract_from_dir(
        str(PROJECT_ROOT), method_map, options_map, keywords=_keywords()
    ):
        catalog.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    with pot.open("wb") as out:
        write_po(out, catalog)
    with pot.open("rb") as back:
        return read_po(back)


def _catalog(lang: str) -> Catalog:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=lang)


def _entries(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


def test_extraction_finds_pages_and_domain_errors(extracted: Catalog) -> None:
    ids = {_key(m)[1] for m in _entries(extracted)}
    assert "My tasks" in ids  # a template
    assert "you may not open this appraisal" in ids  # PermissionDenied in a service
    assert "unknown roles: %(roles)s" in ids  # a RowProblem of the people import
    assert "Not allowed" in ids  # an N_() marker
    assert len(ids) > 150


@pytest.mark.parametrize("lang", LANGS)
def test_every_extracted_message_is_in_the_catalog(extracted: Catalog, lang: str) -> None:
    have = {_key(m) for m in _entries(_catalog(lang))}
    missing = sorted(str(k[1]) for m in _entries(extracted) if (k := _key(m)) not in have)
    assert not missing, f"run `make translations` and translate into {lang}: {missing}"


def test_no_message_hides_where_the_extractor_cannot_see_it() -> None:
    """pybabel reads a call inside an f-string as part of the string, so ``f"{_('Weight')}"``
    is never extracted and shows in English on a Chinese page. Every ``_()``/``gettext()``/
    ``N_()`` call with a literal, found by Python's own parser, must be in the catalog."""
    import ast

    have = {_key(m)[1] for m in _entries(_catalog("zh"))}
    hidden = []
    for path in sorted((PROJECT_ROOT / "opsperf").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            first = node.args[0]
            if name in ("_", "gettext", "N_") and isinstance(first, ast.Constant):
                if isinstance(first.value, str) and first.value not in have:
                    hidden.append(f"{path.name}:{node.lineno}: {first.value!r}")
    assert not hidden, hidden


def test_chinese_catalog_is_complete() -> None:
    catalog = _catalog("zh")
    assert not catalog.fuzzy
    fuzzy = [_key(m)[1] for m in _entries(catalog) if m.fuzzy]
    untranslated = [_key(m)[1] for m in _entries(catalog) if not m.string or not all(m.string)]
    assert not fuzzy, f"fuzzy: {fuzzy}"
    assert not untranslated, f"untranslated: {untranslated}"
    chinese = [m for m in _entries(catalog) if re.search(r"[\u4e00-\u9fff]", str(m.string))]
    assert len(chinese) > 0.9 * len(_entries(catalog))  # HR, etc. may stay as they are


@pytest.mark.parametrize("lang", LANGS)
def test_placeholders_survive_translation(lang: str) -> None:
    catalog = _catalog(lang)
    assert catalog.num_plurals == {"zh": 1, "en": 2}[lang]
    wrong = []
    for m in _entries(catalog):
        if isinstance(m.id, tuple):
            forms = list(m.string)
            singular, plural = m.id
            expected = [singular, plural] if catalog.num_plurals == 2 else [plural]
            assert len(forms) == catalog.num_plurals, m.id
        else:
            forms, expected = [m.string], [m.id]
        for form, source in zip(forms, expected, strict=True):
            if form and Counter(PLACEHOLDER.findall(form)) != Counter(PLACEHOLDER.findall(source)):
                wrong.append((source, form))
            if form and m.python_format:
                form % _Anything()  # raises on a stray % or a broken placeholder
    assert not wrong, wrong


@pytest.mark.parametrize("lang", LANGS)
def test_compiled_catalogs_match_the_po_files(lang: str) -> None:
    compiled = Translations.load(str(TRANSLATIONS), [lang])
    assert isinstance(compiled, Translations), "run `pybabel compile -d opsperf/translations`"
    stale = []
    for m in _entries(_catalog(lang)):
        if m.fuzzy or not m.string:
            continue
        if isinstance(m.id, tuple):
            got = compiled.ngettext(m.id[0], m.id[1], 5)
            want = m.string[-1]
        elif m.context:
            got, want = compiled.pgettext(m.context, m.id), m.string
        else:
            got, want = compiled.gettext(m.id), m.string
        if got != want:
            stale.append(m.id)
    assert not stale, f"the .mo file is older than the .po file: {stale}"


class _Anything(dict[str, Any]):
    def __missing__(self, key: str) -> int:
        return 1


# --------------------------------------------------------------------------- pages


def _text(response: Any) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_login_page_is_chinese_by_default(client: FlaskClient) -> None:
    page = client.get("/login")
    text = _text(page)
    assert '<html lang="zh-CN">' in page.get_data(as_text=True)
    for expected in ("登录", "工号或邮箱", "密码", "保持登录", "绩效计划制定"):
        assert expected in text
    assert "Password" not in text


def test_login_page_follows_the_browser_language(client: FlaskClient) -> None:
    english = _text(client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}))
    assert "Employee number or e-mail" in english
    assert "Keep me logged in" in english
    chinese = _text(client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}))
    assert "工号或邮箱" in chinese


@pytest.mark.usefixtures("staff")
def test_home_page_in_chinese(as_user: Any) -> None:
    hr = as_user("hr01")
    for headers in ({}, {"Accept-Language": "zh-CN"}):
        text = _text(hr.get("/", headers=headers))
        for expected in ("我的待办", "考核周期", "发起考核周期", "退出登录", "English"):
            assert expected in text, expected
        assert "My tasks" not in text


@pytest.mark.usefixtures("staff")
def test_language_switch_turns_pages_english_and_is_remembered(as_user: Any) -> None:
    hr = as_user("hr01")
    assert hr.post("/language/en", data={"next": "/"}).status_code == 302
    text = _text(hr.get("/"))
    for expected in ("My tasks", "Review cycles", "Launch a review cycle", "Log out", "中文"):
        assert expected in text, expected
    assert "我的待办" not in text
    # The choice is stored with the person: the next log-in is English too.
    assert "My tasks" in _text(as_user("hr01").get("/"))


@pytest.mark.usefixtures("staff")
def test_a_persons_language_beats_the_browsers(app: Flask, as_user: Any) -> None:
    with app.app_context():
        person = db.session.query(User).filter_by(employee_no="s101").one()
        person.language = "en"
        db.session.commit()
    text = _text(as_user("s101").get("/", headers={"Accept-Language": "zh-CN"}))
    assert "Waiting for you" in text
    assert "待你处理" not in text


@pytest.mark.usefixtures("staff")
def test_kpi_table_names_scoring_methods_in_the_readers_language(as_user: Any) -> None:
    assert launch(as_user("hr01"), ["sales"]).status_code == 302
    me = as_user("s101")
    page = _text(me.get(f"/appraisals/{appraisal_of('s101').id}"))
    assert "越高越好" in page
    assert "实际 ÷ 目标" in page or "分档计分" in page
    assert "· ratio" not in page
    assert "· bands" not in page
    me.post("/language/en")
    page = _text(me.get(f"/appraisals/{appraisal_of('s101').id}"))
    assert "higher is better" in page
    assert "actual ÷ target" in page or "score bands" in page


# --------------------------------------------------------------------------- errors


@pytest.mark.usefixtures("staff")
def test_service_refusal_reads_chinese_for_a_chinese_user(as_user: Any) -> None:
    assert launch(as_user("hr01"), ["sales"]).status_code == 302
    colleague = as_user("s102")  # a peer: may not open s101's appraisal
    url = f"/appraisals/{appraisal_of('s101').id}"
    response = colleague.get(url)
    assert response.status_code == 403
    assert "你无权查看此考核" in _text(response)
    assert "may not open" not in _text(response)
    colleague.post("/language/en")
    assert "You may not open this appraisal" in _text(colleague.get(url))


@pytest.mark.usefixtures("staff")
def test_validation_messages_with_values_read_chinese(as_user: Any) -> None:
    hr = as_user("hr01")
    response = launch(hr, ["sales", "nowhere"])
    assert response.status_code == 422
    assert "未知部门：nowhere" in _text(response)
    response = hr.post(
        "/cycles/new",
        data={
            "name": "Q4",
            "workflow": "quarterly_review",
            "period_start": "2026-12-31",
            "period_end": "2026-10-01",
            "departments": ["sales"],
        },
    )
    assert response.status_code == 422
    assert "考核期间的结束日期早于开始日期" in _text(response)


@pytest.mark.usefixtures("staff")
def test_people_import_problems_read_chinese(as_user: Any) -> None:
    rows = (
        "工号,姓名,邮箱,部门,岗位,上级,角色\n"
        "x001,测试,not-an-address,sales,sales_rep,s100,\n"
        "x002,测试二,,atlantis,,,wizard\n"
    )
    upload = (io.BytesIO(rows.encode("utf-8")), "people.csv")
    hr = as_user("hr01")
    response = hr.post("/admin/people", data={"file": upload}, content_type="multipart/form-data")
    assert response.status_code == 302  # to the page of the import job
    text = _text(hr.get(response.headers["Location"]))
    assert "未导入任何数据" in text
    assert "第 2 行：“not-an-address”不是有效的邮箱地址" in text
    assert "第 3 行：未知部门“atlantis”" in text
    assert "第 3 行：未知角色：wizard" in text


@pytest.mark.usefixtures("staff")
def test_api_errors_follow_the_language_too(as_user: Any) -> None:
    response = as_user("hr01").post("/api/v1/appraisals/1/values", data="x")
    assert response.status_code == 422
    assert response.get_json()["message"] == "请求体须为 application/json 格式"
