"""Small helpers the blueprints share: current definitions, locale, labels, rendering."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from babel import Locale
from flask import Flask, abort, current_app, g, render_template, request, session, url_for
from flask_babel import get_locale, get_timezone, get_translations
from flask_babel import gettext as _
from flask_login import current_user
from jinja2 import pass_context
from jinja2_fragments.flask import render_block
from markupsafe import Markup

from opsperf.definitions import statetree
from opsperf.definitions.loader import DefinitionSet
from opsperf.definitions.registry import Registry
from opsperf.definitions.schema import Text
from opsperf.engine.text import printable
from opsperf.errors import N_
from opsperf.persistence.models import User
from opsperf.services.logins import Limits

F = TypeVar("F", bound=Callable[..., Any])
LANGUAGES = {"zh": "中文", "en": "English"}
_LOCALES = {code: Locale.parse(code) for code in LANGUAGES}


def registry() -> Registry:
    return cast(Registry, current_app.extensions["opsperf.registry"])


def defs() -> DefinitionSet:
    """The live definitions (the last good set)."""
    return registry().current


def user() -> User:
    return cast(User, current_user._get_current_object())


def select_locale() -> Locale:
    """The reader's language: their choice in this session, their setting, else the browser's."""
    chosen = session.get("lang")
    if chosen not in LANGUAGES:
        chosen = None
        if current_user and current_user.is_authenticated and current_user.language in LANGUAGES:
            chosen = current_user.language
    code = chosen or request.accept_languages.best_match(list(LANGUAGES)) or "zh"
    return _LOCALES[code]  # parsed once: Babel's parsing costs more than many a page's work


@dataclass(frozen=True)
class Message:
    """A stored message template and its parameters (translated when shown)."""

    template: str
    params: dict[str, Any]


def error_text(exc: object) -> str:
    """A domain error's message in the reader's language: anything with a ``template`` and
    ``params``, as attributes or (when stored as JSON) as keys."""
    if isinstance(exc, Mapping):
        exc = Message(str(exc.get("template", "")), dict(exc.get("params") or {}))
    template = getattr(exc, "template", "")
    if not template:
        return _sentence(str(exc))
    params = {
        key: label(value) if isinstance(value, Text) else value
        for key, value in getattr(exc, "params", {}).items()
    }
    return _sentence(str(_(template, **params)))


def _sentence(text: str) -> str:
    """Messages are written in lower case to fit inside others; alone, they start a sentence."""
    return text[:1].upper() + text[1:]


def lang() -> str:
    """The reader's language, ``zh`` or ``en``: worked out once per request."""
    if not g:
        return "zh"
    found: str | None = g.get("_opsperf_lang")
    if found is None:
        found = g._opsperf_lang = str(get_locale() or "zh")[:2]
    return found


def label(text: Text | str | None, fallback: str = "", language: str | None = None) -> str:
    """A YAML label in ``language`` (default: the reader's)."""
    if text is None:
        return fallback
    if isinstance(text, str):
        return text
    return text.get(language or lang())


@pass_context
def _label_filter(context: Any, text: Text | str | None, fallback: str = "") -> str:
    """``|label`` in templates: the language comes with the template's context."""
    if text is None:
        return fallback
    if isinstance(text, str):
        return text
    return text.get(context.get("_lang") or lang())


HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def marked(text: str, language: str) -> Markup:
    """``text`` for the inside of an element: Chinese text in a page of another language
    (a unit such as 万元, a YAML label given only in Chinese) is marked ``lang="zh-CN"``, so
    that screen readers read it in Chinese and browsers pick a Chinese font."""
    if language != "zh" and HAN.search(text):
        return Markup('<span lang="zh-CN">%s</span>') % text
    return Markup("%s") % text


@pass_context
def _zh_filter(context: Any, text: str | None) -> Markup:
    """``|zh`` in templates: see :func:`marked` (after ``|label`` for a YAML label)."""
    return marked("" if text is None else str(text), context.get("_lang") or lang())


class Texts:
    """The message catalog of one request, looked up once (templates translate a lot)."""

    def __init__(self) -> None:
        self.translations = get_translations()

    def gettext(self, string: str, /, **variables: Any) -> str:
        text: str = self.translations.ugettext(string)
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, count: int, /, **variables: Any) -> str:
        variables.setdefault("num", count)
        text: str = self.translations.ungettext(singular, plural, count)
        return text % variables

    def pgettext(self, context: str, string: str, /, **variables: Any) -> str:
        text: str = self.translations.upgettext(context, string)
        return text % variables if variables else text


def texts() -> Texts:
    """This request's catalog (outside a request: none, so messages stay in English)."""
    if not g:
        return Texts()
    found: Texts | None = g.get("_opsperf_texts")
    if found is None:
        found = g._opsperf_texts = Texts()
    return found


def state_label(path: str, workflow: Any, language: str | None = None) -> str:
    """``assess.manager`` → 绩效评估 · 上级评价 (the labels of the state and its parents)."""
    parts = []
    language = language or lang()
    for ancestor in statetree.ancestors(path):
        state = workflow.states.get(ancestor) if hasattr(workflow, "states") else None
        name = ancestor.rsplit(".", 1)[-1]
        parts.append(label(state.label, name, language) if state is not None else name)
    return " · ".join(parts)


