"""Datasets: build ``Example`` lists from DataFrames, dicts, JSONL or CSV, and split them by seed."""

from __future__ import annotations

import json
import logging
import math
import random
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import ConfigError
from .records import Example

log = logging.getLogger("promptlearn")



def load_examples(source: Any, *, inputs: Sequence[str] | str, reference: str | None = None,
                  id_column: str | None = None, metadata: Sequence[str] = ()) -> list[Example]:
    """Make Examples from a pandas DataFrame, a list of dicts, or a ``.jsonl`` / ``.json`` / ``.csv`` path.

    ``inputs`` names the columns the agent sees; ``reference`` the column judges compare
    against. Ids come from ``id_column`` or the row position. Missing columns, an empty
    dataset and duplicate ids raise ConfigError naming the problem.
    """
    if not isinstance(inputs, (str, list, tuple)) or any(not isinstance(c, str) for c in inputs):
        raise ConfigError(f"inputs must be a column name or a list of column names, got {inputs!r}")
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    if not inputs:
        raise ConfigError("inputs must name at least one column")
    rows, origin = _rows(source)
    if not rows:
        raise ConfigError(f"dataset {origin} is empty")
    needed = [*inputs, *([reference] if reference else []), *([id_column] if id_column else []), *metadata]
    present = set().union(*(row.keys() for row in rows[:50]))
    missing = [c for c in needed if c not in present]
    if missing:
        raise ConfigError(f"dataset {origin} has no column(s) {missing}; columns are {sorted(present)}")
    if reference:
        rows = _drop_missing_references(rows, reference, origin)
    examples, seen = [], set()
    for i, row in enumerate(rows):
        absent = [c for c in needed if c not in row]
        if absent:
            raise ConfigError(f"row {i} of {origin} lacks column(s) {absent}")
        if id_column and is_missing(row[id_column]):
            raise ConfigError(f"row {i} of {origin} has no id (column {id_column!r} is empty)")
        empty = [c for c in inputs if is_missing(row[c])]
        if empty:
            raise ConfigError(f"row {i} of {origin} has no value for input column(s) {empty}; drop or fill such rows "
                              f"(the agent would read the text 'None' or 'nan')")
        eid = str(row[id_column]) if id_column else str(i)
        if eid in seen:
            raise ConfigError(f"duplicate id {eid!r} in {origin} (column {id_column!r})")
        seen.add(eid)
        examples.append(Example(id=eid, inputs={c: row[c] for c in inputs},
                                reference=row[reference] if reference else None,
                                metadata={c: row[c] for c in metadata}))
    return examples


def is_missing(value: Any) -> bool:
    """None, or NaN (pandas' empty cell)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _drop_missing_references(rows: list[dict[str, Any]], reference: str, origin: str) -> list[dict[str, Any]]:
    """Rows whose reference is empty (None, or NaN from pandas) are dropped with a warning.

    Kept, they would become the label "nan" in the inferred output contract and in every judge.
    """
    kept = [row for row in rows if not is_missing(row.get(reference))]
    dropped = len(rows) - len(kept)
    if dropped == len(rows):
        raise ConfigError(f"every row of {origin} has an empty {reference!r} column")
    if dropped:
        message = f"{origin}: dropped {dropped} of {len(rows)} row(s) with an empty {reference!r} (reference) value"
        log.warning(message)
        warnings.warn(message, stacklevel=3)
    return kept


def not_utf8(path: Path, exc: UnicodeDecodeError) -> ConfigError:
    return ConfigError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8")


def read_text(path: Path) -> str:
    """A text file as UTF-8; a file in another encoding, or a folder, is a ConfigError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a data file") from None


def yaml_load(text: str) -> Any:
    """YAML as ``yaml.safe_load`` reads it, except that a key given twice in one mapping is an error.

    PyYAML keeps the last of two equal keys, so a config with ``seed_prompt:`` twice silently ran
    the second (issue 29). Raises ``yaml.YAMLError`` (as safe_load does) naming the key and line.
    """
    import yaml

    class _UniqueKeys(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1}); "
                                f"YAML would keep only the last", key_node.start_mark)
            seen.add(key)
        return loader.construct_mapping(node)  # type: ignore[no-any-return]

    _UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return yaml.load(text, Loader=_UniqueKeys)  # noqa: S506 - a SafeLoader subclass


def _jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in read_jsonl(path)]


def read_jsonl(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line; a bad line or non-UTF-8 file is a ConfigError naming it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"file not found: {path}")
    rows = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}, line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}")
        rows.append((number, row))
    return rows


def _rows(source: Any) -> tuple[list[dict[str, Any]], str]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise ConfigError(f"dataset file not found: {path}")
        if path.suffix == ".jsonl":
            return _jsonl_rows(path), str(path)
        if path.suffix == ".json":
            try:
                data = json.loads(read_text(path))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") \
                    from None
            if isinstance(data, dict) and "examples" in data:  # BBH layout
                data = data["examples"]
            if not isinstance(data, list) or any(not isinstance(r, dict) for r in data):
                raise ConfigError(f"{path}: expected a JSON list of objects (or {{\"examples\": [...]}})")
            return data, str(path)
        if path.suffix == ".csv":
            import pandas as pd

            try:
                return pd.read_csv(path, encoding="utf-8").to_dict("records"), str(path)
            except UnicodeDecodeError as exc:
                raise not_utf8(path, exc) from None
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
                raise ConfigError(f"{path}: not readable CSV ({str(exc).strip()})") from None
        raise ConfigError(f"unsupported dataset format {path.suffix!r}: use .jsonl, .json or .csv")
    if hasattr(source, "to_dict") and hasattr(source, "columns"):
        return source.to_dict("records"), "DataFrame"
    if isinstance(source, Iterable):
        rows = list(source)
        if any(not isinstance(r, dict) for r in rows):
            raise ConfigError("a list dataset must hold dicts")
        return rows, "list"
    raise ConfigError(f"cannot read a dataset from {type(source).__name__}")


