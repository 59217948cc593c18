"""A formula as a person reads it: names by their labels, × and ÷ for ``*`` and ``/``, and
the functions people know (round, coalesce, clamp) said in words.

``readable(expression, name, words)`` writes the formula with each name by its label
(``KPI 指标得分 × 0.8 + 上级评分（未填时按 3）× 4，保留 1 位小数``); ``readable(expression, name,
words, values)`` writes the same with the values that were used, a guard or a default that
did not apply left out (``99.21 × 0.8 + 4 × 4``). The words come from the caller, in the
reader's language. Anything that does not parse comes back as None: show the raw text then.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Words:
    """Templates for what a formula says in words, in the reader's language (``%(value)s``…)."""

    if_empty: str  # coalesce(value, default)
    rounded: str  # round(value, places)
    between: str  # clamp(value, low, high)
    when: str  # then if test else other
    and_: str
    or_: str
    not_: str
    empty: str  # None


# Binding strength, weakest first: a part is put in brackets when it binds less than its place.
_STRENGTH: dict[type[ast.AST], int] = {
    ast.IfExp: 0,
    ast.BoolOp: 1,
    ast.UnaryOp: 3,
    ast.Compare: 4,
    ast.BinOp: 5,
    ast.Call: 9,
    ast.Constant: 9,
    ast.Name: 9,
    ast.Attribute: 9,
}
_OPERATORS: dict[type[ast.operator], tuple[str, int]] = {
    ast.Add: ("+", 5),
    ast.Sub: ("−", 5),
    ast.Mult: ("×", 6),
    ast.Div: ("÷", 6),
    ast.FloorDiv: ("÷", 6),
    ast.Mod: ("mod", 6),
    ast.Pow: ("^", 8),
}
_COMPARISONS: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.LtE: "≤",
    ast.Gt: ">",
    ast.GtE: "≥",
    ast.Eq: "=",
    ast.NotEq: "≠",
    ast.In: "∈",
    ast.NotIn: "∉",
    ast.Is: "=",
    ast.IsNot: "≠",
}
_MISSING = object()


def number(value: Any) -> str:
    """A number as a formula shows it: whole numbers without ``.0``, at most 4 places."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def readable(
    expression: str,
    name: Callable[[str], str],
    words: Words,
    values: Mapping[str, Any] | None = None,
) -> str | None:
    """``expression`` in words (module docstring); None when it does not parse."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return None
    writer = _Writer(name, words, values)
    try:
        return writer.write(tree.body)
    except (_Unreadable, RecursionError):
        return None


class _Unreadable(Exception):
    pass


class _Writer:
    def __init__(
        self, name: Callable[[str], str], words: Words, values: Mapping[str, Any] | None
    ) -> None:
        self.name = name
        self.words = words
        self.values = values

    def write(self, node: ast.AST, place: int = 0) -> str:
        text, strength = self._node(node)
        return f"({text})" if strength < place else text

    def _node(self, node: ast.AST) -> tuple[str, int]:
        if isinstance(node, ast.Constant):
            return (self.words.empty if node.value is None else number(node.value)), 9
        if isinstance(node, ast.Name | ast.Attribute):
            path = _path(node)
            if self.values is None:
                return self.name(path), 9
            value = self.values.get(path, _MISSING)
            if value is _MISSING:
                return self.name(path), 9
            return (self.words.empty if value is None else number(value)), 9
        if isinstance(node, ast.BinOp):
            symbol, strength = _OPERATORS.get(type(node.op), ("?", 5))
            left = self.write(node.left, strength)
            right = self.write(node.right, strength + 1)  # a − (b − c) keeps its brackets
            return f"{left} {symbol} {right}", strength
        if isinstance(node, ast.UnaryOp):
            operand = self.write(node.operand, 3)
            if isinstance(node.op, ast.USub):
                return f"−{operand}", 3
            if isinstance(node.op, ast.Not):
                return self.words.not_ % {"value": operand}, 3
            return operand, 3
        if isinstance(node, ast.Compare):
            parts = [self.write(node.left, 5)]
            for op, other in zip(node.ops, node.comparators, strict=True):
                parts += [_COMPARISONS.get(type(op), "?"), self.write(other, 5)]
            return " ".join(parts), 4
        if isinstance(node, ast.BoolOp):
            joiner = self.words.and_ if isinstance(node.op, ast.And) else self.words.or_
            return f" {joiner} ".join(self.write(v, 2) for v in node.values), 1
        if isinstance(node, ast.IfExp):
            return self._if(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self._call(node.func.id, node.args)
        if isinstance(node, ast.List | ast.Tuple):
            return "[" + ", ".join(self.write(e) for e in node.elts) + "]", 9
        raise _Unreadable

    def _if(self, node: ast.IfExp) -> tuple[str, int]:
        # ``x if guard else None``: the guard only says when there is nothing to show yet
        if isinstance(node.orelse, ast.Constant) and node.orelse.value is None:
            return self._node(node.body)
        if self.values is not None:
            chosen = _truth(node.test, self.values)
            if chosen is not None:
                return self._node(node.body if chosen else node.orelse)
        said = self.words.when % {
            "then": self.write(node.body, 1),
            "test": self.write(node.test, 1),
            "other": self.write(node.orelse, 1),
        }
        return said, 0

    def _call(self, function: str, args: list[ast.expr]) -> tuple[str, int]:
        if function == "coalesce" and len(args) >= 2:
            if self.values is not None:  # the value used: the first that is there
                for arg in args:
                    if not isinstance(arg, ast.Name | ast.Attribute):
                        return self._node(arg)
                    if self.values.get(_path(arg)) is not None:
                        return self._node(arg)
                return self._node(args[-1])
            said = self.words.if_empty % {
                "value": self.write(args[0], 9),
                "default": self.write(args[1], 1),
            }
            return said, 9
        if function == "round" and args:
            inner, strength = self._node(args[0])
            if self.values is not None:
                return inner, strength
            places = args[1].value if len(args) > 1 and isinstance(args[1], ast.Constant) else 0
            return self.words.rounded % {"value": inner, "places": places}, 0
        if function == "clamp" and len(args) == 3:
            if self.values is not None:
                return f"clamp({', '.join(self.write(a) for a in args)})", 9
            said = self.words.between % {
                "value": self.write(args[0], 1),
                "low": self.write(args[1], 1),
                "high": self.write(args[2], 1),
            }
            return said, 0
        return f"{function}({', '.join(self.write(a) for a in args)})", 9


def _path(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_path(node.value)}.{node.attr}"
    raise _Unreadable


def _truth(test: ast.AST, values: Mapping[str, Any]) -> bool | None:
    """What a simple test (``x is not None``, ``x is None``) came to, else None."""
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Is | ast.IsNot)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
        and isinstance(test.left, ast.Name | ast.Attribute)
    ):
        missing = values.get(_path(test.left)) is None
        return missing if isinstance(test.ops[0], ast.Is) else not missing
    return None
