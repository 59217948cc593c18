"""Safe YAML reading that keeps the position of every key and value.

PyYAML's ``safe_load`` forgets where values came from and silently keeps the last of two
duplicate keys. Here documents are composed into nodes with ``SafeLoader`` and turned into
plain Python values by a walker that records ``line:column`` for each key path, rejects
duplicate keys, and stops alias bombs by bounding how many nodes a document may expand to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from opsperf.errors import Diagnostic

KeyPath = tuple[str | int, ...]
Position = tuple[int, int]

MAX_NODES = 200_000
MAX_DEPTH = 64
MERGE_TAG = "tag:yaml.org,2002:merge"
NULL_TAG = "tag:yaml.org,2002:null"
STR_TAG = "tag:yaml.org,2002:str"
SCAN_ABOVE = 100_000  # characters: smaller texts cannot hold enough values to matter
MAX_EVENTS = 100_000  # parser events in one file (the largest shipped form has 1,700)
FAST_LOADER: type[Any] | None = getattr(yaml, "CSafeLoader", None)
# PyYAML's constructors raise these, not YAMLError, for values that look typed but cannot be
# built: 2024-02-30, 0b_, !!bool maybe, a 5000-digit number
BUILD_ERRORS = (
    yaml.constructor.ConstructorError,
    ValueError,
    KeyError,
    AttributeError,
    OverflowError,
    TypeError,
)
READS_AS = {"timestamp": "a date", "int": "a number", "float": "a number", "bool": "true/false"}


@dataclass
class Document:
    """One YAML document: plain data plus where each key path sits in the file."""

    path: str
    data: Any
    start: Position
    values: dict[KeyPath, Position] = field(default_factory=dict)
    keys: dict[KeyPath, Position] = field(default_factory=dict)

    def position(self, key_path: KeyPath) -> Position:
        """The nearest known position of ``key_path`` (walking up to its parents)."""
        for end in range(len(key_path), -1, -1):
            prefix = key_path[:end]
            if prefix in self.values:
                return self.values[prefix]
        return self.start

    def key_position(self, key_path: KeyPath) -> Position:
        """Where the key of ``key_path`` is written (its value's position for list items)."""
        return self.keys.get(key_path) or self.position(key_path)


class _Limit(Exception):
    pass


class _Walker:
    """Turns one composed node tree into plain values, recording marks and problems."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.constructor = yaml.constructor.SafeConstructor()
        self.problems: list[Diagnostic] = []
        self.count = 0
        self.open: set[int] = set()

    def problem(self, node: yaml.Node, message: str, key_path: KeyPath) -> None:
        line, col = _pos(node)
        self.problems.append(
            Diagnostic(self.doc.path, line, col, "error", message, format_key_path(key_path))
        )

    def walk(self, node: yaml.Node, key_path: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Limit
        self.doc.values.setdefault(key_path, _pos(node))
        if isinstance(node, yaml.CollectionNode):
            if id(node) in self.open:
                self.problem(node, "an alias refers to itself: remove the *alias", key_path)
                return None
            if len(key_path) > MAX_DEPTH:
                self.problem(node, f"nesting is deeper than {MAX_DEPTH} levels", key_path)
                return None
            self.open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, key_path)
                return [self.walk(item, (*key_path, i)) for i, item in enumerate(node.value)]
            finally:
                self.open.discard(id(node))
        if node.tag == STR_TAG and isinstance(node, yaml.ScalarNode):
            return node.value  # the common case, without the constructor's bookkeeping
        try:
            return self.constructor.construct_object(node, deep=True)
        except BUILD_ERRORS as exc:
            self.constructor.recursive_objects.pop(node, None)  # an alias may build it again
            self.problem(node, _unbuildable(node, exc), key_path)
            return None

    def _mapping(self, node: yaml.MappingNode, key_path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged.append(value_node)
                continue
            key = self._key(key_node, key_path)
            if key is None:
                continue
            line = _pos(key_node)[0]
            if key in first_seen:
                self.problem(
                    key_node,
                    f"duplicate key '{key}' (first written on line {first_seen[key]}); "
                    "YAML would silently keep only the last one: remove or rename one of them",
                    (*key_path, key),
                )
                continue
            first_seen[key] = line
            self.doc.keys.setdefault((*key_path, key), _pos(key_node))
            result[key] = self.walk(value_node, (*key_path, key))
        for source in merged:
            self._merge(source, result, key_path)
        return result

    def _key(self, key_node: yaml.Node, key_path: KeyPath) -> str | None:
        if not isinstance(key_node, yaml.ScalarNode):
            self.problem(key_node, "a key must be a plain word, not a list or mapping", key_path)
            return None
        if key_node.tag == STR_TAG:
            return str(key_node.value)
        try:
            value = self.constructor.construct_object(key_node)
        except BUILD_ERRORS as exc:
            self.problem(key_node, f"key {_unbuildable(key_node, exc)}", key_path)
            return None
        if value is None or isinstance(value, bool):
            self.problem(
                key_node,
                f"key '{key_node.value}' reads as {value!r}; put it in quotes",
                key_path,
            )
            return None
        return str(value)

    def _merge(self, source: yaml.Node, result: dict[str, Any], key_path: KeyPath) -> None:
        sources = source.value if isinstance(source, yaml.SequenceNode) else [source]
        for item in sources:
            if not isinstance(item, yaml.MappingNode):
                self.problem(item, "'<<' merges only mappings (use an alias to one)", key_path)
                continue
            merged = self.walk(item, key_path)  # through walk(): an alias may refer to itself
            for key, value in (merged or {}).items():
                result.setdefault(key, value)


def _unbuildable(node: yaml.Node, exc: Exception) -> str:
    """Why the scalar ``node`` cannot be read, and the fix."""
    if isinstance(exc, yaml.constructor.ConstructorError):
        return f"cannot read this value: {exc.problem}"
    text = str(node.value)
    shown = text if len(text) <= 40 else text[:37] + "..."
    what = READS_AS.get(str(node.tag).rsplit(":", 1)[-1], "a value")
    reason = f" ({str(exc).splitlines()[0][:80]})" if isinstance(exc, ValueError) else ""
    return (
        f"'{shown}' reads as {what} but is not a valid one{reason}; "
        "correct it, or put it in quotes to keep it as text"
    )


def _pos(node: yaml.Node | yaml.Mark) -> Position:
    mark = node.start_mark if isinstance(node, yaml.Node) else node
    return mark.line + 1, mark.column + 1


def format_key_path(key_path: KeyPath) -> str:
    """``('sections', 0, 'id')`` → ``sections[0].id``."""
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _tab_problems(path: str, text: str) -> list[Diagnostic]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            problems.append(
                Diagnostic(
                    path,
                    number,
                    indent.index("\t") + 1,
                    "error",
                    "tab character in indentation; YAML indents with spaces only: "
                    "replace the tab with spaces",
                )
            )
    return problems


def read_documents(path: str, text: str) -> tuple[list[Document], list[Diagnostic]]:
    """Parse every document of a YAML text; return documents and all problems found."""
    problems = _tab_problems(path, text)
    if problems:
        return [], problems
    if len(text) > SCAN_ABOVE and _too_many_events(text):
        message = (
            f"more than {MAX_EVENTS:,} YAML values in one file; a definition is far smaller: "
            "split the file (or remove what it should not hold)"
        )
        return [], [Diagnostic(path, 1, 1, "error", message)]
    documents: list[Document] = []
    try:
        for node in _compose_all(text):
            if node is None or _empty(node):
                continue
            doc = Document(path, None, _pos(node))
            walker = _Walker(doc)
            try:
                doc.data = walker.walk(node, ())
            except _Limit:
                line, col = _pos(node)
                msg = (
                    f"document expands to more than {MAX_NODES} values; "
                    "are anchors and aliases (&name / *name) nested too deeply?"
                )
                problems.append(Diagnostic(path, line, col, "error", msg))
                continue
            problems.extend(walker.problems)
            documents.append(doc)
    except yaml.MarkedYAMLError as exc:
        problems.append(_syntax_problem(path, exc))
    except yaml.YAMLError as exc:  # pragma: no cover - PyYAML marks nearly everything
        problems.append(Diagnostic(path, 1, 1, "error", f"cannot parse YAML: {exc}"))
    except RecursionError:
        problems.append(Diagnostic(path, 1, 1, "error", "YAML nesting is too deep to read"))
    return documents, problems


def _too_many_events(text: str) -> bool:
    """Whether a large text holds more YAML values than any definition needs: counted on the
    parser's event stream, which stops at the limit, so an oversized file costs milliseconds
    instead of seconds of composing nodes and explaining each."""
    try:
        events = yaml.parse(text, Loader=FAST_LOADER or yaml.SafeLoader)
        return any(n > MAX_EVENTS for n, _ in enumerate(events))
    except yaml.YAMLError:
        return False  # composing reports it, with PyYAML's words


def _empty(node: yaml.Node) -> bool:
    """An empty document (``---`` with nothing after it) composes to a null scalar."""
    return isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG and node.value in ("", "~")


def _compose_all(text: str) -> Iterator[yaml.Node | None]:
    """Nodes of every document: libyaml when available; PyYAML's words for any error."""
    if FAST_LOADER is not None:
        try:
            return iter(list(_compose_with(FAST_LOADER, text)))
        except (yaml.YAMLError, ValueError):
            pass  # parse again below, for PyYAML's marks and wording, which the hints know
    return _compose_with(yaml.SafeLoader, text)


def _compose_with(loader_class: type[Any], text: str) -> Iterator[yaml.Node | None]:
    loader = loader_class(text)
    try:
        while loader.check_node():
            yield loader.get_node()
    except ValueError as exc:  # the scanner's, for an escape beyond Unicode ("\U00110000")
        problem = f"an escape in this quoted text names no character ({exc})"
        raise yaml.MarkedYAMLError(problem=problem, problem_mark=loader.get_mark()) from exc
    finally:
        loader.dispose()


_FLOWS = {"while parsing a flow sequence": ("[", "]"), "while parsing a flow mapping": ("{", "}")}


def _syntax_problem(path: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    if exc.context in _FLOWS and exc.context_mark is not None:
        return _unclosed(path, exc.context_mark, *_FLOWS[exc.context])
    mark = exc.problem_mark or exc.context_mark
    line, col = _pos(mark) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    context = f" {exc.context}" if exc.context else ""
    hint = ""
    if "mapping values are not allowed" in problem:
        hint = "; a value containing ': ' needs quotes, or a key is indented wrongly"
    elif "expected <block end>" in problem or "could not find expected ':'" in problem:
        hint = "; check the indentation of this line against the one above"
    return Diagnostic(path, line, col, "error", f"YAML syntax: {problem}{context}{hint}")


def _unclosed(path: str, opened: yaml.Mark, opener: str, closer: str) -> Diagnostic:
    line, col = _pos(opened)
    return Diagnostic(
        path,
        line,
        col,
        "error",
        f"YAML syntax: the '{opener}' opened at line {line} is never closed: "
        f"end it with '{closer}' and separate its items with commas",
    )
