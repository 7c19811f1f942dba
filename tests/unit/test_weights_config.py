"""promptlearn.weights without torch: the missing-extra error, model folder checks, settings."""

import json
import subprocess
import sys

import pytest

from promptlearn import ConfigError
from promptlearn.weights import WEIGHTS_EXTRA, GRPOSettings, require
from promptlearn.weights.models import check_causal_lm, hf_model


def test_a_missing_extra_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(ConfigError, match=r'peft: pip install "promptlearn\[weights\]"'):
        require()
    assert WEIGHTS_EXTRA == 'pip install "promptlearn[weights]"'


def test_model_folders_must_hold_a_causal_lm(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        check_causal_lm(tmp_path)
    (tmp_path / "config.json").write_text('{"architectures": ["BertForSequenceClassification"]}')
    with pytest.raises(ConfigError, match="not a causal language model"):
        hf_model(tmp_path)
    (tmp_path / "config.json").write_text('{"architectures": ["Qwen2ForCausalLM"]}')
    assert hf_model(tmp_path) == tmp_path
    with pytest.raises(ConfigError, match="neither a model folder nor an embedded model"):
        hf_model("local/no-such-model")


def test_grpo_counts_every_sample_as_a_rollout():
    assert GRPOSettings(max_steps=5, prompts_per_step=2, num_generations=4).rollouts == 40


def test_importing_the_weights_package_loads_no_torch():
    code = "import sys, promptlearn.weights as w; w.SFTSettings(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_judges_become_grpo_rewards_with_their_explanations_logged(tmp_path):
    from promptlearn import ExactMatch, Example, FunctionJudge
    from promptlearn.judges.base import JudgePanel
    from promptlearn.weights.grpo import judge_reward

    examples = {"a": Example(id="a", inputs={"input": "x"}, reference="go"),
                "b": Example(id="b", inputs={"input": "y"}, reference="stop")}
    short = FunctionJudge(lambda e, out: (float(len(out) <= 4), "short enough" if len(out) <= 4 else "too long"),
                          name="short")
    reward = judge_reward(JudgePanel([ExactMatch(), short], [3.0, 1.0]), examples, tmp_path / "rewards.jsonl",
                          parse=lambda text: text.splitlines()[0])
    completions = [[{"role": "assistant", "content": "go\nbecause"}], [{"role": "assistant", "content": "halt now"}]]
    assert reward(prompts=[[], []], completions=completions, example_id=["a", "b"]) == [1.0, 0.0]
    log = [json.loads(line) for line in (tmp_path / "rewards.jsonl").read_text().splitlines()]
    assert [entry["output"] for entry in log] == ["go", "halt now"]  # the parser ran before the judges
    assert "too long" in log[1]["critiques"][1] and all(len(entry["critiques"]) == 2 for entry in log)
    # Plain-text completions (TRL's non-chat datasets) are judged the same way.
    assert reward(prompts=["", ""], completions=["stop", "go"], example_id=["b", "b"]) == [1.0, 0.25]


def test_a_saved_comparison_reads_back_into_a_table_and_a_chart(tmp_path):
    from promptlearn.weights import comparison_table, load_comparison, plot_comparison

    arms = [{"method": "seed", "budget": 100, "test": 0.5, "test_ci95": [0.4, 0.6], "rollouts": 0, "examples_seen": 0,
             "wall_s": 3.0, "engine": "transformers:m", "prompt": "p", "adapter": None, "tokens": 0, "device": "cpu"},
            {"method": "sft", "budget": 100, "test": 0.75, "test_ci95": [0.65, 0.85], "rollouts": 0, "examples_seen": 100,
             "wall_s": 60.0, "engine": "transformers:m+adapter", "prompt": "p", "adapter": "a", "tokens": 900,
             "device": "cpu"}]
    (tmp_path / "comparison.jsonl").write_text("\n".join(json.dumps(a) for a in arms) + "\n")
    frame = load_comparison(tmp_path)
    assert list(frame["method"]) == ["seed", "sft"] and frame["test_ci95"].iloc[1] == (0.65, 0.85)
    table = comparison_table(frame)
    assert "| sft | 100 | 75.0% [65.0, 85.0] | 0 | 100 | 60 | cpu | transformers:m+adapter |" in table
    assert plot_comparison(frame, tmp_path / "chart.png").stat().st_size > 1000
    (tmp_path / "bad.jsonl").write_text(json.dumps(arms[0]) + "\n{not json\n")
    with pytest.raises(ConfigError, match="bad.jsonl, line 2: not valid JSON"):
        load_comparison(tmp_path / "bad.jsonl")
    with pytest.raises(ConfigError, match="no comparison results"):
        load_comparison(tmp_path / "missing")


def test_sft_batches_are_full_cover_each_epoch_and_repeat_after_a_resume():
    from promptlearn.weights.sft import _batch_indices

    steps = [_batch_indices(step, 4, 6, seed=1) for step in range(3)]  # 12 positions = two epochs of 6
    assert all(len(batch) == 4 for batch in steps)  # a batch spans the epoch boundary instead of running short
    stream = [i for batch in steps for i in batch]
    assert sorted(stream[:6]) == sorted(stream[6:]) == list(range(6)) and stream[:6] != stream[6:]
    assert _batch_indices(2, 4, 6, seed=1) == steps[2]  # what a resumed run at step 2 trains on
