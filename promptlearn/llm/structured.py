"""Structured output: schema instructions, lenient JSON extraction, validation."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def response_format_for(schema: type[BaseModel]) -> dict[str, Any]:
    """Our backend-neutral spec; each backend maps it to what its provider accepts."""
    return {"type": "json_schema", "name": schema.__name__, "schema": schema.model_json_schema()}


def schema_instruction(schema: type[BaseModel]) -> str:
    fields = schema.model_json_schema().get("properties", {})
    lines = [f'- "{name}": {spec.get("description") or spec.get("type", "value")}' for name, spec in fields.items()]
    return ("Reply with one JSON object and nothing else, with these keys in this order:\n" + "\n".join(lines))


def extract_json(text: str) -> Any:
    """Parse the JSON object in ``text``: bare, fenced, or surrounded by prose."""
    text = text.strip()
    candidates = [text]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start:end + 1])
    last_error: Exception | None = None
    for candidate in candidates:
        try:
            # strict=False: llama.cpp's JSON grammar lets raw newlines into strings (seen with the 1.5B).
            return json.loads(candidate, strict=False)
        except json.JSONDecodeError as exc:
            last_error = exc
    raise ValueError(f"no JSON object found ({last_error})")


def parse_structured(text: str, schema: type[T]) -> T:
    """Validate ``text`` against ``schema``; raises ValueError with a message fit to show the model."""
    data = extract_json(text)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'object'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"JSON does not match the schema: {problems}") from exc
