"""Property tests: whatever YAML it is given, the loader reports problems and never raises.

(a) Random documents (random data dumped with ``yaml.safe_dump``, definition-shaped random data,
    and random text full of YAML punctuation) go to ``read_documents`` and to ``load``.
(b) Random mutations of a valid pack (a line deleted, duplicated or swapped, a token replaced,
    characters inserted, indentation changed) go to ``load`` and ``load_or_raise``.

The properties: ``load`` returns a ``LoadResult`` and never raises, ``load_or_raise`` raises
only ``DefinitionError``, and every diagnostic sits at a real place (line ≥ 1, column ≥ 1, and
no further down than the end of its file).

The crashes these tests found are fixed; each stays pinned by a regression test at the end of
this file, next to the inputs that once made ``load`` raise.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from opsperf.definitions import schema
from opsperf.definitions.loader import LoadResult, load, load_or_raise
from opsperf.definitions.yamlio import read_documents
from opsperf.errors import DefinitionError, Diagnostic

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_PACK = Path(__file__).resolve().parent / "fixtures" / "pack"
PACK_FOLDERS = ("org", "forms", "workflows")

# OPSPERF_PROPERTY_SCALE=20 runs twenty times as many examples (a longer hunt, by hand)
SCALE = float(os.environ.get("OPSPERF_PROPERTY_SCALE", "1"))


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


PROPERTY = settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --------------------------------------------------------------------------- assertions


def assert_placed(diagnostics: Sequence[Diagnostic], texts: dict[str, str]) -> None:
    """Every diagnostic has a real line and column, no further down than its file's end."""
    for d in diagnostics:
        assert isinstance(d, Diagnostic)
        assert d.severity in ("error", "warning"), d
        assert isinstance(d.line, int), d
        assert isinstance(d.column, int), d
        assert d.line >= 1, d.format()
        assert d.column >= 1, d.format()
        assert d.message, d.format()
        if d.path in texts:
            assert d.line <= len(texts[d.path].splitlines()) + 1, d.format()


def check_folder(folder: Path, texts: dict[str, str]) -> LoadResult:
    """``load`` never raises; ``load_or_raise`` raises only DefinitionError and agrees."""
    result = load([folder])
    assert isinstance(result, LoadResult)
    assert_placed(result.diagnostics, texts)
    if result.ok:
        definitions = load_or_raise([folder])  # anything raised here fails the test
        assert len(definitions) == len(result.definitions)
    else:
        with pytest.raises(DefinitionError) as info:  # any other exception fails the test
            load_or_raise([folder])
        assert any(d.severity == "error" for d in info.value.diagnostics)
        assert_placed(info.value.diagnostics, texts)
    return result


def write_files(folder: Path, files: dict[str, str]) -> dict[str, str]:
    """Write ``files`` (relative path → text) under ``folder``; return absolute path → text."""
    written = {}
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        written[str(path)] = text
    return written


def check_text(text: str) -> None:
    """read_documents and load of one file holding ``text``."""
    documents, problems = read_documents("f.yaml", text)
    assert isinstance(documents, list)
    assert_placed(problems, {"f.yaml": text})
    for doc in documents:
        for line, column in [doc.start, *doc.values.values(), *doc.keys.values()]:
            assert line >= 1
            assert column >= 1
    with tempfile.TemporaryDirectory() as tmp:
        texts = write_files(Path(tmp), {"defs.yaml": text})
        check_folder(Path(tmp), texts)


# --------------------------------------------------------------------------- strategies (a)


PLAIN_CHARS = st.characters(blacklist_categories=("Cs",))  # no lone surrogates: not UTF-8

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(PLAIN_CHARS, max_size=15),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
)
keys = st.one_of(st.text(PLAIN_CHARS, max_size=10), st.integers(-100, 100))
random_data = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=25,
)


def _literals(annotation: Any) -> Iterator[Any]:
    if typing.get_origin(annotation) is typing.Literal:
        yield from typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        yield from _literals(arg)


MODELS = [
    obj for obj in vars(schema).values() if isinstance(obj, type) and issubclass(obj, BaseModel)
]
FIELD_NAMES = sorted({name for model in MODELS for name in model.model_fields})
LITERALS = sorted(
    {
        str(v)
        for model in MODELS
        for f in model.model_fields.values()
        for v in _literals(f.annotation)
    }
)
KIND_NAMES = ["Department", "Form", "Workflow", "IncentivePolicy"]
IDS = [
    "sales", "company", "kpis", "revenue", "plan", "monitor", "assess", "assess.self",
    "feedback", "closed", "employee", "manager", "hr", "sales_quarterly", "quarterly_review",
    "ops_bonus", "Sales", "1x", "",
]  # fmt: skip
EXPRESSIONS = [
    "rating <= 2",
    "kpis.score * 0.9",
    "score",
    "unknown_name > 1",
    "1 +",
    "x.__class__",
    "base_bonus * bonus_multiplier",
    "actual / target * 100",
]

