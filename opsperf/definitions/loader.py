"""Definition files → validated definition objects, with every problem placed at file:line:col."""

from __future__ import annotations

import hashlib
import json
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from opsperf.definitions.schema import (
    KINDS,
    Department,
    Form,
    IncentivePolicy,
    Workflow,
)
from opsperf.definitions.yamlio import Document, KeyPath, format_key_path, read_documents
from opsperf.errors import DefinitionError, Diagnostic, NotFound, Severity

SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 2_000_000
Definition = Department | Form | Workflow | IncentivePolicy


@dataclass(frozen=True)
class Located:
    """A definition with the document it came from and its content hash."""

    definition: Definition
    document: Document
    content_hash: str

    @property
    def kind(self) -> str:
        return type(self.definition).__name__

    def at(
        self, key_path: KeyPath, severity: Severity, message: str, *, key: bool = False
    ) -> Diagnostic:
        """A diagnostic placed at ``key_path`` inside this definition's document."""
        doc = self.document
        line, col = doc.key_position(key_path) if key else doc.position(key_path)
        return Diagnostic(doc.path, line, col, severity, message, format_key_path(key_path))


@dataclass
class DefinitionSet:
    """Every definition loaded from the roots, by kind and id."""

    departments: dict[str, Department] = field(default_factory=dict)
    forms: dict[str, Form] = field(default_factory=dict)
    workflows: dict[str, Workflow] = field(default_factory=dict)
    policies: dict[str, IncentivePolicy] = field(default_factory=dict)
    located: dict[tuple[str, str], Located] = field(default_factory=dict)

    def table(self, kind: str) -> dict[str, Any]:
        tables: dict[str, dict[str, Any]] = {
            "Department": self.departments,
            "Form": self.forms,
            "Workflow": self.workflows,
            "IncentivePolicy": self.policies,
        }
        return tables[kind]

    def add(self, item: Located) -> None:
        self.table(item.kind)[item.definition.id] = item.definition
        self.located[(item.kind, item.definition.id)] = item

    def get(self, kind: str, ident: str) -> Any:
        """The definition of ``kind`` with id ``ident``; raise :class:`NotFound`."""
        try:
            return self.table(kind)[ident]
        except KeyError:
            raise NotFound(f"no {kind} with id '{ident}'") from None

    def source(self, kind: str, ident: str) -> Located:
        return self.located[(kind, ident)]

    def __len__(self) -> int:
        return len(self.located)


