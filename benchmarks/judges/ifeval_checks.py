"""Ground truth for IFEval instructions: a deterministic checker per supported instruction id.

These give the *truth* for judge calibration (benchmarks/judges/make_judge_data.py), so they follow
IFEval's own checkers (google-research instruction_following_eval, instructions.py) closely and
are kept apart from the judge's code checks in ``promptlearn.judges.library``. Only the ids below
are supported; prompts using any other id are skipped.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

_FENCE = re.compile(r"^\s*```(?:json|JSON|Json)?\s*\n?(.*?)\n?\s*```\s*$", re.S)


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def _relation(count: int, relation: str, n: int) -> bool:
    return count < n if relation == "less than" else count >= n


def _json(text: str) -> bool:
    match = _FENCE.match(text)
    body = match.group(1) if match else text.strip()
    try:
        json.loads(body)
        return True
    except json.JSONDecodeError:
        return False


def _bullets(text: str) -> int:
    return len(re.findall(r"^\s*[*-]\s(?!\*)", text, flags=re.M))


CHECKERS: dict[str, Callable[[str, dict[str, Any]], bool]] = {
    "change_case:english_lowercase": lambda t, k: t == t.lower(),
    "change_case:english_capital": lambda t, k: t == t.upper(),
    "punctuation:no_comma": lambda t, k: "," not in t,
    "detectable_format:json_format": lambda t, k: _json(t),
    "keywords:existence": lambda t, k: all(re.search(re.escape(w), t, re.I) for w in k["keywords"]),
    "keywords:forbidden_words": lambda t, k: not any(re.search(r"\b" + re.escape(w) + r"\b", t, re.I)
                                                     for w in k["forbidden_words"]),
    "keywords:frequency": lambda t, k: _relation(len(re.findall(re.escape(k["keyword"]), t, re.I)),
                                                 k["relation"], k["frequency"]),
    "length_constraints:number_words": lambda t, k: _relation(_words(t), k["relation"], k["num_words"]),
    "detectable_format:number_bullet_lists": lambda t, k: _bullets(t) == k["num_bullets"],
    "detectable_format:title": lambda t, k: bool(re.search(r"<<[^\n]+>>", t)),
    "detectable_format:number_highlighted_sections": lambda t, k: len(
        [h for h in re.findall(r"\*[^\n*]+\*", t) if h.strip("*").strip()]) >= k["num_highlights"],
    "startend:end_checker": lambda t, k: t.strip().lower().endswith(k["end_phrase"].strip().lower()),
    "startend:quotation": lambda t, k: len(t.strip()) > 1 and t.strip()[0] == '"' and t.strip()[-1] == '"',
    "detectable_content:postscript": lambda t, k: bool(re.search(
        r"\s*" + re.escape(k["postscript_marker"]).replace(r"\ ", r"\s*") + r".*$", t, flags=re.I | re.M)),
    "detectable_content:number_placeholders": lambda t, k: len(re.findall(r"\[.*?\]", t)) >= k["num_placeholders"],
}


def rule_text(instruction_id: str, kwargs: dict[str, Any]) -> str:
    """The instruction as one plain rule, for the rule_compliance judge."""
    k = kwargs
    return {
        "change_case:english_lowercase": "The entire response is in lowercase letters; no capital letters at all.",
        "change_case:english_capital": "The entire response is in capital letters.",
        "punctuation:no_comma": "The response contains no commas.",
        "detectable_format:json_format": "The entire response is valid JSON (markdown code fences allowed).",
        "keywords:existence": f"The response includes the keywords: {', '.join(k.get('keywords') or [])}.",
        "keywords:forbidden_words": f"The response does not use the words: {', '.join(k.get('forbidden_words') or [])}.",
        "keywords:frequency": f"The word {k.get('keyword')!r} appears {k.get('relation')} {k.get('frequency')} times.",
        "length_constraints:number_words": f"The response has {k.get('relation')} {k.get('num_words')} words.",
        "detectable_format:number_bullet_lists": f"The response has exactly {k.get('num_bullets')} markdown bullet points.",
        "detectable_format:title": "The response has a title wrapped in double angular brackets, like <<title>>.",
        "detectable_format:number_highlighted_sections":
            f"At least {k.get('num_highlights')} sections are highlighted with markdown, like *highlighted section*.",
        "startend:end_checker": f"The response ends with the exact phrase {k.get('end_phrase')!r}.",
        "startend:quotation": "The entire response is wrapped in double quotation marks.",
        "detectable_content:postscript": f"The response ends with a postscript starting with {k.get('postscript_marker')}.",
        "detectable_content:number_placeholders":
            f"The response contains at least {k.get('num_placeholders')} placeholders in square brackets, like [address].",
    }[instruction_id]


def format_checks(instruction_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The part of an instruction the format_compliance judge's code checks can verify (may be empty)."""
    k = kwargs
    if instruction_id == "length_constraints:number_words":
        return {"max_words": k["num_words"] - 1} if k["relation"] == "less than" else {"min_words": k["num_words"]}
    return {
        "change_case:english_lowercase": {"case": "lower"},
        "change_case:english_capital": {"case": "upper"},
        "detectable_format:json_format": {"json_object": True},
        "keywords:existence": {"required_keywords": k.get("keywords")},
        "keywords:forbidden_words": {"forbidden_keywords": k.get("forbidden_words")},
    }.get(instruction_id, {})


def check(instruction_id: str, text: str, kwargs: dict[str, Any]) -> bool:
    return CHECKERS[instruction_id](text, {key: v for key, v in kwargs.items() if v is not None})
