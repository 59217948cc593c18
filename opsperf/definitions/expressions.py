"""The one expression language of opsperf: a small, safe subset of Python.

Expressions appear in computed fields, ``visible_if`` / ``required_if`` / ``readonly_if``,
form rules, transition guards, custom KPI scoring and incentive formulas. Each is parsed once
when definitions load (syntax errors are load errors), checked against the names its context
offers, and evaluated by ``simpleeval`` over plain values only: numbers, strings, booleans,
``None``, lists and dicts. Attribute access reads dict keys (``kpis.revenue.actual``); no
method, dunder or import is reachable, and powers, repetitions and comprehensions are bounded.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import operator
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from functools import lru_cache
from typing import Any

import simpleeval
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from opsperf.errors import ExpressionError

MAX_SOURCE = 2000
MAX_SIZE = 10_000  # longest string or list an expression may build
MAX_EXPONENT = 100
MAX_MAGNITUDE = 1e18
MAX_DIGITS = 18  # round(x, n): |n| at most this
MAX_NESTING = 100  # levels of the syntax tree; real expressions use a handful

ANY: Mapping[str, Any] = {}  # a scope whose members are not known in advance


def _avg(values: Iterable[float]) -> float | None:
    items = [v for v in values if v is not None]
    return sum(items) / len(items) if items else None


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _days_between(start: Any, end: Any) -> int:
    return (_as_date(end) - _as_date(start)).days


def _round(value: float, digits: int = 0) -> float:
    if not isinstance(digits, int) or isinstance(digits, bool) or abs(digits) > MAX_DIGITS:
        raise ExpressionError(
            f"round() takes a whole number of digits from -{MAX_DIGITS} to {MAX_DIGITS}"
        )
    return round(value, digits)


def _brackets(table: Any) -> list[tuple[float | None, float]]:
    """``[[upper, rate], …, [None, rate]]``: upper bounds rising, the last one open."""
    if not isinstance(table, list | tuple) or not table:
        raise ExpressionError("a tier table is a list of [upper bound, value] pairs")
    out: list[tuple[float | None, float]] = []
    for number, pair in enumerate(table):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ExpressionError("a tier table is a list of [upper bound, value] pairs")
        upper, value = pair
        last = number == len(table) - 1
        if upper is None and not last:
            raise ExpressionError("only the last tier may be open (None as its upper bound)")
        if out and upper is not None and out[-1][0] is not None and upper <= out[-1][0]:
            raise ExpressionError("tier upper bounds must rise")
        out.append((upper, value))
    return out


def _tier(x: float, table: Any) -> float:
    """The value of the tier ``x`` falls in (the first whose upper bound ≥ x)."""
    brackets = _brackets(table)
    for upper, value in brackets:
        if upper is None or x <= upper:
            return value
    return brackets[-1][1]  # above every closed tier: the last one


def _tiers(x: float, table: Any) -> float:
    """Progressive (累进) tiers: each part of ``x`` at its own tier's rate, summed —
    ``tiers(1.8, [[1.0, 0.03], [1.5, 0.05], [None, 0.08]])`` = 1.0×0.03 + 0.5×0.05 + 0.3×0.08."""
    total, lower = 0.0, 0.0
    for upper, rate in _brackets(table):
        top = x if upper is None else min(x, upper)
        if top > lower:
            total += (top - lower) * rate
        if upper is None or x <= upper:
            break
        lower = upper
    return total


def _groups(rows: Any, key: str, value: str | None = None) -> dict[Any, list[Any]]:
    """Rows (dicts) by the value of ``key``, in order of first appearance; with ``value``,
    each group's non-empty values of that column."""
    if not isinstance(rows, list | tuple):
        raise ExpressionError("grouping reads the rows of a table")
    out: dict[Any, list[Any]] = {}
    for row in rows:
        if not isinstance(row, Mapping) or row.get(key) in (None, ""):
            continue
        found = out.setdefault(row[key], [])
        if value is None:
            found.append(row)
        elif row.get(value) is not None:
            found.append(row[value])
    return out


def _sum_by(rows: Any, key: str, value: str) -> list[float]:
    """Each group's sum of ``value``: ``sum_by(key_results, 'objective', 'weight')``."""
    return [sum(values) for values in _groups(rows, key, value).values()]


def _avg_by(rows: Any, key: str, value: str) -> list[float | None]:
    """Each group's average of ``value`` (None for a group with none yet)."""
    return [_avg(values) for values in _groups(rows, key, value).values()]


