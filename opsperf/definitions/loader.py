"""Definition files → validated definition objects, with every problem placed at file:line:col."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from opsperf.definitions.schema import (
    GRADE_PATTERN,
    KINDS,
    Department,
    Form,
    IncentivePolicy,
    PersonAttribute,
    PersonAttributes,
    Workflow,
)
from opsperf.definitions.yamlio import Document, KeyPath, format_key_path, read_documents
from opsperf.errors import DefinitionError, Diagnostic, NotFound, Severity

SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 2_000_000
Definition = Department | Form | Workflow | IncentivePolicy | PersonAttributes
Part = int | str  # one step of pydantic's error location


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
    person_attributes: dict[str, PersonAttributes] = field(default_factory=dict)
    located: dict[tuple[str, str], Located] = field(default_factory=dict)
    invalid: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """The raw data of definitions that failed validation, by (kind, id)."""

    def table(self, kind: str) -> dict[str, Any]:
        tables: dict[str, dict[str, Any]] = {
            "Department": self.departments,
            "Form": self.forms,
            "Workflow": self.workflows,
            "IncentivePolicy": self.policies,
            "PersonAttributes": self.person_attributes,
        }
        return tables[kind]

    def attributes(self) -> dict[str, PersonAttribute]:
        """Every declared person attribute by id (the first, if one is declared twice)."""
        out: dict[str, PersonAttribute] = {}
        for ident in sorted(self.person_attributes):
            for attribute in self.person_attributes[ident].attributes:
                out.setdefault(attribute.id, attribute)
        return out

    def add(self, item: Located) -> None:
        self.table(item.kind)[item.definition.id] = item.definition
        self.located[(item.kind, item.definition.id)] = item

    def note_invalid(self, data: Any) -> None:
        """Remember a definition that failed validation, when its kind and id are readable.

        It exists even though it is broken, so references to it are not reported as unknown.
        """
        if isinstance(data, dict):
            kind, ident = data.get("kind"), data.get("id")
            if isinstance(kind, str) and kind in KINDS and isinstance(ident, str):
                self.invalid.setdefault((kind, ident), data)

    def has(self, kind: str, ident: str) -> bool:
        """Whether a definition ``kind`` ``ident`` was written, valid or not."""
        return ident in self.table(kind) or (kind, ident) in self.invalid

    def get(self, kind: str, ident: str) -> Any:
        """The definition of ``kind`` with id ``ident``; raise :class:`NotFound`."""
        try:
            return self.table(kind)[ident]
        except KeyError:
            raise NotFound("no %(kind)s with id '%(id)s'", kind=kind, id=ident) from None

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
            inside = path.resolve()
            for p in sorted(path.rglob("*")):
                if p.suffix not in SUFFIXES or not p.is_file():
                    continue
                if p.resolve().is_relative_to(inside):
                    found.append(p)
                else:  # a link out of the folder: it could read any file the app can
                    message = f"a link to {p.resolve()}, outside {path}: not read"
                    problems.append(Diagnostic(str(p), 1, 1, "error", message))
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
        found: list[Diagnostic] = []
        documents = _read_file(path, found)
        unread = _unread(path, documents, found)
        for kind, ident in unread:  # they exist, broken: references to them are not "unknown"
            definitions.note_invalid({"kind": kind, "id": ident})
        if unread:
            found = [_unchecked(d, unread) if d.severity == "error" else d for d in found]
        diagnostics.extend(found)
        for doc in documents:
            item = validate_document(doc, diagnostics)
            if item is None:
                definitions.note_invalid(doc.data)
            else:
                _register(definitions, item, diagnostics)
    diagnostics.extend(check(definitions))
    return LoadResult(definitions, sorted(set(diagnostics)))


_KIND_LINE = re.compile(r"^kind:[ \t]*['\"]?(\w+)", re.M)
_ID_LINE = re.compile(r"^id:[ \t]*['\"]?([a-z][a-z0-9_]*)", re.M)


def _unread(
    path: Path, documents: list[Document], problems: list[Diagnostic]
) -> list[tuple[str, str]]:
    """Kind and id of each definition a file holds but that could not be read (a YAML error
    stops the whole file), guessed from its top-level ``kind:`` and ``id:`` lines."""
    if not any(d.severity == "error" for d in problems):
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    read = {(d.data.get("kind"), d.data.get("id")) for d in documents if isinstance(d.data, dict)}
    out = []
    for part in re.split(r"^---", text, flags=re.M):
        kind, ident = _KIND_LINE.search(part), _ID_LINE.search(part)
        if kind and ident and kind.group(1) in KINDS:
            if (kind.group(1), ident.group(1)) not in read:
                out.append((kind.group(1), ident.group(1)))
    return out


def _unchecked(problem: Diagnostic, names: list[tuple[str, str]]) -> Diagnostic:
    shown = ", ".join(f"{kind} '{ident}'" for kind, ident in names[:5])
    them = "them" if len(names) > 1 else "it"
    note = f"; so {shown} could not be read, and references to {them} were not checked"
    return dataclasses.replace(problem, message=problem.message + note)


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


def _read_file(path: Path, problems: list[Diagnostic]) -> list[Document]:
    text = _read_text(path, problems)
    if text is None:
        return []
    documents, found = read_documents(str(path), text)
    problems.extend(found)
    return documents


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
    if not isinstance(kind, str) or kind not in KINDS:
        problems.append(_kind_problem(doc, kind))
        return None
    model = KINDS[kind]
    try:
        definition = model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_diagnostics(doc, model, exc))
        return None
    # The hash covers what was written (not comments or layout); it names a snapshot.
    dumped = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
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
    line, col = doc.position(("kind",))
    if not isinstance(kind, str):
        message = f"kind must be one of {known}, written as a plain word; got {_shown(kind)}"
        return Diagnostic(doc.path, line, col, "error", message, "kind")
    close = get_close_matches(kind, list(KINDS), n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f" (one of {known})"
    return Diagnostic(doc.path, line, col, "error", f"unknown kind '{kind}'{hint}", "kind")


# --------------------------------------------------------------------------- pydantic → text


MAX_PROBLEMS_PER_DOCUMENT = 100  # past this, the rest are counted, not worded


def _diagnostics(doc: Document, model: type[BaseModel], exc: ValidationError) -> list[Diagnostic]:
    errors = exc.errors(include_url=False)
    out: list[Diagnostic] = []
    for number, err in enumerate(errors):
        if len(out) == MAX_PROBLEMS_PER_DOCUMENT:
            line, col = doc.start
            more = len(errors) - number
            message = f"and up to {more} more problems in this definition; fix these first"
            out.append(Diagnostic(doc.path, line, col, "error", message))
            break
        if not _explained(err, errors) and not _wrong_member(model, err, errors):
            out.append(_diagnostic(doc, model, err))
    return out


def _explained(err: ErrorDetails, errors: Sequence[ErrorDetails]) -> bool:
    """A missing key is explained by a misspelt unknown key beside it (``wieght``/``weight``)."""
    if err["type"] != "missing":
        return False
    loc = tuple(err["loc"])
    beside = [
        str(other["loc"][-1])
        for other in errors
        if other["type"] == "extra_forbidden" and tuple(other["loc"][:-1]) == loc[:-1]
    ]
    return bool(get_close_matches(str(loc[-1]), beside, n=1, cutoff=0.6))


def _wrong_member(model: type[BaseModel], err: ErrorDetails, errors: list[ErrorDetails]) -> bool:
    """Whether ``err`` is a type mismatch with a union member another member got further in.

    For ``source: [monitor, 3]`` (``str | list[str]``) only the ``3`` is wrong, not the list.
    """
    loc = tuple(err["loc"])
    if not (loc and err["type"].endswith("_type") and list(_walk_loc(model, loc))[-1][1]):
        return False
    union = loc[:-1]
    return any(
        tuple(other["loc"][: len(union)]) == union
        and len(other["loc"]) > len(loc)
        and other["loc"][len(union)] != loc[-1]
        for other in errors
    )


def _diagnostic(doc: Document, model: type[BaseModel], err: ErrorDetails) -> Diagnostic:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        key_path, annotation = _resolve(model, doc.data, loc[:-1])
        key_path = (*key_path, str(loc[-1]))
        name = str(loc[-1])
        message = f"unknown key '{name}'{_did_you_mean(name, _keys_of(annotation))}"
        line, col = doc.key_position(key_path)
    elif kind == "missing":
        key_path = (*_resolve(model, doc.data, loc[:-1])[0], str(loc[-1]))
        message = f"missing required key '{loc[-1]}'"
        line, col = doc.position(key_path[:-1])
    else:
        key_path = _resolve(model, doc.data, loc)[0]
        if kind == "union_tag_invalid" and isinstance(doc_value(doc.data, key_path), dict):
            key_path = (*key_path, _discriminator(err))
        message = _message(err)
        at_key = loc[-1:] == ("[key]",)
        line, col = doc.key_position(key_path) if at_key else doc.position(key_path)
    return Diagnostic(doc.path, line, col, "error", message, format_key_path(key_path))


def doc_value(data: Any, key_path: KeyPath) -> Any:
    """The value at ``key_path`` inside plain data, or None."""
    for part in key_path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _resolve(model: type[BaseModel], data: Any, loc: Sequence[int | str]) -> tuple[KeyPath, Any]:
    """The data key path of pydantic's ``loc``, and the annotation found there.

    ``loc`` mixes data keys with the union tags pydantic adds (``rating``, ``bands``, ``str``).
    The model's annotations are walked alongside, so a tag is recognised where a union stands
    even when it equals a real key. A part the data lacks is kept only at the end (the place
    of an unknown or missing key). The annotation is None where the walk lost track.
    """
    path: list[str | int] = []
    current = data
    steps = list(_walk_loc(model, loc))
    for i, (part, is_tag, _) in enumerate(steps):
        if is_tag:
            continue
        if _has(current, part):
            path.append(part)
            current = current[part]
        elif i == len(loc) - 1 and isinstance(current, dict):
            path.append(part)
    return tuple(path), steps[-1][2] if steps else model


def _walk_loc(model: type[BaseModel], loc: Sequence[int | str]) -> Iterator[tuple[Part, bool, Any]]:
    """Each part of ``loc``, whether it is a union tag, and the annotation it leads to."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        members = _union_members(annotation)
        annotation = _member(members, part) if members else _step(annotation, part)
        yield part, bool(members), annotation


