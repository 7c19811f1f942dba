"""The bench's HTML page in a real headless browser (Chromium from the OS packages): it renders with no console
errors, its charts decode, and the text a person reads holds no NaN and no raw floats.

Chromium is not a Python package: `.ci/run` installs it with apt where it can and then sets
PROMPTLEARN_REQUIRE_CHROMIUM=1, which turns a missing browser into a failure instead of a skip.
"""

import os
import re
import shutil
import subprocess

import pytest

from promptlearn.bench import write_report

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
if BROWSER is None and os.environ.get("PROMPTLEARN_REQUIRE_CHROMIUM") != "1":
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)


def _record(task, method, seed, scores, *, rollouts=100, seed_scores=None):
    seed_scores = seed_scores or [0.0] * len(scores)
    test = sum(scores) / len(scores)
    return {"key": f"{task}{method}{seed}", "status": "ok", "task": task, "method": method, "seed": seed, "budget": 100,
            "test": test, "test_ci95": [max(0.0, test - 0.1), min(1.0, test + 0.1)], "seed_test": 0.25,
            "gain": test - 0.25, "rollouts": 0 if method == "seed" else rollouts, "optimize_wall_s": 12.345678,
            "test_scores": {f"e{i}": s for i, s in enumerate(scores)}, "best_prompt": f"{method} prompt for {task}",
            "judge_agreement": None, "own_adapter_test": None, "seed_scores": seed_scores}


def _browse(page, *flags):
    done = subprocess.run([BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                           "--v=0", "--virtual-time-budget=5000", *flags, page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    return done


def test_the_bench_page_renders_without_console_errors_nan_or_raw_floats(tmp_path):
    records = [_record(task, method, seed, scores)
               for task in ("snips", "hover")
               for seed in (0, 1)
               for method, scores in (("seed", [0.0, 1.0, 0.0, 0.0] * 5), ("promptlearn", [1.0, 1.0, 0.0, 1.0] * 5),
                                      ("gepa", [1.0, 0.0, 0.0, 0.0] * 5))]
    records.append({**_record("hover", "dspy-miprov2", 0, [1.0] * 20), "test_ci95": None, "gain": float("nan")})
    paths = write_report(records, tmp_path / "report")
    page = paths["html"]
    dom = _browse(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    text = re.sub(r"<[^>]+>", " ", re.sub(r"src=['\"]data:[^'\"]+['\"]", "", dom.stdout))
    assert "NaN" not in text and "nan" not in text.split()
    assert not re.findall(r"\d\.\d{4,}", text), re.findall(r"\d\.\d{4,}", text)[:5]
    assert "75.0%" in text and "+50.0" in text and "promptlearn vs gepa" in text
    assert dom.stdout.count("<img") == 2  # one chart per task
    assert "background:#d7f5dc" in dom.stdout  # a win is coloured
    shot = tmp_path / "page.png"
    done = _browse(page, f"--screenshot={shot}", "--window-size=1280,1600")
    assert done.returncode == 0 and shot.stat().st_size > 20_000  # the charts and tables painted
