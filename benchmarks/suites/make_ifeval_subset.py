"""data/ifeval_supported.jsonl: the IFEval prompts (Apache-2.0, ../shared/data/ifeval) whose every
instruction has a checker in benchmarks/judges/ifeval_checks.py, so the ground truth is exact.

    python benchmarks/suites/make_ifeval_subset.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "judges"))

from ifeval_checks import CHECKERS  # noqa: E402

SOURCE = HERE.parents[2] / "shared" / "data" / "ifeval" / "input_data_shared.jsonl"


def main() -> None:
    rows = [json.loads(line) for line in SOURCE.read_text().splitlines() if line.strip()]
    kept = [r for r in rows if all(i in CHECKERS for i in r["instruction_id_list"])]
    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "data" / "ifeval_supported.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    print(f"kept {len(kept)} of {len(rows)} prompts")


if __name__ == "__main__":
    main()
