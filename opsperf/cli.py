"""The ``opsperf`` command line: ``opsperf check``, ``opsperf schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from opsperf.definitions.jsonschema import definitions_schema
from opsperf.definitions.loader import load

DEFAULT_ROOTS = ("org", "forms", "workflows")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """opsperf: operations performance management from YAML definitions."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def check(paths: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Load and check definitions (default: org/ forms/ workflows/)."""
    roots = list(paths) or [Path(r) for r in DEFAULT_ROOTS if Path(r).exists()]
    if not roots:
        raise click.UsageError("no definition folders here; name the files or folders to check")
    result = load(roots)
    failed = bool(result.errors) or (strict and bool(result.warnings))
    if fmt == "json":
        payload = {
            "ok": not failed,
            "definitions": len(result.definitions),
            "errors": len(result.errors),
            "warnings": len(result.warnings),
            "diagnostics": [d.as_dict() for d in result.diagnostics],
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        for diagnostic in result.diagnostics:
            click.echo(diagnostic.format())
        click.echo(
            f"{len(result.definitions)} definitions checked: "
            f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)"
            + (" (warnings fail with --strict)" if strict and result.warnings else ""),
            err=False,
        )
    sys.exit(1 if failed else 0)


@main.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to a file.")
def schema(output: Path | None) -> None:
    """Print the JSON Schema of all definition kinds."""
    text = json.dumps(definitions_schema(), ensure_ascii=False, indent=2)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")
