"""Which candidates of the local run logs would today's leak guard refuse that the guard at REV let through.

    python benchmarks/leak_guard_scan.py REV ['benchmarks/results/*/results_cells/*/*/seed*/run/events.jsonl']

Reads every candidate (system text and each rule) of the matching run logs, rebuilds its cell's training split
from the task files under ``benchmarks/suites`` (run logs of tasks not found there are skipped), and prints the
texts a child added that ``guards.training_leak`` now rejects and REV's did not, each checked against its parent's
text as the loop checks it: which measured cells a guard change can touch.
"""

from __future__ import annotations

import glob
import json
import re
import subprocess
import sys
from pathlib import Path

from promptlearn import Candidate, guards
from promptlearn.bench.task import load_task

SUITES = Path(__file__).parent / "suites"


def old_training_leak(rev: str):
    source = subprocess.run(["git", "show", f"{rev}:promptlearn/guards.py"], capture_output=True, text=True,
                            check=True).stdout
    namespace: dict = {}
    exec(compile(re.sub(r"from \.(\w+)", r"from promptlearn.\1", source), f"guards@{rev}", "exec"), namespace)
    return namespace["training_leak"]


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    pattern = sys.argv[2] if len(sys.argv) == 3 else "benchmarks/results/*/results_cells/*/*/seed*/run/events.jsonl"
    old = old_training_leak(sys.argv[1])
    tasks = {}
    for path in sorted(SUITES.glob("tasks/*.yaml")) + sorted(SUITES.glob("good_seed/*.yaml")):
        try:
            task = load_task(path)
        except Exception:  # noqa: BLE001 - a task whose data file was not made (hotpotqa_short) is skipped
            continue
        tasks.setdefault(task.name, task)
    runs = hits = 0
    for log in sorted(glob.glob(pattern)):
        parts = Path(log).parts
        task_name, method, cell = parts[-5], parts[-4], parts[-3]
        if task_name not in tasks:
            continue
        seed = int(re.match(r"seed(\d+)", cell).group(1))
        train, _, _ = tasks[task_name].splits(seed)
        runs += 1
        seed_prompt = tasks[task_name].seed_prompt
        seed_text = seed_prompt if isinstance(seed_prompt, str) else "\n".join(seed_prompt.values())
        shown: dict[str, tuple[list[str], str]] = {}  # candidate id -> (its texts and rules, its whole prompt)
        for line in open(log):
            event = json.loads(line)
            if event.get("type") != "candidate":
                continue
            candidate = event["candidate"]
            texts = [t for component in candidate["components"].values()
                     for t in [component.get("text", ""), *(r["text"] for r in component.get("rules", []))]]
            shown[candidate["id"]] = (texts, Candidate.model_validate(candidate).prompt)
            # As the loop checks them: only what the child adds, against its parent's whole prompt, worked
            # examples included (the seed's text when the parent is the seed, which the log does not list).
            parents = [shown.get(pid, ([seed_text], seed_text)) for pid in candidate.get("parent_ids", [])]
            parent = [t for texts_, _ in parents for t in texts_]
            allowed = "\n".join(prompt for _, prompt in parents) or seed_text
            for text in texts:
                if text in parent:
                    continue
                now = guards.training_leak(text, train, allowed=allowed)
                if now and not old(text, train, allowed=allowed):
                        hits += 1
                        print(f"{parts[-7]} {task_name} {method} seed {seed}: {now} | {text[:100]}")
    print(f"{runs} run logs, {hits} texts newly refused")


if __name__ == "__main__":
    main()