def _count_by(rows: Any, key: str) -> list[int]:
    """How many rows each group has."""
    return [len(found) for found in _groups(rows, key).values()]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "sum": sum,
    "abs": abs,
    "len": len,
    "round": _round,
    "avg": _avg,
    "clamp": _clamp,
    "coalesce": _coalesce,
    "days_between": _days_between,
    "today": dt.date.today,
    "floor": math.floor,
    "ceil": math.ceil,
    "tier": _tier,
    "tiers": _tiers,
    "sum_by": _sum_by,
    "avg_by": _avg_by,
    "count_by": _count_by,
}
CONSTANTS = {"True": True, "False": False, "None": None, "null": None}
PLAIN_CONSTANTS = (bool, int, float, str, type(None))  # no bytes, complex (1j) or ...


def _size(value: Any, budget: int = MAX_SIZE) -> int:
    """Logical size of a value, counted no further than ``budget``.

    A string counts its characters; a list, tuple or dict counts 1 per item plus the size of
    the strings and containers inside it (dict keys too); anything else counts 1.
    """
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, list | tuple | dict):
        return 1
    total = len(value)
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    for item in items:
        if total > budget:
            break
        if isinstance(item, str | list | tuple | dict):
            total += _size(item, budget - total)
    return total


def _too_long() -> ExpressionError:
    return ExpressionError(f"result is too long (over {MAX_SIZE} items)")


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and _size(value) > MAX_SIZE:
        raise _too_long()
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            return value
        if abs(value) > MAX_MAGNITUDE:
            raise ExpressionError("number is too large")
    return value


