from importlib import resources

import pytest
from fakes import GOOD_RULE, JUDGE, make_agent, make_optimizer_llm, parity_examples

from promptlearn import Example, Rollout
from promptlearn.app.cli import main
from promptlearn.app.spec import RunSpec
from promptlearn.errors import ConfigError


def test_models_list(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLEARN_MODEL_DIR", str(tmp_path))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "local/qwen2.5-coder-0.5b" in out and "missing" in out


def test_chat_with_missing_model_prints_pull_command(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTLEARN_MODEL_DIR", str(tmp_path))
    assert main(["chat", "hi", "--model", "local/qwen2.5-coder-0.5b", "--no-cache"]) == 2
    assert "promptlearn models pull qwen2.5-coder-0.5b" in capsys.readouterr().err


def test_report_command_rerenders(tmp_path, capsys):
    from promptlearn import OptimizeConfig, optimize

    agent, _ = make_agent()
    optimize(agent, "Answer even or odd.", parity_examples(12), parity_examples(6, 100), judges=JUDGE,
             optimizer_llm=make_optimizer_llm([GOOD_RULE]), config=OptimizeConfig(max_iterations=2, minibatch_size=4),
             run_dir=tmp_path / "run", progress=False)
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html")]) == 0
    assert "Best prompt" in (tmp_path / "r.html").read_text()
    assert main(["report", str(tmp_path / "nothing")]) == 2


def test_run_spec_validation(tmp_path):
    (tmp_path / "data.jsonl").write_text("".join(f'{{"q": "{i}", "a": "x"}}\n' for i in range(10)))
    good = tmp_path / "good.yaml"
    good.write_text("""
data: {path: data.jsonl, inputs: [q], reference: a, split: {train: 4, val: 3, test: 3}}
agent: {model: local/qwen2.5-coder-0.5b, user_template: "{{ q }}"}
optimizer: {model: local/qwen2.5-coder-1.5b}
seed_prompt: Answer.
judges: [{type: exact_match}]
optimize: {max_iterations: 3, budget: {max_rollouts: 50}}
""")
    spec = RunSpec.from_yaml(good)
    assert spec.optimize.max_iterations == 3 and spec.optimize.budget.max_rollouts == 50
    assert spec.task.data.path == str(tmp_path / "data.jsonl")  # relative to the config file
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("max_iterations: 3", "max_iteratoins: 3"))
    with pytest.raises(ConfigError, match="max_iteratoins"):
        RunSpec.from_yaml(bad)
    with pytest.raises(ConfigError, match="not found"):
        RunSpec.from_yaml(tmp_path / "missing.yaml")


def test_run_config_uses_library_judges_by_name_or_path(tmp_path):
    (tmp_path / "data.jsonl").write_text("".join(f'{{"q": "{i}", "a": "x"}}\n' for i in range(10)))
    (tmp_path / "mine.yaml").write_text((resources.files("promptlearn.prompts") / "judges" / "criteria.yaml").read_text()
                                        .replace("name: criteria", "name: mine"))
    base = """
data: {path: data.jsonl, inputs: [q], reference: a, split: {train: 4, val: 3, test: 3}}
agent: {model: openai/gpt-4o-mini, user_template: "{{ q }}"}
optimizer: {model: openai/gpt-4o-mini}
seed_prompt: Answer.
"""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(base + """judges:
  - {type: library, judge: answer_match}
  - {type: library, judge: mine.yaml, params: {criteria: "is short"}, name: brevity, weight: 0.5}
""")
    optimizer, *_ = RunSpec.from_yaml(cfg).build()
    assert [j.name for j in optimizer.panel.judges] == ["answer_match", "brevity"]
    assert "is short" in optimizer.panel.judges[1].prompt(Example(id="1", inputs={"q": "hi"}),
                                                          Rollout(example_id="1", candidate_id="c", output="yo"))
    for judges, error in [("[{type: library}]", "needs judge"), ("[{type: library, judge: pairwise}]", "two outputs"),
                          ("[{type: library, judge: nope}]", "known judges: answer_match")]:
        cfg.write_text(base + "judges: " + judges + "\n")
        with pytest.raises(ConfigError, match=error):
            RunSpec.from_yaml(cfg).build()


def test_optimize_command_bad_config_is_clear(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: {inputs: q}\n")
    assert main(["optimize", str(cfg)]) == 2
    assert "not a valid task" in capsys.readouterr().err


def test_judges_list(capsys):
    assert main(["judges", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("correctness", "label_correctness", "criteria", "rule_compliance", "format_compliance",
                 "faithfulness", "pairwise"):
        assert name in out


def test_judges_calibrate_bad_inputs(tmp_path, capsys):
    assert main(["judges", "calibrate", "nope", "--data", str(tmp_path / "x.jsonl"), "--model", "openai/x"]) == 2
    assert "known judges" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "q", "output": "a", "label": "maybe"}\n')
    assert main(["judges", "calibrate", "correctness", "--data", str(bad), "--model", "openai/x"]) == 2
    assert "not true/false" in capsys.readouterr().err


def test_version_answers(capsys):
    import pytest

    from promptlearn import __version__
    from promptlearn.app.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"promptlearn {__version__}"
