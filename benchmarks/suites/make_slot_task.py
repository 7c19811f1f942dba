"""data/snips_weather_slots.jsonl: slot filling on SNIPS GetWeather requests (CC0, ../shared/data/snips_intents),
an extraction task for the good-seed suite (issue 26 asks for extraction beside classification and QA).

    python benchmarks/suites/make_slot_task.py

Each row is one GetWeather request of the shared train file with its gold slots as a JSON object (slot name ->
the words that fill it, as SNIPS annotates them). No GetWeather request names a slot twice, so an object holds
every annotation. ``metrics.py:slot_f1`` scores an answer against it.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = HERE.parents[2] / "shared" / "data" / "snips_intents" / "train.jsonl"
INTENT = "GetWeather"


def main() -> None:
    rows = [json.loads(line) for line in SOURCE.read_text().splitlines() if line.strip()]
    out = []
    for row in rows:
        if row["intent"] != INTENT:
            continue
        spans = [(s["entity"], s["text"].strip()) for s in row["segments"] if "entity" in s]
        if len({name for name, _ in spans}) != len(spans):
            raise SystemExit(f"{row['id']} names a slot twice; the one-object reference cannot hold it")
        out.append({"id": row["id"], "text": row["text"], "slots": json.dumps(dict(spans))})
    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "data" / "snips_weather_slots.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))
    print(f"wrote {len(out)} {INTENT} requests")


if __name__ == "__main__":
    main()
