"""A tiny real optimisation: 0.5B agent, 1.5B rewriter, SNIPS, a few rounds."""

import pytest

from promptlearn import Budget, OptimizationResult, OptimizeConfig
from promptlearn.app.quickstart import SNIPS_SEED_PROMPT, SNIPS_TASK, make_optimizer, snips_task
from promptlearn.store import read_events

pytestmark = pytest.mark.local


def test_tiny_real_optimization(tmp_path):
    train, val, _ = snips_task(n_train=21, n_val=14, n_test=7, seed=1)
    config = OptimizeConfig(mode="rules", minibatch_size=8, max_iterations=2, patience=2, explain_failures=1, max_cases=6,
                            task_description=SNIPS_TASK, budget=Budget(max_rollouts=80))
    optimizer = make_optimizer(config=config, cache=tmp_path / "cache.sqlite")
    result = optimizer.optimize(SNIPS_SEED_PROMPT, train, val, run_dir=tmp_path / "run")
    assert len(result.history) >= 1
    assert result.best_val >= result.seed_val
    assert result.usage["rollouts"] <= 80
    events = list(read_events(tmp_path / "run"))
    kinds = {e["type"] for e in events}
    assert {"result", "proposal", "round", "end"} <= kinds
    proposal = next(e for e in events if e["type"] == "proposal")
    assert "<case>" in proposal["meta_prompt"]  # the real meta-prompt reached the real rewriter
    assert OptimizationResult.load(tmp_path / "run").best.id == result.best.id
    assert (result.report(tmp_path / "report.html")).stat().st_size > 1000
