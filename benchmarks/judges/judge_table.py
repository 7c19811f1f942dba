"""Print the judge-agreement table of judges/README.md from the stored calibration reports.

    python benchmarks/judges/judge_table.py        # markdown, one row per benchmarks/judges/calibration/results/*.json

Numbers are copied from the reports, never typed by hand; the reports come from
``bash benchmarks/judges/calibrate_judges.sh``.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "calibration" / "results"
DATA = {"bbh_boolean_expressions": "BBH boolean_expressions", "snips": "SNIPS intents", "gsm8k": "GSM8K",
        "ifeval": "IFEval", "hotpotqa_faithfulness": "HotpotQA passages", "snips_pairwise": "SNIPS pairs"}


def _model(report: dict) -> str:
    return report["model"].rsplit("-", 1)[-1].upper()


def _data(report: dict) -> str:
    return DATA.get(Path(report["data"]).stem, Path(report["data"]).stem)


def row(name: str, report: dict) -> str:
    seconds = f"{report['seconds_per_verdict']:.1f}"
    failed = report.get("failed_verdicts", 0)
    n = report["n"]
    if "consistent_rate" in report:  # pairwise
        confusion = ", ".join(f"{k}: {v}" for k, v in report["confusion"].items())
        decisive = {k: v for k, v in report["confusion"].items() if not k.endswith("tie")}
        right = sum(v for k, v in decisive.items() if k[0] == k[-1])
        notes = (f"right in {right} of {sum(decisive.values())} non-tie verdicts; "
                 f"one order alone: {report['first_order_accuracy']:.2f}; orders agree {report['consistent_rate']:.2f}; "
                 f"shown-first picked {report['shown_first_preference'] or 0:.2f}")
        return (f"| `{name}` | {_data(report)} ({n} pairs) | {_model(report)} | {report['accuracy']:.2f} | "
                f"{report['kappa']:.2f} | {confusion} | {failed} | {seconds} | {notes} |")
    c = report["confusion"]
    unit = f"{n} rule verdicts" if report.get("unit") == "rule" else f"{n} items"
    notes = []
    if report.get("unit") == "rule":
        items = report["items"]
        notes.append(f"item level (score >= 0.5): acc {items['accuracy']:.2f}")
    measured_as = report["judge"].split("@")[0]
    if report.get("params"):  # the library judge with --param values
        notes.append(f"`{measured_as}` with " + ", ".join(f"{k}={json.dumps(v)}" for k, v in report["params"].items()))
    elif not name.startswith(measured_as + "-"):  # a prompt renamed after it was measured
        notes.append(f"measured when this prompt was named `{measured_as}`")
    if "mean_self_agreement" in report:
        notes.append(f"mean self-agreement {report['mean_self_agreement']:.2f}")
    return (f"| `{name}` | {_data(report)} ({unit}) | {_model(report)} | {report['accuracy']:.2f} | "
            f"{report['kappa']:.2f} | {c['tp']}/{c['fn']}/{c['fp']}/{c['tn']} | {failed} | {seconds} | "
            f"{'; '.join(notes)} |")


def main() -> None:
    print("| report | data | judge model | accuracy | Cohen's κ | confusion (tp/fn/fp/tn) | failed | s / verdict | notes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in sorted(RESULTS.glob("*.json")):
        print(row(path.stem, json.loads(path.read_text())))


if __name__ == "__main__":
    main()