def _split_count(size: Any, n: int) -> int:
    """A split size as a count: a whole number, or a fraction in (0, 1] of ``n``. NaN, inf, 2.5 and True
    are errors (NaN crashed int(), 2.5 was silently cut to 2)."""
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise ConfigError(f"split size {size!r} must be a whole number or a fraction in (0, 1]")
    if isinstance(size, float):
        if not math.isfinite(size) or size <= 0 or (size > 1 and not size.is_integer()):
            raise ConfigError(f"split size {size!r} must be a whole number or a fraction in (0, 1]")
        return int(round(size * n)) if size <= 1.0 else int(size)
    return size


def split_examples(examples: Sequence[Example], sizes: Sequence[int | float], *, seed: int = 0,
                   stratify: bool = False) -> list[list[Example]]:
    """Deterministic split by seed. ``sizes`` are counts or fractions (one entry per split).

    With ``stratify`` the reference labels are interleaved so each split gets a similar mix.
    """
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence) \
            or any(not isinstance(e, Example) for e in examples):
        raise ConfigError(f"split_examples needs a list of Examples (see load_examples), got "
                          f"{type(examples).__name__}")
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not sizes:
        raise ConfigError(f"sizes must be a list of split sizes (counts, or fractions in (0, 1]), got {sizes!r}")
    n = len(examples)
    counts = [_split_count(s, n) for s in sizes]
    if sum(counts) > n:
        raise ConfigError(f"split sizes {counts} need {sum(counts)} examples; only {n} given")
    if any(c <= 0 for c in counts):
        raise ConfigError(f"every split needs at least one example; got sizes {counts}")
    rng = random.Random(seed)
    order = list(examples)
    rng.shuffle(order)
    if stratify:
        groups: dict[str, list[Example]] = {}
        for ex in order:
            groups.setdefault(str(ex.reference), []).append(ex)
        order = []
        queues = [groups[k] for k in sorted(groups)]
        while any(queues):
            for q in queues:
                if q:
                    order.append(q.pop())
        # round-robin by label, then each split takes a contiguous slice of that interleaving
        splits, start = [], 0
        for count in counts:
            chunk = order[start:start + count]
            rng.shuffle(chunk)
            splits.append(chunk)
            start += count
        return splits
    splits, start = [], 0
    for count in counts:
        splits.append(order[start:start + count])
        start += count
    return splits


def infer_output_contract(examples: Sequence[Example]) -> str | None:
    """The answer format the training references share, as one sentence (see ``contracts.infer_contract``)."""
    from .contracts import infer_contract

    contract = infer_contract(examples)
    return contract.instruction if contract else None


#: Distinct expected answers a data summary lists by name; more are counted, not named.
SUMMARY_MAX_LABELS = 20


def summarize_examples(examples: Sequence[Example], max_labels: int = SUMMARY_MAX_LABELS) -> str:
    """What a set of examples looks like, in two or three short sentences for the rewriter: how many there
    are, how long each input field is, and the expected answers (each label and its count when they form a
    label set, else how long they are). Nothing here quotes an input, so no example text leaks into rules."""
    if not examples:
        return ""

    def words(text: Any) -> int:
        return len(str(text).split())

    def spread(counts: list[int]) -> str:
        ordered = sorted(counts)
        return f"{ordered[0]}-{ordered[-1]} words, median {ordered[len(ordered) // 2]}"

    fields = sorted({name for e in examples for name in e.inputs})
    parts = [f"{len(examples)} training examples."]
    parts.append("Inputs: " + "; ".join(f"{name} ({spread([words(e.inputs.get(name, '')) for e in examples])})"
                                         for name in fields) + ".")
    references = [str(e.reference).strip() for e in examples if e.reference is not None]
    if references:
        counts: dict[str, int] = {}
        for ref in references:
            counts[ref] = counts.get(ref, 0) + 1
        short = all(words(r) <= 4 for r in counts)
        if short and len(counts) <= max(max_labels, len(references) // 2):
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            named = ", ".join(f"{label} {n}" for label, n in ranked[:max_labels])
            more = f", and {len(ranked) - max_labels} other answers" if len(ranked) > max_labels else ""
            parts.append(f"Expected answers ({len(counts)} distinct, with how often each is expected): {named}{more}.")
        elif None not in (numbers := [parse_number(r) for r in references]):
            values = sorted(n for n in numbers if n is not None)
            parts.append(f"Expected answers: numbers, {len(counts)} distinct, from {values[0]:g} to {values[-1]:g}.")
        else:
            parts.append(f"Expected answers: free text, {len(counts)} distinct, {spread([words(r) for r in references])}.")
    return " ".join(parts)


def parse_number(value: Any) -> float | None:
    """A reference such as "1,234" or 7 as a float; None if it is no number (or NaN)."""
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        return None
    return None if math.isnan(number) else number
