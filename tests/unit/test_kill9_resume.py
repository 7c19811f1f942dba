"""A real kill -9 in the middle of a run, then resume: same result, only lost work redone."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from _crash_worker import CONFIG, build
from fakes import JUDGE, parity_examples

from promptlearn import optimize
from promptlearn.store import read_events

HERE = Path(__file__).parent


def test_kill_minus_9_then_resume(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(HERE / "_crash_worker.py"), str(run_dir)],
                            env={**os.environ, "PYTHONPATH": str(HERE.parents[1])})
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until it is well into the run
        if sum(1 for e in read_events(run_dir) if e["type"] == "result") >= 20:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done_before = sum(1 for e in read_events(run_dir) if e["type"] == "result")
    assert not any(e["type"] == "end" for e in read_events(run_dir))

    agent, opt = build(slow=False)
    resumed = optimize(agent, "Answer even or odd.", parity_examples(20), parity_examples(10, 100), judges=JUDGE,
                       optimizer_llm=opt, config=CONFIG, run_dir=run_dir, resume=True, progress=False)
    agent2, opt2 = build(slow=False)
    reference = optimize(agent2, "Answer even or odd.", parity_examples(20), parity_examples(10, 100), judges=JUDGE,
                         optimizer_llm=opt2, config=CONFIG, progress=False)
    strip = lambda h: [{k: v for k, v in r.items() if k != "wall_s"} for r in h]  # noqa: E731
    assert resumed.best.id == reference.best.id
    assert strip(resumed.history) == strip(reference.history)
    assert len(agent.llm.requests) == reference.usage["rollouts"] - done_before
