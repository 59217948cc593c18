"""Check-ins: a KPI's actuals recorded period by period, and the one actual they add up to.

A period is named by a key: ``2026-10`` (a month), ``2026-W42`` (an ISO week), ``2026-Q4``
(a quarter). :func:`period_key` reads what people and spreadsheets write for one
(``2026/10``, ``2026年10月``, ``202610``, a date inside it, ``2026 Q4``…) and gives the key;
:func:`periods` lists a cycle's keys in order. :func:`aggregate` turns a series into the
actual the KPI is scored on.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

# No "2026.10" for a month: a spreadsheet shows it as 2026.1, which would read as January.
_MONTH = re.compile(r"^\s*(\d{4})\s*(?:[-/年]\s*|(?=\d{2}\s*$))(\d{1,2})\s*月?\s*$")
_WEEK = re.compile(r"^\s*(\d{4})\s*(?:年\s*)?-?\s*(?:W|w|第)\s*(\d{1,2})\s*周?\s*$")
_QUARTER = re.compile(r"^\s*(\d{4})\s*(?:年\s*)?[-/ ]?\s*(?:Q|q|第)\s*([1-4])\s*(?:季度?)?\s*$")
_DATE = re.compile(
    r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\s*$"
)


@dataclass(frozen=True)
class Period:
    key: str
    start: dt.date
    end: dt.date  # the last day, inclusive


def _month(year: int, month: int) -> Period:
    start = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return Period(f"{year:04d}-{month:02d}", start, following - dt.timedelta(days=1))


def _week(year: int, week: int) -> Period:
    start = dt.date.fromisocalendar(year, week, 1)
    return Period(f"{year:04d}-W{week:02d}", start, start + dt.timedelta(days=6))


def _quarter(year: int, quarter: int) -> Period:
    first = _month(year, 3 * quarter - 2)
    last = _month(year, 3 * quarter)
    return Period(f"{year:04d}-Q{quarter}", first.start, last.end)


def containing(kind: str, day: dt.date) -> Period:
    """The period of ``kind`` that ``day`` falls in."""
    if kind == "week":
        year, week, _ = day.isocalendar()
        return _week(year, week)
    if kind == "quarter":
        return _quarter(day.year, (day.month - 1) // 3 + 1)
    return _month(day.year, day.month)


def period_key(kind: str, written: object) -> Period | None:
    """The period of ``kind`` that ``written`` names (a key, a common spelling of one, or a
    date inside it); None when it names none."""
    try:
        return _period_key(kind, written)
    except (ValueError, OverflowError):  # a day, week or year that does not exist
        return None


def _period_key(kind: str, written: object) -> Period | None:
    if isinstance(written, dt.datetime):
        written = written.date()
    if isinstance(written, dt.date):
        return containing(kind, written)
    if not isinstance(written, str | int) or isinstance(written, bool):
        return None
    text = str(written).strip()
    if len(text) > 40:
        return None
    if found := _DATE.match(text):
        year, month, day = (int(g) for g in found.groups())
        return containing(kind, dt.date(year, month, day))
    if kind == "month" and (found := _MONTH.match(text)):
        year, month = int(found[1]), int(found[2])
        return _month(year, month) if 1 <= month <= 12 and year >= 1 else None
    if kind == "week" and (found := _WEEK.match(text)):
        return _week(int(found[1]), int(found[2]))
    if kind == "quarter" and (found := _QUARTER.match(text)):
        return _quarter(int(found[1]), int(found[2]))
    return None


def periods(kind: str, start: dt.date, end: dt.date) -> list[Period]:
    """The periods of ``kind`` that belong to ``start``–``end`` (:func:`belongs`), in order."""
    out: list[Period] = []
    if end < start:
        return out
    current = containing(kind, start)
    while current.start <= end:
        if belongs(current, start, end):
            out.append(current)
        current = containing(kind, current.end + dt.timedelta(days=1))
    return out


def belongs(period: Period, start: dt.date, end: dt.date) -> bool:
    """Whether a period is one of the cycle ``start``–``end``: a month or quarter that
    overlaps it; a week whose Thursday falls in it (as ISO years hold weeks), so that a week
    across two cycles is counted in one of them, never both."""
    if period.key[4:6] == "-W":
        thursday = period.start + dt.timedelta(days=3)
        return start <= thursday <= end
    return period.start <= end and period.end >= start


def aggregate(rule: str, series: Sequence[tuple[str, float]]) -> float | None:
    """The actual a series of (period key, value) comes to under ``rule``; None when empty.

    ``last`` is the value of the latest period (keys of one kind sort in time order).
    """
    values = [v for _, v in sorted(series) if v is not None and math.isfinite(v)]
    if not values:
        return None
    if rule == "sum":
        result = math.fsum(values)
    elif rule == "average":
        result = math.fsum(values) / len(values)
    elif rule == "max":
        result = max(values)
    elif rule == "min":
        result = min(values)
    else:
        result = values[-1]
    return round(result, 4)


_NUMBER = re.compile(r"^[+-]?(?=\.?\d)(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")


def parse_number(written: object) -> float | None:
    """A value as a number: ``1234.5``, ``1,234.5``, ``95%`` (95); None when it is none (an
    empty cell, a dash, text, or a number no KPI has)."""
    if isinstance(written, bool):
        return None
    try:
        if isinstance(written, int | float):
            number = float(written)
        else:
            text = str(written).strip().replace("，", ",").removesuffix("%").strip()
            if not text or len(text) > 40 or not _NUMBER.match(text):
                return None
            number = float(text.replace(",", ""))
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(number) or abs(number) > 1e15:
        return None
    return number
