"""Rewrite bench results recorded by earlier promptlearn versions to today's task fingerprints and cell keys.

    python benchmarks/migrate_results.py RESULTS.jsonl ... --tasks benchmarks/suites/tasks benchmarks/suites/good_seed

A cell's key holds its task's fingerprint. Until abb80cb the fingerprint hashed the absolute data path and
every unset field; before d6ff750 the agent had no ``steps`` field. The library kept those forms so old
results still resumed (issue 27 took them out): this script, run once per results file, rewrites each record
whose task fingerprint is one of those forms of a task it is given to the task's fingerprint today, and its
key to match. Records of unknown tasks, or whose data changed since (no form matches), are left as they are
and listed. The file is replaced atomically; ``--dry-run`` only reports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from promptlearn.bench.store import cell_key
from promptlearn.bench.task import load_suite
from promptlearn.task import DATA_FILES, TaskSpec


def _digest(body: dict[str, Any], data: bytes) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode())
    digest.update(data)
    return digest.hexdigest()[:16]


def earlier_fingerprints(task: TaskSpec) -> set[str]:
    """The fingerprints versions before issue 27 recorded for ``task`` (with its data path; without steps)."""
    data = b"".join(Path(f).read_bytes() for f in task.data.files())
    with_path = task.model_dump(exclude={"source"})
    for key in DATA_FILES[1:]:  # fields added since: those versions never had them
        if with_path["data"][key] is None:
            del with_path["data"][key]
    before_steps = json.loads(json.dumps(with_path, default=str))
    if before_steps["agent"].get("steps") is None:
        del before_steps["agent"]["steps"]
    return {_digest(with_path, data), _digest(before_steps, data)} - {task.fingerprint()}


def migrate(path: Path, tasks: list[TaskSpec], *, dry_run: bool = False) -> dict[str, int]:
    """Rewrite ``path`` in place; counts of records migrated, already current, and left as they were."""
    by_name = {t.name: t for t in tasks}
    earlier = {t.name: earlier_fingerprints(t) for t in tasks}
    counts = {"migrated": 0, "current": 0, "left": 0}
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        task = by_name.get(record.get("task", ""))
        if task is not None and record.get("task_fingerprint") == task.fingerprint():
            counts["current"] += 1
        elif task is not None and record.get("task_fingerprint") in earlier[task.name]:
            fingerprint = task.fingerprint()
            record = {**record, "task_fingerprint": fingerprint, "key": cell_key(
                task=task.name, task_fingerprint=fingerprint, method=record["method"], seed=record["seed"],
                budget=record["budget"], agent=record["agent"], rewriter=record["rewriter"],
                engine=record.get("engine", "llama.cpp"))}
            counts["migrated"] += 1
        else:
            why = "no such task given" if task is None else "its data or fields changed since"
            print(f"{path}:{number}: left as is ({record.get('task')} / {record.get('method')}: {why})", file=sys.stderr)
            counts["left"] += 1
        lines.append(json.dumps(record))
    if not dry_run and counts["migrated"]:
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--tasks", nargs="+", required=True, help="task YAMLs, folders or suites the records ran")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    tasks = load_suite(args.tasks)
    for path in args.results:
        print(f"{path}: {migrate(path, tasks, dry_run=args.dry_run)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
