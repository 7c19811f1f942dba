"""Served models: the 0.5B behind a real OpenAI-compatible server (llama-cpp-python's server on 127.0.0.1), reached
through the litellm layer as ``openai/NAME`` with ``api_base``, as a vLLM or provider endpoint would be.

Checks that a served agent scores what the in-process engine scores (the same GGUF, greedy decoding), that an
optimisation runs on it, and that ``promptlearn bench --agent openai/... --api-base URL`` runs a cell.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from promptlearn import LLM, Budget, ChatAgent, ExactMatch, OptimizeConfig, PromptOptimizer
from promptlearn.app.cli import main
from promptlearn.app.quickstart import SNIPS_SEED_PROMPT, SNIPS_TASK, SNIPS_USER_TEMPLATE, snips_task
from promptlearn.bench import load_results
from promptlearn.llm.local_models import resolve_model_path

pytestmark = pytest.mark.local
SERVED = "openai/qwen-0.5b"
KEY = "sk-local-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python's server extra (promptlearn[local] brings it)")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model",
                             str(resolve_model_path("qwen2.5-coder-0.5b")), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--model_alias", "qwen-0.5b", "--verbose", "False"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(base + "/models", timeout=2) as reply:
                assert reply.status == 200
                break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"the server did not start: {proc.stderr.read()[-2000:] if proc.stderr else ''}")
            time.sleep(1)
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def _agent(llm: LLM) -> ChatAgent:
    return ChatAgent(llm, SNIPS_USER_TEMPLATE, max_tokens=12)


def test_a_served_agent_scores_what_the_in_process_engine_scores(server, tmp_path):
    train, val, _ = snips_task(n_train=10, n_val=14, n_test=7, seed=1)
    served = LLM(SERVED, api_base=server, api_key=KEY, temperature=0.0, cache="off", role="agent")
    local = LLM("local/qwen2.5-coder-0.5b", temperature=0.0, cache="off", role="agent")
    evaluations = {name: PromptOptimizer(_agent(llm), ExactMatch(), optimizer_llm=llm).evaluate(SNIPS_SEED_PROMPT, val)
                   for name, llm in (("served", served), ("local", local))}
    scores = {name: [ev.scores[e.id] for e in val] for name, ev in evaluations.items()}
    # Same weights and greedy decoding; the two engines may batch and sample tokens differently, so allow
    # two answers of fourteen to differ.
    assert sum(a != b for a, b in zip(scores["served"], scores["local"])) <= 2, scores
    assert served.usage.total().calls == len(val) and not any(r.rollout.error for r in evaluations["served"].results.values())


def test_an_optimisation_runs_on_a_served_agent(server, tmp_path):
    train, val, _ = snips_task(n_train=10, n_val=7, n_test=7, seed=2)
    agent = _agent(LLM(SERVED, api_base=server, api_key=KEY, cache=tmp_path / "c.sqlite", role="agent",
                       max_concurrency=2))
    optimizer = PromptOptimizer(agent, ExactMatch(), optimizer_llm=LLM("local/qwen2.5-coder-1.5b", cache=tmp_path / "c.sqlite"),
                                config=OptimizeConfig(max_iterations=1, minibatch_size=4, explain_failures=0,
                                                      task_description=SNIPS_TASK, budget=Budget(max_rollouts=20)))
    result = optimizer.optimize("Reply with the intent of the request.", train, val, run_dir=tmp_path / "run")
    assert len(result.history) == 1 and result.usage["rollouts"] <= 20
    assert result.usage_by_role["agent"]["calls"] >= len(val)


def test_bench_runs_a_cell_on_a_served_agent(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SERVED_KEY", KEY)
    task = {"name": "snips_served", "description": SNIPS_TASK,
            "data": {"path": str(tmp_path / "snips.jsonl"), "inputs": "text", "reference": "intent", "id_column": "id"},
            "split": {"train": 4, "val": 4, "test": 6}, "agent": {"user_template": SNIPS_USER_TEMPLATE, "max_tokens": 12},
            "seed_prompt": SNIPS_SEED_PROMPT}
    train, val, test = snips_task(n_train=4, n_val=4, n_test=6, seed=0)
    (tmp_path / "snips.jsonl").write_text("".join(json.dumps({"id": e.id, "text": e.inputs["text"], "intent": e.reference})
                                                  + "\n" for e in [*train, *val, *test]))
    import yaml

    (tmp_path / "task.yaml").write_text(yaml.safe_dump(task))
    results = tmp_path / "results.jsonl"
    code = main(["bench", str(tmp_path / "task.yaml"), "--methods", "seed", "--seeds", "0", "--agent", SERVED,
                 "--api-base", server, "--api-key-env", "SERVED_KEY", "--max-concurrency", "2",
                 "--results", str(results), "--quiet"])
    assert code == 0, capsys.readouterr().out
    row = load_results(results).iloc[0]
    assert row.status == "ok" and row.agent == SERVED and 0.0 <= row.test <= 1.0
    assert KEY not in results.read_text() and "SERVED_KEY" in results.read_text()  # the variable's name, not the key
    assert os.environ["SERVED_KEY"] == KEY
