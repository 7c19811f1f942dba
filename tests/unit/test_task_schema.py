"""One task schema (issue 27): `promptlearn optimize` and `promptlearn bench` read the same task YAML."""

import json
from pathlib import Path

import pytest
from fakes import GOOD_RULE

from promptlearn import ChatAgent
from promptlearn.app.cli import main
from promptlearn.app.spec import RunSpec
from promptlearn.bench.task import load_suite
from promptlearn.config import DEFAULT_AGENT_MODEL, DEFAULT_REWRITER_MODEL
from promptlearn.errors import ConfigError
from promptlearn.pipeline import PipelineAgent
from promptlearn.task import load_task

TASK = """
name: parity
description: say whether a number is even or odd
data: {path: numbers.jsonl, inputs: [n], reference: label, id_column: id}
split: {train: 6, val: 6, test: 8}
agent: {user_template: "Number: {{ n }}", max_tokens: 4}
seed_prompt: Answer even or odd.
"""


def write_data(folder: Path, name: str = "numbers.jsonl", start: int = 0, n: int = 20) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps({"id": str(i), "n": i, "label": "even" if i % 2 == 0 else "odd"})
                                       + "\n" for i in range(start, start + n)))


def test_a_bench_task_file_is_an_optimize_config_with_the_local_models(tmp_path):
    write_data(tmp_path)
    (tmp_path / "parity.yaml").write_text(TASK)
    spec = RunSpec.from_yaml(tmp_path / "parity.yaml")
    assert spec.task == load_task(tmp_path / "parity.yaml")
    assert (spec.models.agent.model, spec.models.optimizer.model) == (DEFAULT_AGENT_MODEL, DEFAULT_REWRITER_MODEL)
    optimizer, train, val, test = spec.build()
    assert (len(train), len(val), len(test)) == (6, 6, 8)
    # the split is the bench's split of the same seed: one task, one set of examples
    assert [e.id for e in test] == [e.id for e in load_suite([tmp_path / "parity.yaml"])[0].splits(0)[2]]
    assert isinstance(optimizer.agent, ChatAgent) and optimizer.agent.max_tokens == 4
    assert optimizer.agent.llm.model == DEFAULT_AGENT_MODEL
    swapped = spec.with_models(agent="openai/gpt-4o-mini")
    assert swapped.models.agent.model == "openai/gpt-4o-mini" and swapped.models.optimizer == spec.models.optimizer


def test_a_config_names_its_task_and_adds_run_settings(tmp_path):
    write_data(tmp_path / "tasks")
    (tmp_path / "tasks" / "parity.yaml").write_text(TASK)
    (tmp_path / "run.yaml").write_text("""
task: tasks/parity.yaml
models: {agent: openai/gpt-4o-mini, optimizer: {model: openai/gpt-4o, temperature: 0.3}}
optimize: {max_iterations: 2}
split_seed: 3
""")
    spec = RunSpec.from_yaml(tmp_path / "run.yaml")
    assert spec.task.name == "parity" and spec.optimize.max_iterations == 2
    assert spec.models.optimizer.temperature == 0.3 and spec.models.agent.model == "openai/gpt-4o-mini"
    _, _, _, test = spec.build()
    assert [e.id for e in test] == [e.id for e in spec.task.splits(3)[2]] != [e.id for e in spec.task.splits(0)[2]]
    # run settings beside a task's own fields, in one file
    (tmp_path / "tasks" / "inline.yaml").write_text(TASK + "optimize: {patience: 1}\nrun_dir: runs/x\n")
    inline = RunSpec.from_yaml(tmp_path / "tasks" / "inline.yaml")
    assert inline.optimize.patience == 1 and inline.run_dir == "runs/x" and inline.task.name == "parity"
    (tmp_path / "bad.yaml").write_text("task: tasks/parity.yaml\nseed_prompt: hi\n")
    with pytest.raises(ConfigError, match="other keys must be run settings"):
        RunSpec.from_yaml(tmp_path / "bad.yaml")


def test_the_earlier_run_layout_keeps_its_meaning(tmp_path):
    """`data: {split: {...}}` and `agent: {model: ...}` configs still load: fractions, no stratification,
    the whole reply (first_line_only unset), no token limit, the split's seed, and a judge-only task."""
    write_data(tmp_path, n=40)
    (tmp_path / "old.yaml").write_text("""
data: {path: numbers.jsonl, inputs: [n], reference: label, id_column: id, split: {seed: 5}}
agent: {model: openai/gpt-4o-mini, user_template: "{{ n }}", temperature: 0.2}
optimizer: {model: openai/gpt-4o, max_tokens: 100}
seed_prompt: Answer.
judges: [{type: exact_match}]
""")
    spec = RunSpec.from_yaml(tmp_path / "old.yaml")
    assert spec.split_seed == 5 and spec.models.agent.temperature == 0.2
    assert spec.task.split is not None and (spec.task.split.train, spec.task.split.stratify) == (0.4, False)
    assert spec.task.agent.parse == "whole" and spec.task.agent.max_tokens is None
    optimizer, train, val, test = spec.build()
    assert (len(train), len(val), len(test)) == (16, 12, 12) and optimizer.agent.parse is None
    (tmp_path / "old_judged.yaml").write_text("""
data: {train_path: numbers.jsonl, val_path: numbers.jsonl, inputs: [n]}
agent: {model: openai/gpt-4o-mini, user_template: "{{ n }}", first_line_only: true, max_tokens: 9}
optimizer: {model: openai/gpt-4o}
seed_prompt: Answer.
judges: [{type: llm, rubric: is it short}]
""")
    judged = RunSpec.from_yaml(tmp_path / "old_judged.yaml")
    assert judged.task.metric is None and judged.task.agent.parse == "first_line"
    assert judged.task.agent.max_tokens == 9
    _, train, val, test = judged.build()
    assert len(train) == len(val) == 40 and test == []


