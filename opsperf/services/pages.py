"""Pagination and search helpers shared by every list: the database does the work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement

T = TypeVar("T")
MAX_PER_PAGE = 200
MAX_SEARCH = 100  # characters of a search term that are used


@dataclass
class Page(Generic[T]):
    """One page of a list: its items and where it stands in the whole."""

    number: int
    per_page: int
    total: int
    items: list[T] = field(default_factory=list)

    @classmethod
    def of(cls, number: int, per_page: int, total: int) -> Page[T]:
        """Page ``number`` of ``total`` items, clamped to pages that exist."""
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        pages = max(1, -(-total // per_page))
        return cls(max(1, min(number, pages)), per_page, total)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def first(self) -> int:
        """The position of the first item shown (1-based; 0 when empty)."""
        return self.offset + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.offset + self.per_page, self.total)


def like(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` contains ``text`` (case-insensitive; ``%`` and ``_`` match themselves)."""
    term = text.strip()[:MAX_SEARCH]
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    result: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape="\\")
    return result