definition_scalars = st.one_of(
    st.sampled_from(IDS + LITERALS + EXPRESSIONS + KIND_NAMES),
    st.sampled_from(["P14D", "P2W", "PT36H", "P", "10%", "150%", "*", "x" * 70]),
    st.integers(-5, 200),
    st.floats(-1e3, 1e3),
    st.booleans(),
    st.none(),
)
definition_data = st.recursive(
    definition_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(FIELD_NAMES + IDS[:6]), children, max_size=5),
    ),
    max_leaves=30,
)
definitions = st.builds(
    lambda kind, ident, rest: {"kind": kind, "id": ident, **rest},
    st.one_of(st.sampled_from(KIND_NAMES), st.sampled_from(["Dept", "form", None, 1])),
    st.sampled_from(IDS),
    st.dictionaries(st.sampled_from(FIELD_NAMES), definition_data, max_size=8),
)


def dump(documents: list[Any], flow: bool | None, unicode: bool) -> str:
    return yaml.safe_dump_all(
        documents, default_flow_style=flow, allow_unicode=unicode, sort_keys=False
    )


dump_options = st.tuples(st.sampled_from([None, False, True]), st.booleans())

TOKENS = [
    "kind:",
    "kind: Form",
    "kind: Department",
    "kind: Workflow",
    "kind: IncentivePolicy",
    "id:",
    "id: x",
    "name:",
    "sections:",
    "fields:",
    "states:",
    "transitions:",
    "grades:",
    "- ",
    "-",
    "--",
    ":",
    ": ",
    " ",
    "  ",
    "\t",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "<<: *a",
    "---",
    "...",
    "--- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "? ",
    "|",
    ">",
    "|-",
    "#",
    "# c",
    "'",
    '"',
    "\\",
    "!",
    "!x ",
    "!!str ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!map ",
    "!!seq ",
    "!!null ",
    "%YAML 1.1",
    "%TAG ! tag:x,2000:",
    "~",
    "null",
    "yes",
    "no",
    "on",
    "off",
    "1",
    "0",
    "-1.5",
    "1e400",
    ".inf",
    ".nan",
    "0x1F",
    "0o17",
    "1_000",
    "1:30",
    "2024-01-01",
    "销售额",
    "é",
    "\u2028",
    "\u0085",
    "\ufeff",
    "\x00",
    "\r",
    "\r\n",
    "😀",
    "a",
    "b",
    "x y",
    "@",
    "`",
    "%",
    "=",
]
INDENTS = ["", "", " ", "  ", "    ", "\t", " \t", "- ", "  - "]
line = st.builds(
    lambda indent, parts: indent + "".join(parts),
    st.sampled_from(INDENTS),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(PLAIN_CHARS, max_size=4)), max_size=7),
)
yaml_like_text = st.lists(line, max_size=20).map("\n".join)
random_text = st.one_of(yaml_like_text, st.text(PLAIN_CHARS, max_size=200))


# --------------------------------------------------------------------------- tests (a)


@PROPERTY
@given(st.lists(random_data, min_size=1, max_size=3), dump_options)
def test_dumped_random_data_never_raises(documents: list[Any], options: tuple[Any, bool]) -> None:
    check_text(dump(documents, *options))


def _plain(value: Any) -> bool:
    """Data read_documents returns unchanged: str keys, no merge keys, no NaN."""
    if isinstance(value, float):
        return value == value
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and k != "<<" and _plain(v) for k, v in value.items())
    return True


@PROPERTY
@given(st.lists(random_data, min_size=1, max_size=3), dump_options)
def test_read_documents_agrees_with_safe_load(
    documents: list[Any], options: tuple[Any, bool]
) -> None:
    """For data with plain string keys, positions are extra; the values are safe_load's."""
    text = dump(documents, *options)
    expected = list(yaml.safe_load_all(text))
    if not _plain(expected):
        reject()
    read, problems = read_documents("f.yaml", text)
    assert problems == []
    assert [doc.data for doc in read] == expected


@PROPERTY
@given(st.lists(definitions, min_size=1, max_size=4), dump_options)
def test_definition_shaped_random_data_never_raises(
    documents: list[Any], options: tuple[Any, bool]
) -> None:
    check_text(dump(documents, *options))


