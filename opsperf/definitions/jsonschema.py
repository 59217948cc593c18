"""A JSON Schema of every definition kind, for editor autocompletion and underlining."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from opsperf.definitions.schema import KINDS, Definition

SCHEMA_ID = "https://opsperf.dev/schema/definitions.json"


def definitions_schema() -> dict[str, Any]:
    """One schema that accepts any document kind, chosen by its ``kind`` key."""
    adapter: TypeAdapter[Definition] = TypeAdapter(Definition)
    schema = adapter.json_schema(ref_template="#/$defs/{model}")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = f"opsperf definition ({', '.join(KINDS)})"
    return schema
