"""Weight tuning with the real 0.5B through transformers, on the CPU: LoRA SFT (with resume), GRPO with
judge rewards, transformers_agent (a ChatAgent on the transformers backend), and the bad inputs the issue lists."""

import json

import pytest

from promptlearn import Candidate, ConfigError, ExactMatch
from promptlearn.agents import first_line
from promptlearn.app.quickstart import SNIPS_SEED_PROMPT, SNIPS_USER_TEMPLATE, snips_task
from promptlearn.weights import GRPOSettings, SFTSettings, train_grpo, train_sft, transformers_agent
from promptlearn.weights.models import hf_model

pytestmark = [pytest.mark.weights, pytest.mark.local]
MODEL = "local/qwen2.5-coder-0.5b"


@pytest.fixture(scope="module")
def task():
    return snips_task(n_train=14, n_val=7, n_test=7, seed=3)


def test_the_embedded_model_converts_once_into_a_causal_lm_folder():
    folder = hf_model(MODEL)
    assert (folder / "config.json").exists() and "ForCausalLM" in (folder / "config.json").read_text()
    assert hf_model(MODEL) == folder and hf_model(folder) == folder  # cached; a folder is taken as is


def test_sft_trains_checkpoints_and_resumes(task, tmp_path):
    train, _, test = task
    settings = SFTSettings(max_steps=2, batch_size=2, checkpoint_every=1, train_system_prompt=SNIPS_SEED_PROMPT)
    first = train_sft(MODEL, train[:4], tmp_path / "sft", user_template=SNIPS_USER_TEMPLATE, settings=settings,
                      progress=False)
    assert first.steps == 2 and first.examples_seen == 4 and first.resumed_from is None and len(first.losses) == 2
    assert sorted(p.name for p in (tmp_path / "sft").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    # As if the run had been killed after step 2 of 3: the same folder continues from its checkpoint.
    again = train_sft(MODEL, train[:4], tmp_path / "sft", user_template=SNIPS_USER_TEMPLATE,
                      settings=SFTSettings(max_steps=3, batch_size=2, checkpoint_every=1,
                                           train_system_prompt=SNIPS_SEED_PROMPT), progress=False)
    assert again.resumed_from == 2 and again.steps == 3 and again.losses[:2] == first.losses
    assert json.loads((tmp_path / "sft" / "training.json").read_text())["steps"] == 3
    agent = transformers_agent(MODEL, SNIPS_USER_TEMPLATE, adapter=again.adapter_dir, max_tokens=8, parse=first_line)
    import asyncio

    rollout = asyncio.run(agent.arun(Candidate.create(SNIPS_SEED_PROMPT), test[0]))
    assert rollout.error is None and rollout.output and rollout.cost.completion_tokens > 0


def test_grpo_rewards_samples_with_the_judges(task, tmp_path):
    train, _, _ = task
    summary = train_grpo(MODEL, train[:4], tmp_path / "grpo", judges=ExactMatch(), user_template=SNIPS_USER_TEMPLATE,
                         parse=first_line, progress=False,
                         settings=GRPOSettings(max_steps=1, prompts_per_step=2, num_generations=2,
                                               max_completion_length=6, train_system_prompt=SNIPS_SEED_PROMPT))
    rewards = [json.loads(line) for line in (tmp_path / "grpo" / "rewards.jsonl").read_text().splitlines()]
    assert summary.steps == 1 and summary.rollouts == len(rewards) == 4
    assert all(r["critiques"] and 0.0 <= r["reward"] <= 1.0 for r in rewards)  # the explanation goes to the log
    assert (tmp_path / "grpo" / "adapter" / "adapter_config.json").exists()


def test_bad_inputs_are_clear(task, tmp_path):
    train, _, _ = task
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"architectures": ["BertModel"]}')
    with pytest.raises(ConfigError, match="not a causal language model"):
        train_sft(tmp_path / "bert", train, tmp_path / "out", progress=False)
    with pytest.raises(ConfigError, match="nothing to train"):
        train_sft(MODEL, train[:2], tmp_path / "out", user_template=SNIPS_USER_TEMPLATE,
                  settings=SFTSettings(max_steps=0), progress=False)
    with pytest.raises(ConfigError, match="needs judges"):
        train_sft(MODEL, train[:2], tmp_path / "out", user_template=SNIPS_USER_TEMPLATE,
                  settings=SFTSettings(source="judged"), progress=False)
    with pytest.raises(ConfigError, match="user template needs"):
        train_sft(MODEL, train[:2], tmp_path / "out", settings=SFTSettings(max_steps=1), progress=False)
    with pytest.raises(ConfigError, match="at least 2"):
        train_grpo(MODEL, train, tmp_path / "g", judges=ExactMatch(), settings=GRPOSettings(num_generations=1))
    with pytest.raises(ConfigError, match="not a LoRA adapter"):
        transformers_agent(MODEL, adapter=tmp_path)
    from promptlearn.weights import compare_prompt_vs_weights

    with pytest.raises(ConfigError, match=r"\['promptlearn'\] search prompts: pass agent_llm and optimizer_llm"):
        compare_prompt_vs_weights(MODEL, train, train, train, judges=[ExactMatch()], seed_prompt="Classify.",
                                  output_dir=tmp_path / "cmp", methods=["seed", "promptlearn"])
    assert not (tmp_path / "cmp").exists()  # refused before anything was written


def test_bench_scores_every_weight_method_with_one_engine(tmp_path):
    """`promptlearn bench --methods seed,sft,grpo,promptlearn+sft --engine transformers` on a tiny SNIPS task."""
    from promptlearn.app.cli import main
    from promptlearn.app.quickstart import SNIPS_SEED_PROMPT as seed_prompt

    train, val, test = snips_task(n_train=6, n_val=4, n_test=6, seed=1)
    rows = [{"id": e.id, "text": e.inputs["text"], "label": e.reference} for e in [*train, *val, *test]]
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "task.yaml").write_text(json.dumps({
        "name": "snips_tiny", "description": "classify requests", "data": {"path": "data.jsonl", "inputs": "text",
                                                                           "reference": "label", "id_column": "id"},
        "split": {"train": 6, "val": 4, "test": 6, "stratify": False}, "seed_prompt": seed_prompt,
        "agent": {"user_template": SNIPS_USER_TEMPLATE, "max_tokens": 8}}))
    results = tmp_path / "r.jsonl"
    assert main(["bench", str(tmp_path / "task.yaml"), "--methods", "seed,sft,grpo,promptlearn+sft", "--seeds", "0",
                 "--budget", "8",
                 "--engine", "transformers", "--results", str(results), "--quiet"]) == 0
    records = {r["method"]: r for r in map(json.loads, results.read_text().splitlines())}
    for method in ("sft", "grpo", "promptlearn+sft"):
        record = records[method]
        assert record["status"] == "ok" and record["adapter"], (method, record.get("error"))
        assert record["engine"] == "transformers"
        assert record["seed_test"] == records["seed"]["test"]  # the same base model scored the seed prompt
    assert records["sft"]["details"]["examples_seen"] == 8 and records["sft"]["rollouts"] == 0  # 2 full batches of 4
    assert records["grpo"]["rollouts"] == 8  # budget 8 = one step of 2 prompts x 4 samples, each a rollout
    distilled = records["promptlearn+sft"]
    assert distilled["rollouts"] > 8 and distilled["details"]["teacher_prompt"]  # the search, then judged samples