@dataclass
class LoadResult:
    definitions: DefinitionSet
    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def find_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Every YAML file under ``paths`` (files are taken as given), sorted."""
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            problems.append(Diagnostic(str(path), 1, 1, "error", "no such file or folder"))
    return sorted(set(found)), problems


def load(paths: Iterable[str | Path]) -> LoadResult:
    """Load, validate and check every definition under ``paths``; never raises for bad input."""
    from opsperf.definitions.checks import check

    files, diagnostics = find_files(paths)
    definitions = DefinitionSet()
    for path in files:
        for item in _load_file(path, diagnostics):
            _register(definitions, item, diagnostics)
    diagnostics.extend(check(definitions))
    return LoadResult(definitions, sorted(set(diagnostics)))


def load_or_raise(paths: Iterable[str | Path]) -> DefinitionSet:
    """Like :func:`load`, but raise :class:`DefinitionError` when anything is wrong."""
    result = load(paths)
    if not result.ok:
        raise DefinitionError(result.diagnostics)
    return result.definitions


def _read_text(path: Path, problems: list[Diagnostic]) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(
                Diagnostic(str(path), 1, 1, "error", f"file is larger than {MAX_FILE_BYTES} bytes")
            )
            return None
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Diagnostic(str(path), 1, 1, "error", f"not UTF-8 text ({exc.reason}); save as UTF-8")
        )
    except OSError as exc:
        problems.append(Diagnostic(str(path), 1, 1, "error", f"cannot read: {exc.strerror}"))
    return None


def _load_file(path: Path, problems: list[Diagnostic]) -> list[Located]:
    text = _read_text(path, problems)
    if text is None:
        return []
    documents, found = read_documents(str(path), text)
    problems.extend(found)
    return [item for doc in documents if (item := validate_document(doc, problems))]


def validate_document(doc: Document, problems: list[Diagnostic]) -> Located | None:
    """Validate one document against the model its ``kind`` names."""
    data = doc.data
    line, col = doc.start
    if not isinstance(data, dict):
        problems.append(
            Diagnostic(doc.path, line, col, "error", "a definition must be a mapping with `kind:`")
        )
        return None
    kind = data.get("kind")
    if kind not in KINDS:
        problems.append(_kind_problem(doc, kind))
        return None
    model = KINDS[kind]
    try:
        definition = model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_diagnostic(doc, model, err) for err in exc.errors())
        return None
    dumped = json.dumps(definition.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(dumped.encode()).hexdigest()[:16]
    return Located(definition, doc, digest)


def _register(definitions: DefinitionSet, item: Located, problems: list[Diagnostic]) -> None:
    key = (item.kind, item.definition.id)
    if key in definitions.located:
        first = definitions.located[key].document
        problems.append(
            item.at(
                ("id",),
                "error",
                f"{item.kind} id '{item.definition.id}' is already defined at "
                f"{first.path}:{first.position(('id',))[0]}; ids must be unique",
            )
        )
        return
    definitions.add(item)


def _kind_problem(doc: Document, kind: Any) -> Diagnostic:
    known = ", ".join(KINDS)
    if kind is None:
        line, col = doc.start
        return Diagnostic(doc.path, line, col, "error", f"missing `kind:` (one of {known})")
    close = get_close_matches(str(kind), list(KINDS), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f" (one of {known})"
    line, col = doc.position(("kind",))
    return Diagnostic(doc.path, line, col, "error", f"unknown kind '{kind}'{hint}", "kind")


# --------------------------------------------------------------------------- pydantic → text


def _diagnostic(doc: Document, model: type[BaseModel], err: ErrorDetails) -> Diagnostic:
    loc = tuple(err["loc"])
    key_path = _data_path(doc.data, loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _allowed_keys(model, loc[:-1])
        message = f"unknown key '{name}'{_did_you_mean(name, allowed)}"
        line, col = doc.key_position(key_path)
    elif kind == "missing":
        message = f"missing required key '{loc[-1]}'"
        line, col = doc.position(key_path[:-1]) if key_path else doc.start
    else:
        if kind == "union_tag_invalid" and isinstance(doc_value(doc.data, key_path), dict):
            key_path = (*key_path, str(err.get("ctx", {}).get("discriminator", "")).strip("'"))
        message = _message(err, key_path)
        line, col = doc.position(key_path)
    return Diagnostic(doc.path, line, col, "error", message, format_key_path(key_path))


def doc_value(data: Any, key_path: KeyPath) -> Any:
    """The value at ``key_path`` inside plain data, or None."""
    for part in key_path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _data_path(data: Any, loc: Sequence[int | str]) -> KeyPath:
    """Drop the union tags pydantic puts in ``loc``, keeping only real keys and indexes."""
    path: list[str | int] = []
    current = data
    for i, part in enumerate(loc):
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            path.append(part)
            current = current[part]
        elif i == len(loc) - 1 and isinstance(current, dict):
            path.append(part)
    return tuple(path)


def _message(err: ErrorDetails, key_path: KeyPath) -> str:
    kind = err["type"]
    ctx = err.get("ctx", {})
    value = err.get("input")
    if kind == "union_tag_invalid":
        return (
            f"'{ctx.get('tag')}' is not a valid {ctx.get('discriminator', '').strip(chr(39))}; "
            f"use one of: {ctx.get('expected_tags')}"
        )
    if kind == "union_tag_not_found":
        name = str(ctx.get("discriminator", "")).strip("'")
        return f"missing required key '{name}'"
    if kind == "string_pattern_mismatch" and "a-z0-9_" in str(ctx.get("pattern")):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", str(value).lower()).strip("_")
        return (
            f"'{value}' is not a valid id: use lower-case letters, digits and '_', "
            f"starting with a letter (e.g. '{suggestion or 'sales'}')"
        )
    if kind == "expression":
        return str(err["msg"])
    if kind == "string_type" and isinstance(value, bool):
        word = "true/false (yes, no, on, off read as booleans in YAML)"
        return f"this reads as {word}; put the text in quotes, e.g. 'yes'"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "literal_error":
        return f"'{value}' is not allowed here; use {ctx.get('expected')}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys, got {_shown(value)}"
    if kind == "list_type":
        return f"expected a list, got {_shown(value)}"
    text = str(err["msg"])
    text = text.replace("Input should be", "should be").replace("Value should have", "needs")
    return f"{text}, got {_shown(value)}" if not isinstance(value, dict | list) else text


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _did_you_mean(name: str, allowed: list[str]) -> str:
    if not allowed:
        return ""
    close = get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; allowed here: {', '.join(sorted(allowed))}"


def _allowed_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys the model at ``loc`` accepts, walking field annotations and union tags."""
    current: Any = model
    for part in loc:
        current = _step(_unwrap(current), part)
        if current is None:
            return []
    target = _unwrap(current)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return list(target.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _step(current: Any, part: int | str) -> Any:
    origin = typing.get_origin(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        info = current.model_fields.get(str(part))
        return info.annotation if info else None
    if origin in (Union, types.UnionType):
        members = [_unwrap(m) for m in typing.get_args(current) if m is not type(None)]
        for member in members:
            if _has_tag(member, part):
                return member
        return _step(members[0], part) if len(members) == 1 else None
    if origin is list and isinstance(part, int):
        return typing.get_args(current)[0]
    if origin is dict:
        return typing.get_args(current)[1]
    return None


def _has_tag(member: Any, tag: int | str) -> bool:
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return False
    for name in ("type", "method"):
        info = member.model_fields.get(name)
        if info is not None and tag in typing.get_args(info.annotation):
            return True
    return False