def _has(data: Any, part: int | str) -> bool:
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``| None``: neither adds a part to pydantic's ``loc``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [m for m in typing.get_args(annotation) if m is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _union_members(annotation: Any) -> list[Any]:
    """The members of a union of two or more types, whose errors pydantic tags; else []."""
    if typing.get_origin(annotation) not in (Union, types.UnionType):
        return []
    return [_unwrap(m) for m in typing.get_args(annotation) if m is not type(None)]


def _member(members: list[Any], tag: int | str) -> Any:
    """The union member that pydantic's ``tag`` names (a discriminator value or type name)."""
    for member in members:
        if _has_tag(member, tag) or _label(member) == tag:
            return member
    return None


def _label(member: Any) -> str:
    return member.__name__ if isinstance(member, type) else repr(member)


def _has_tag(member: Any, tag: int | str) -> bool:
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return False
    for name in ("type", "method"):
        info = member.model_fields.get(name)
        if info is not None and tag in typing.get_args(info.annotation):
            return True
    return False


def _step(annotation: Any, part: int | str) -> Any:
    """The annotation one key or index below ``annotation``, or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        info = annotation.model_fields.get(str(part))
        return info.annotation if info else None
    origin = typing.get_origin(annotation)
    if origin is list and isinstance(part, int):
        return typing.get_args(annotation)[0]
    if origin is dict:
        return typing.get_args(annotation)[1]
    return None


def _keys_of(annotation: Any) -> list[str]:
    """The keys the model ``annotation`` stands for accepts (none when it is not a model)."""
    target = _unwrap(annotation)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return list(target.model_fields)
    return []


BOOLEAN_WORDS = "true/false (yes, no, on, off read as booleans in YAML)"


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx = err.get("ctx", {})
    value = err.get("input")
    if kind in _MESSAGES:
        return _MESSAGES[kind](err)
    if kind == "string_pattern_mismatch" and "a-z0-9_" in str(ctx.get("pattern")):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", str(value).lower()).strip("_")
        return (
            f"'{value}' is not a valid id: use lower-case letters, digits and '_', "
            f"starting with a letter (e.g. '{suggestion or 'sales'}')"
        )
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == GRADE_PATTERN:
        return (
            f"'{value}' is not a valid grade: use up to 8 Latin letters, digits, '+' or '-' "
            "(e.g. 'A+', 'S', 'B-'); put a Chinese name such as 超额 in the grade's label"
        )
    if kind == "string_type" and isinstance(value, bool):
        return f"this reads as {BOOLEAN_WORDS}; put the text in quotes, e.g. 'yes'"
    text = str(err["msg"]).replace("Input should be", "should be")
    return f"{text}, got {_shown(value)}" if not isinstance(value, dict | list) else text


def _discriminator(err: ErrorDetails) -> str:
    return str(err.get("ctx", {}).get("discriminator", "")).strip("'")


def _tag_invalid(err: ErrorDetails) -> str:
    ctx = err.get("ctx", {})
    return (
        f"'{ctx.get('tag')}' is not a valid {_discriminator(err)}; "
        f"use one of: {ctx.get('expected_tags')}"
    )


def _tag_missing(err: ErrorDetails) -> str:
    return f"missing required key '{_discriminator(err)}'"


def _too_short(err: ErrorDetails) -> str:
    least = err.get("ctx", {}).get("min_length", 1)
    return f"needs at least {least} item{'s' if least != 1 else ''}; add one"


def _own_words(err: ErrorDetails) -> str:
    text = str(err["msg"])
    return text.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _not_allowed(err: ErrorDetails) -> str:
    return f"'{err.get('input')}' is not allowed here; use {err.get('ctx', {}).get('expected')}"


def _not_a_mapping(err: ErrorDetails) -> str:
    return f"expected a mapping of keys, got {_shown(err.get('input'))}"


def _not_a_list(err: ErrorDetails) -> str:
    return f"expected a list, got {_shown(err.get('input'))}"


_MESSAGES: dict[str, Callable[[ErrorDetails], str]] = {
    "union_tag_invalid": _tag_invalid,
    "union_tag_not_found": _tag_missing,
    "too_short": _too_short,
    "expression": _own_words,
    "value_error": _own_words,
    "assertion_error": _own_words,
    "literal_error": _not_allowed,
    "model_type": _not_a_mapping,
    "model_attributes_type": _not_a_mapping,
    "dict_type": _not_a_mapping,
    "list_type": _not_a_list,
}


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
