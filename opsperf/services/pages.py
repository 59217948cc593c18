"""Pagination and search helpers shared by every list: the database does the work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement

T = TypeVar("T")
MAX_PER_PAGE = 200
COUNT_CAP = 1000  # long lists count this far ("1,000+"), then ask to be filtered
MAX_SEARCH = 100  # characters of a search term that are used


@dataclass
class Page(Generic[T]):
    """One page of a list: its items and where it stands in the whole."""

    number: int
    per_page: int
    total: int  # exact, or (when not ``exact``) at least this many
    items: list[T] = field(default_factory=list)
    exact: bool = True
    more: bool | None = None  # whether a next page exists, when it was looked at directly

    @classmethod
    def of(cls, number: int, per_page: int, total: int) -> Page[T]:
        """Page ``number`` of ``total`` items, clamped to pages that exist."""
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        pages = max(1, -(-total // per_page))
        return cls(max(1, min(number, pages)), per_page, total)

    @property
    def pages(self) -> int:
        """How many pages there are (when not exact: as far as is known)."""
        counted = max(1, -(-self.total // self.per_page))
        return counted if self.exact else max(counted, self.number + bool(self.more))

    @property
    def has_next(self) -> bool:
        return bool(self.more) if self.more is not None else self.number < self.pages

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def first(self) -> int:
        """The position of the first item shown (1-based; 0 when empty)."""
        return self.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.items) if self.items else min(self.offset, self.total)


def like(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` contains ``text`` (case-insensitive; ``%`` and ``_`` match themselves)."""
    term = text.strip()[:MAX_SEARCH]
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return result