def test_files_already_split_in_the_bench(tmp_path):
    write_data(tmp_path, "train.jsonl", 0, 10)
    write_data(tmp_path, "val.jsonl", 10, 6)
    write_data(tmp_path, "test.jsonl", 16, 8)
    presplit = TASK.replace("{path: numbers.jsonl,", "{train_path: train.jsonl, val_path: val.jsonl, "
                                                     "test_path: test.jsonl,").replace("split: {train: 6, val: 6, test: 8}\n", "")
    (tmp_path / "presplit.yaml").write_text(presplit)
    (task,) = load_suite([tmp_path / "presplit.yaml"])
    train, val, test = task.splits(0)
    assert [e.id for e in test] == [str(i) for i in range(16, 24)] and task.splits(1)[2] == test
    assert len(train) == 10 and len(val) == 6
    before = task.fingerprint()
    (tmp_path / "test.jsonl").write_text((tmp_path / "test.jsonl").read_text().replace('"odd"', '"ODD"'))
    assert load_task(tmp_path / "presplit.yaml").fingerprint() != before  # every file's bytes count
    for text, error in [(presplit + "split: {train: 2, val: 2}\n", "already split"),
                        (presplit.replace("train_path: train.jsonl, ", "path: numbers.jsonl, "), "not both"),
                        (TASK.replace("split: {train: 6, val: 6, test: 8}\n", ""), "needs split"),
                        (presplit.replace("train_path: train.jsonl, ", ""), "train_path and val_path")]:
        write_data(tmp_path)
        (tmp_path / "wrong.yaml").write_text(text)
        with pytest.raises(ConfigError, match=error):
            load_task(tmp_path / "wrong.yaml")


def test_the_bench_needs_a_metric_and_a_test_set(tmp_path):
    write_data(tmp_path)
    for text, error in [(TASK + "metric: null\n", "metric:, and it is null"),
                        (TASK.replace("test: 8", "test: 0"), "needs a test set")]:
        (tmp_path / "t.yaml").write_text(text)
        load_task(tmp_path / "t.yaml")  # a task promptlearn optimize can run
        with pytest.raises(ConfigError, match=error):
            load_suite([tmp_path / "t.yaml"])


def test_optimize_runs_a_multi_step_task(tmp_path):
    """agent.steps (a PipelineAgent) works in `promptlearn optimize` as in the bench."""
    write_data(tmp_path)
    (tmp_path / "steps.yaml").write_text(TASK.replace(
        'agent: {user_template: "Number: {{ n }}", max_tokens: 4}\nseed_prompt: Answer even or odd.\n',
        'agent:\n  steps:\n  - {component: think, user_template: "{{ n }}"}\n'
        '  - {component: answer, user_template: "{{ n }} {{ think }}"}\n'
        'seed_prompt: {think: Think., answer: Answer even or odd.}\n'))
    optimizer, *_ = RunSpec.from_yaml(tmp_path / "steps.yaml").build()
    assert isinstance(optimizer.agent, PipelineAgent)


def test_optimize_command_runs_a_task_file(tmp_path, capsys, monkeypatch):
    """The CLI end to end on a task file, models swapped by flag, the LLMs faked."""
    from fakes import optimizer_handler

    import promptlearn.llm as llm_module
    from promptlearn import FakeLLM

    write_data(tmp_path)
    (tmp_path / "parity.yaml").write_text(TASK + "optimize: {max_iterations: 1, minibatch_size: 4}\n")
    made = []

    def parity(request):
        return "even" if int(request.messages[-1]["content"].split()[-1]) % 2 == 0 else "odd"

    class RoutedLLM(FakeLLM):
        def __init__(self, model, **kw):
            made.append(model)
            super().__init__(optimizer_handler([GOOD_RULE]) if kw.get("role") == "optimizer" else parity,
                             model=model, **kw)

    monkeypatch.setattr(llm_module, "LLM", RoutedLLM)
    assert main(["optimize", str(tmp_path / "parity.yaml"), "--agent", "fake/agent", "--rewriter", "fake/rw",
                 "--budget", "7", "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert made[:2] == ["fake/rw", "fake/agent"] and "Test score (8 examples): 1.000 -> 1.000" in out
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["budget"]["max_rollouts"] == 7