@settings(PROPERTY, max_examples=examples(150))
@given(random_text)
def test_random_text_never_raises(text: str) -> None:
    check_text(text)


@PROPERTY
@given(st.lists(definitions, min_size=1, max_size=3), st.lists(random_text, max_size=2))
def test_several_files_never_raise(documents: list[Any], junk: list[str]) -> None:
    files = {f"org/d{i}.yaml": dump([d], None, True) for i, d in enumerate(documents)}
    files.update({f"forms/junk{i}.yml": text for i, text in enumerate(junk)})
    with tempfile.TemporaryDirectory() as tmp:
        texts = write_files(Path(tmp), files)
        check_folder(Path(tmp), texts)


# --------------------------------------------------------------------------- packs (b)


def pack_files(root: Path) -> dict[str, str]:
    """relative path → text of every YAML file in the pack folders under ``root``."""
    files = {}
    for folder in PACK_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                files[str(path.relative_to(root))] = path.read_text(encoding="utf-8")
    return files


FIXTURE_FILES = pack_files(FIXTURE_PACK)
SHIPPED_FILES = pack_files(ROOT) if all((ROOT / f).is_dir() for f in PACK_FOLDERS) else {}
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*|\d+(?:\.\d+)?|[^\w\s]")
SPECIAL_TOKENS = [
    "",
    ":",
    "-",
    "- ",
    "&a",
    "*a",
    "<<",
    "---",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    "#",
    "|",
    "yes",
    "null",
    "~",
    "0",
    "-1",
    "1e9",
    "P0D",
    "*",
    "assess.nope",
    "销售",
    "\t",
]
INSERTED = st.text(st.sampled_from(list(":-&*#[]{}'\"|>!%@`, \t\nab1é销")), min_size=1, max_size=4)


def token_pool(files: dict[str, str]) -> list[str]:
    found = {m.group() for text in files.values() for m in TOKEN.finditer(text)}
    return sorted(found) + SPECIAL_TOKENS


@st.composite
def mutations(draw: st.DrawFn, files: dict[str, str], pool: list[str]) -> tuple[str, str]:
    """One pack file with one to three random mutations applied."""
    name = draw(st.sampled_from(sorted(files)))
    lines = files[name].split("\n")
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(
            st.sampled_from(["delete", "duplicate", "swap", "token", "insert", "indent", "tab"])
        )
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "token":
            spans = [m.span() for m in TOKEN.finditer(lines[i])]
            if spans:
                start, end = draw(st.sampled_from(spans))
                lines[i] = lines[i][:start] + draw(st.sampled_from(pool)) + lines[i][end:]
        elif kind == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(INSERTED) + lines[i][at:]
        elif kind == "indent":
            body = lines[i].lstrip(" ")
            indent = len(lines[i]) - len(body)
            lines[i] = " " * max(0, indent + draw(st.sampled_from([-4, -2, -1, 1, 2, 4]))) + body
        else:
            lines[i] = "\t" + lines[i]
    return name, "\n".join(lines)


def check_mutation(files: dict[str, str], mutation: tuple[str, str]) -> None:
    name, text = mutation
    with tempfile.TemporaryDirectory() as tmp:
        texts = write_files(Path(tmp), {**files, name: text})
        check_folder(Path(tmp), texts)


def test_fixture_pack_is_valid() -> None:
    assert set(FIXTURE_FILES) >= {"org/company.yaml", "forms/sales_quarterly.yaml"}
    result = load([FIXTURE_PACK / f for f in PACK_FOLDERS])
    assert result.diagnostics == [], [d.format() for d in result.diagnostics]
    assert len(result.definitions.departments) == 2
    assert len(result.definitions.forms) == 1
    assert len(result.definitions.workflows) == 1
    assert len(result.definitions.policies) == 1


@settings(PROPERTY, max_examples=examples(120))
@given(mutations(FIXTURE_FILES, token_pool(FIXTURE_FILES)))
def test_mutated_fixture_pack_never_raises(mutation: tuple[str, str]) -> None:
    check_mutation(FIXTURE_FILES, mutation)


@pytest.mark.skipif(not SHIPPED_FILES, reason="the shipped template pack is not there")
@settings(PROPERTY, max_examples=examples(20))
@given(mutations(SHIPPED_FILES, token_pool(SHIPPED_FILES) if SHIPPED_FILES else [""]))
def test_mutated_shipped_pack_never_raises(mutation: tuple[str, str]) -> None:
    check_mutation(SHIPPED_FILES, mutation)


# --------------------------------------------------------------------------- regressions


def _crash(text: str) -> BaseException | None:
    try:
        read_documents("f.yaml", text)
    except Exception as exc:
        return exc
    return None