def roles_required(*roles: str) -> Callable[[F], F]:
    """Refuse with 403 unless the user holds one of these global roles."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not any(user().has_role(r) for r in roles):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def render(template: str, block: str | None = None, **context: Any) -> str:
    """The full page, or — for an HTMX request naming ``block`` — just that block."""
    if block is not None and getattr(request, "htmx", False):
        return encodable(str(render_block(template, block, **context)))
    return encodable(render_template(template, **context))


def encodable(html: str) -> str:
    """The page as UTF-8 can carry it. Text is checked on the way in, but rows stored before
    that may hold a lone surrogate: shown as U+FFFD rather than failing the whole page."""
    try:
        html.encode("utf-8")
    except UnicodeEncodeError:
        return printable(html)
    return html


def fmt_number(value: Any, digits: int = 2) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int | float):
        text = f"{value:,.{digits}f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    return str(value)


def plain(value: Any) -> Any:
    """A number as typed in an input: 125.0 → 125."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def fmt_when(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # stored in UTC
            value = value.replace(tzinfo=dt.UTC)
        return str(value.astimezone(_zone()).strftime("%Y-%m-%d %H:%M"))
    if isinstance(value, dt.date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    return str(value)


def _zone() -> dt.tzinfo:
    """The reader's time zone (the configured one), looked up once per request."""
    if not g:
        return dt.UTC
    found: dt.tzinfo | None = g.get("_opsperf_zone")
    if found is None:
        found = g._opsperf_zone = get_timezone()
    return found


def login_limits() -> Limits:
    config = current_app.config
    return Limits(
        per_account=int(config["LOGIN_MAX_FAILURES"]),
        per_address=int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
        window=int(config["LOGIN_WINDOW"]),
    )


MAX_ID = 2**31 - 1  # the largest record id: PostgreSQL's INTEGER


def safe_next(target: str | None, default: str | None = None) -> str:
    """``target`` when it is a path on this site (never another host, however it is spelled:
    URL parsing drops tabs and newlines first), else ``default`` or the home page."""
    if target and target.startswith("/") and not urlsplit(target).netloc:
        return target
    return default or url_for("home.index")


def int_arg(name: str, default: int, low: int = 1, high: int = 10**9) -> int:
    """A whole-number query argument, within bounds; anything else gives ``default``."""
    raw = request.args.get(name, "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        return default
    return max(low, min(int(raw), high))


def form_int(name: str) -> int | None:
    """A whole number a form posted (a version, a record id): ASCII digits only (not "²", not
    5,000 of them); None when missing or malformed, for the service to refuse."""
    raw = request.form.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None


def text_arg(name: str, limit: int = 100, source: Any = None) -> str:
    """A text query argument (a search, a filter), trimmed, without control characters;
    from ``source`` (e.g. ``request.form``) instead of the query when given."""
    raw = (request.args if source is None else source).get(name, "")[: limit * 2]
    return "".join(c for c in raw if c >= " " and c != "\x7f").strip()[:limit]


def url_keeping(endpoint: str, **values: Any) -> str:
    """``endpoint`` with this page's query arguments kept and ``values`` set (None drops one).
    url_for's own names (``endpoint``, ``_external``…) are never passed on from the query."""
    args: dict[str, Any] = {
        key: found
        for key, found in request.args.to_dict(flat=False).items()
        if not key.startswith("_") and key != "endpoint" and key not in values
    }
    args.update({key: value for key, value in values.items() if value is not None})
    return str(url_for(endpoint, **args))


def url_with(**changes: Any) -> str:
    """This page's URL with some query arguments changed (None removes one)."""
    view_args = request.view_args or {}
    # Keys url_for would read as its own options (_anchor, _external…) are never passed on.
    args: dict[str, Any] = {
        key: values
        for key, values in request.args.to_dict(flat=False).items()
        if not key.startswith("_") and key != "endpoint" and key not in view_args
    }
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    return str(url_for(request.endpoint or "home.index", **view_args, **args))


JOB_STATUS = {
    "queued": N_("Waiting to start"),
    "running": N_("Running"),
    "retrying": N_("Trying again"),
    "done": N_("Finished"),
    "failed": N_("Failed"),
}


def job_status(status: str) -> str:
    return str(_(JOB_STATUS.get(status, status)))


def job_error(job: Any) -> str:
    """Why a job failed, in the reader's language."""
    result = job.result or {}
    if isinstance(result.get("template"), str):
        return error_text(result)
    error = job.error or "?"
    return str(_("The work stopped because of an unexpected error: %(error)s", error=error))


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        label=_label_filter,
        zh=_zh_filter,
        num=fmt_number,
        plain=plain,
        when=fmt_when,
        state_label=state_label,
    )
    vendor = Path(app.static_folder or "") / "vendor"
    htmx_file = next((p.name for p in sorted(vendor.glob("htmx-*.min.js"))), "htmx.min.js")
    app.jinja_env.globals.update(
        LANGUAGES=LANGUAGES,
        lang=lang,
        label=label,
        htmx_file=htmx_file,
        url_with=url_with,
        url_keeping=url_keeping,
        job_status=job_status,
        job_error=job_error,
    )

    @app.before_request
    def _refresh_definitions() -> None:
        registry().refresh()

    @app.context_processor
    def _inject() -> dict[str, Any]:
        catalog = texts()
        return {
            "definition_problems": registry().failed,
            "_": catalog.gettext,
            "gettext": catalog.gettext,
            "ngettext": catalog.ngettext,
            "pgettext": catalog.pgettext,
            "_lang": lang(),
            "Markup": Markup,
        }