def _bounded(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        return _check_size(op(a, b))

    return apply


def _repeat(a: Any, b: Any) -> Any:
    """``*``, refusing a repetition (``'a' * n``, ``[0] * n``) before it is built too long."""
    for seq, count in ((a, b), (b, a)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            if count * _size(seq) > MAX_SIZE:
                raise _too_long()
    return _check_size(a * b)


# one printf-style conversion: %%, or % with an optional (key), flags, width and .precision
_CONVERSION = re.compile(r"%%|%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _modulo(a: Any, b: Any) -> Any:
    """``%``: remainder, or printf-style formatting with a bounded width and precision."""
    if isinstance(a, str):
        for width, precision in _CONVERSION.findall(a):
            if "*" in (width, precision):
                raise ExpressionError(
                    "'*' widths are not supported in % formatting; write a number"
                )
            if int(width or 0) > MAX_SIZE or int(precision or 0) > MAX_SIZE:
                raise _too_long()
    return _check_size(a % b)


def _power(a: Any, b: Any) -> Any:
    if abs(b) > MAX_EXPONENT:
        raise ExpressionError(f"exponent {b} is too large (at most {MAX_EXPONENT})")
    result = a**b
    if isinstance(result, complex):
        raise ExpressionError(f"{a} ** {b} is not a real number")
    return _check_size(result)


OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: _bounded(operator.add),
    ast.Sub: _bounded(operator.sub),
    ast.Mult: _repeat,
    ast.Div: _bounded(operator.truediv),
    ast.FloorDiv: _bounded(operator.floordiv),
    ast.Mod: _modulo,
    ast.Pow: _power,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Gt: operator.gt,
    ast.Lt: operator.lt,
    ast.GtE: operator.ge,
    ast.LtE: operator.le,
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: a is b,
    ast.IsNot: lambda a, b: a is not b,
}

ALLOWED_NODES: tuple[type, ...] = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.UnaryOp,
    ast.BinOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.ListComp,
    ast.GeneratorExp,
    ast.comprehension,
    ast.And,
    ast.Or,
    *OPERATORS,
)


_LOCAL = threading.local()


def _evaluator() -> _Evaluator:
    """One evaluator per thread, made once: making one costs more than most evaluations."""
    evaluator: _Evaluator | None = getattr(_LOCAL, "evaluator", None)
    if evaluator is None:
        # a copy: simpleeval adds list, tuple, dict and set to the functions it is handed
        evaluator = _LOCAL.evaluator = _Evaluator(
            operators=OPERATORS, functions=dict(FUNCTIONS), names={}
        )
    return evaluator


class _Evaluator(simpleeval.EvalWithCompoundTypes):  # type: ignore[misc]
    """simpleeval with dict-only attribute access and calls to whitelisted functions only."""

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        base = self._eval(node.value)
        if isinstance(base, Mapping) and node.attr in base:
            return base[node.attr]
        if isinstance(base, Mapping):
            raise ExpressionError(f"'{node.attr}' is not known here")
        raise ExpressionError(f"cannot read '.{node.attr}' of a {type(base).__name__}")

    def _eval_list(self, node: ast.List) -> Any:
        return _check_size(super()._eval_list(node))

    def _eval_tuple(self, node: ast.Tuple) -> Any:
        return _check_size(super()._eval_tuple(node))

    def _eval_comprehension(self, node: ast.ListComp | ast.GeneratorExp) -> list[Any]:
        """Like simpleeval's, but the result is bounded while it is built, not once built."""
        result: list[Any] = []
        scope: dict[str, Any] = {}
        outer = self.nodes[ast.Name]
        self.nodes[ast.Name] = lambda name: scope[name.id] if name.id in scope else outer(name)
        try:
            self._generate(node, 0, scope, result, [0])
        finally:
            self.nodes[ast.Name] = outer
        return result

    def _generate(
        self,
        node: ast.ListComp | ast.GeneratorExp,
        index: int,
        scope: dict[str, Any],
        result: list[Any],
        size: list[int],
    ) -> None:
        generator = node.generators[index]
        for value in self._eval(generator.iter):
            self._max_count += 1
            if self._max_count > simpleeval.MAX_COMPREHENSION_LENGTH:
                raise ExpressionError("a comprehension runs over too many items")
            _bind(generator.target, value, scope)
            if not all(self._eval(condition) for condition in generator.ifs):
                continue
            if index + 1 < len(node.generators):
                self._generate(node, index + 1, scope, result, size)
                continue
            item = self._eval(node.elt)
            size[0] += max(1, _size(item))
            if size[0] > MAX_SIZE:
                raise _too_long()
            result.append(item)

    def _eval_call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise ExpressionError("only the built-in functions may be called")
        return _check_size(super()._eval_call(node))


def _bind(target: ast.expr, value: Any, scope: dict[str, Any]) -> None:
    """Assign a comprehension's loop value to its target (``x``, or ``(a, b)``)."""
    if isinstance(target, ast.Name):
        scope[target.id] = value
    elif isinstance(target, ast.Tuple | ast.List):
        for part, item in zip(target.elts, value, strict=True):
            _bind(part, item, scope)
    else:
        raise ExpressionError("a comprehension loops over plain names only")


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its source text and syntax tree."""

    source: str
    tree: ast.expr = field(compare=False, hash=False, repr=False)

    def __str__(self) -> str:
        return self.source

    def names(self) -> list[tuple[str, ...]]:
        """The free names the expression reads, as dotted chains (``kpis.revenue.actual``)."""
        return list(_names(self))

    def check(self, scope: Mapping[str, Any]) -> list[str]:
        """Problems with the names this expression reads, given what ``scope`` offers, and
        any part that reads no name at all and still cannot be worked out (``1/0``)."""
        problems = []
        for chain in self.names():
            problem = _check_chain(chain, scope)
            if problem:
                problems.append(problem)
        failing = _failing_constant_part(self.tree)
        if failing:
            problems.append(failing)
        return problems

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        """Evaluate over plain values; any failure becomes an :class:`ExpressionError`."""
        evaluator = _evaluator()
        evaluator.names = {**names, **CONSTANTS}
        try:
            return _check_size(evaluator.eval(self.source, previously_parsed=self.tree))
        except ExpressionError:
            raise
        except simpleeval.NameNotDefined as exc:
            raise ExpressionError(f"'{exc.name}' has no value in `{self.source}`") from exc
        except (simpleeval.InvalidExpression, ArithmeticError, TypeError, ValueError) as exc:
            raise ExpressionError(f"cannot evaluate `{self.source}`: {_reason(exc)}") from exc
        except (KeyError, IndexError, RecursionError, MemoryError) as exc:
            raise ExpressionError(f"cannot evaluate `{self.source}`: {_reason(exc)}") from exc
        finally:
            evaluator.names = {}  # the values are the caller's: do not keep them alive

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            _parse_for_pydantic,
            core_schema.union_schema(
                [core_schema.str_schema(), core_schema.int_schema(), core_schema.bool_schema()]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "description": "An expression (Python syntax subset), e.g. `rating <= 2`",
        }


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, RecursionError):
        return "expression nests too deeply"
    return text.splitlines()[0][:200]


def parse(source: str) -> Expression:
    """Parse and vet an expression; raise :class:`ExpressionError` with the reason."""
    return _parse(source.strip())


@lru_cache(maxsize=8192)
def _parse(text: str) -> Expression:
    """Parsing is pure, and definition packs repeat their expressions: parse each text once."""
    if not text:
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_SOURCE:
        raise ExpressionError(f"the expression is longer than {MAX_SOURCE} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        # A YAML block (`>-`) keeps the line breaks of more-indented lines; an expression is
        # one expression, so a break between its words means a space.
        joined = " ".join(line.strip() for line in text.splitlines()).strip()
        if joined != text:
            try:
                return _parse(joined)
            except ExpressionError:
                pass
        line = f"line {exc.lineno}, " if exc.lineno and "\n" in text else ""
        where = f" at {line}column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"syntax error{where}: {exc.msg}") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"cannot parse: {_reason(exc)}") from exc
    _vet_tree(tree)
    return Expression(text, tree.body)


@lru_cache(maxsize=8192)
def _failing_constant_part(tree: ast.expr) -> str | None:
    """The first part of the expression that reads no value (only literals and functions)
    and fails with the same bounded evaluator the app uses: ``1/0``, ``9**9**9``,
    ``'a' * 10**9``. Such a part fails every time, whatever the form holds."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.expr) and _is_constant(node):
            if isinstance(node, ast.Constant | ast.Name):
                continue
            part = Expression(ast.unparse(node), node)
            try:
                part.evaluate({})
            except ExpressionError as exc:
                reason = str(exc).removeprefix(f"cannot evaluate `{part.source}`: ")
                return f"`{part.source}` can never be worked out: {reason}"
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return None


def _is_constant(node: ast.AST) -> bool:
    """Whether ``node`` reads no value: its names are only True/False/None and the functions
    it calls."""
    called = {
        id(n.func)
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id not in CONSTANTS and id(n) not in called:
            return False
        if isinstance(n, ast.Attribute | ast.comprehension | ast.Lambda):
            return False
    return True


def _names(expression: Expression) -> tuple[tuple[str, ...], ...]:
    return tuple(sorted(set(_free_names(expression.tree, frozenset()))))


def _vet_tree(tree: ast.AST) -> None:
    """Vet every node and bound the nesting, in one walk without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ExpressionError(f"the expression nests more than {MAX_NESTING} levels deep")
        _vet(node)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _vet(node: ast.AST) -> None:
    if not isinstance(node, ALLOWED_NODES):
        raise ExpressionError(f"{_describe(node)} is not allowed in expressions")
    if isinstance(node, ast.Constant) and not isinstance(node.value, PLAIN_CONSTANTS):
        raise ExpressionError(
            f"{type(node.value).__name__} values are not allowed; "
            "use numbers, quoted text, True, False or None"
        )
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        raise ExpressionError(f"'.{node.attr}': names starting with '_' are not allowed")
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        raise ExpressionError(f"'{node.id}': names starting with '_' are not allowed")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ExpressionError("methods cannot be called; use the built-in functions")
        if node.func.id not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExpressionError(f"unknown function '{node.func.id}'; known: {known}")
        if node.keywords:
            raise ExpressionError("keyword arguments are not supported")


def _describe(node: ast.AST) -> str:
    names = {
        ast.Lambda: "lambda",
        ast.NamedExpr: "':='",
        ast.Starred: "'*' unpacking",
        ast.JoinedStr: "an f-string",
        ast.Set: "a set literal",
        ast.SetComp: "a set comprehension",
        ast.DictComp: "a dict comprehension",
        ast.Await: "await",
        ast.Yield: "yield",
    }
    return names.get(type(node), f"'{type(node).__name__}'")


def _parse_for_pydantic(value: str | int | bool) -> Expression:
    try:
        return parse(str(value))
    except ExpressionError as exc:
        reason = {"reason": str(exc)}
        raise PydanticCustomError("expression", "invalid expression: {reason}", reason) from None


def _chain(node: ast.expr) -> tuple[str, ...] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return (node.id, *reversed(parts))
    return None


def _free_names(node: ast.AST, bound: frozenset[str]) -> Iterable[tuple[str, ...]]:
    if isinstance(node, ast.Attribute | ast.Name):
        chain = _chain(node)
        if chain is not None:
            if chain[0] not in bound and chain[0] not in CONSTANTS:
                yield chain
            return
    if isinstance(node, ast.ListComp | ast.GeneratorExp):
        inner = set(bound)
        for gen in node.generators:
            yield from _free_names(gen.iter, frozenset(inner))
            inner.update(n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name))
            for cond in gen.ifs:
                yield from _free_names(cond, frozenset(inner))
        yield from _free_names(node.elt, frozenset(inner))
        return
    if isinstance(node, ast.Call):
        for arg in node.args:
            yield from _free_names(arg, bound)
        return
    for child in ast.iter_child_nodes(node):
        yield from _free_names(child, bound)


def _check_chain(chain: tuple[str, ...], scope: Mapping[str, Any]) -> str | None:
    current: Any = scope
    for depth, part in enumerate(chain):
        if current is ANY:
            return None
        if not isinstance(current, Mapping):
            parent = ".".join(chain[:depth])
            return f"'{parent}' is a single value; it has no '.{part}'"
        if part not in current:
            where = ".".join(chain[:depth])
            return _unknown(part, where, current)
        current = current[part]
    return None


def _unknown(part: str, where: str, options: Mapping[str, Any]) -> str:
    close = get_close_matches(part, list(options), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    if not where:
        return f"unknown name '{part}'{hint}"
    return f"'{where}' has no '{part}'{hint}"