UNBUILDABLE = {
    "impossible_date": "a: 2024-02-30\n",
    "impossible_date_key": "2024-13-01: x\n",
    "impossible_time": "a: 2024-01-01 25:00:00\n",
    "binary_int_without_digits": "a: 0b_\n",
    "hex_int_without_digits": "a: 0x_\n",
    "tagged_int": "a: !!int abc\n",
    "tagged_float": "a: !!float abc\n",
    "tagged_bool": "a: !!bool maybe\n",
    "tagged_timestamp": "a: !!timestamp nope\n",
    "escape_beyond_unicode": 'a: "\\U00110000"\n',
    "int_over_4300_digits": "a: " + "1" * 5000 + "\n",
}


@pytest.mark.parametrize("text", list(UNBUILDABLE.values()), ids=list(UNBUILDABLE))
def test_unbuildable_scalars_are_reported_not_raised(text: str) -> None:
    """PyYAML raises ValueError, KeyError, AttributeError (not YAMLError) for values that look
    typed but cannot be built; read_documents once let them escape, so load() raised."""
    exc = _crash(text)
    assert exc is None, f"read_documents raised {type(exc).__name__}: {exc}"
    _, problems = read_documents("f.yaml", text)
    assert problems, "the value cannot be read, so there must be a diagnostic"
    assert_placed(problems, {"f.yaml": text})


def _load_pack_with(files: dict[str, str]) -> LoadResult:
    with tempfile.TemporaryDirectory() as tmp:
        texts = write_files(Path(tmp), {**FIXTURE_FILES, **files})
        result = load([tmp])
        assert_placed(result.diagnostics, texts)
        return result


def _edit(rel: str, old: str, new: str) -> dict[str, str]:
    text = FIXTURE_FILES[rel]
    assert text.count(old) == 1, old
    return {rel: text.replace(old, new)}


def test_impossible_date_in_a_pack_is_a_diagnostic() -> None:
    """Regression: an impossible date (goal target 2024-02-30) made load() raise ValueError."""
    result = _load_pack_with(
        _edit("org/company.yaml", "target: 20, period: year", "target: 2024-02-30")
    )
    assert not result.ok
    assert any(d.path.endswith("company.yaml") and d.line == 9 for d in result.errors)


def test_deeply_nested_expression_in_a_form_is_a_diagnostic() -> None:
    """Regression: Expression.check() recursed per nesting level, so load() raised
    RecursionError for a 2000-character compute of 1990 unary minuses."""
    result = _load_pack_with(
        _edit(
            "forms/sales_quarterly.yaml",
            'compute: "kpis.score * 0.9"',
            'compute: "' + "-" * 1990 + 'rating"',
        )
    )
    assert any(
        d.path.endswith("sales_quarterly.yaml") and "compute" in d.key_path for d in result.errors
    ), [d.format() for d in result.diagnostics]


def test_huge_regex_repetition_is_a_diagnostic() -> None:
    """Regression: a text pattern 'a{4294967296}' raised OverflowError (not re.error), which
    pydantic does not convert, so load() raised."""
    result = _load_pack_with(
        _edit(
            "forms/sales_quarterly.yaml",
            "label: 主要成绩, required: true, max_length: 2000}",
            "label: 主要成绩, required: true, pattern: 'a{4294967296}'}",
        )
    )
    assert any("pattern" in d.message for d in result.errors)


def test_unknown_initial_child_of_the_first_state_is_a_diagnostic() -> None:
    """Regression: when the first state is nested and its 'initial' names no child,
    statetree.initial_leaf raised KeyError out of the graph check, so load() raised."""
    workflow = """kind: Workflow
id: w
name: W
states:
  plan: {initial: nope, states: {draft: {}}}
  monitor: {}
  assess: {}
  feedback: {}
  closed: {final: true}
transitions:
  - {trigger: go, source: monitor, dest: closed, roles: [hr]}
"""
    result = _load_pack_with({"workflows/extra.yaml": workflow})
    assert any("nope" in d.message for d in result.errors)


# --------------------------------------------------------------------------- known bugs


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda text: text + "---\n", id="trailing_separator"),
        pytest.param(lambda text: text + "--- # end of file\n", id="trailing_separator_comment"),
        pytest.param(lambda text: text.replace("\n---\n", "\n---\n---\n", 1), id="double"),
    ],
)
def test_empty_documents_are_skipped(edit: Any) -> None:
    result = _load_pack_with({"org/company.yaml": edit(FIXTURE_FILES["org/company.yaml"])})
    assert result.diagnostics == [], [d.format() for d in result.diagnostics]
