"""The bad-input catalogue: each case is a mistake a new user makes, and the clear error it gets.

API cases assert the exception type and a message naming the problem. CLI cases assert a non-zero
exit, a one-line ``promptlearn: error: ...`` naming the problem, and no traceback or internal error.
"""

import json
import math

import pandas as pd
import pytest
from fakes import GOOD_RULE, JUDGE, make_agent, make_optimizer_llm, parity_examples
from pydantic import ValidationError

from promptlearn import (
    LLM,
    Budget,
    ChatAgent,
    ExactMatch,
    FakeLLM,
    FunctionJudge,
    JSONSchemaJudge,
    NumericTolerance,
    OptimizationResult,
    OptimizeConfig,
    PromptOptimizer,
    RegexMatch,
    load_examples,
    optimize,
    split_examples,
)
from promptlearn._templating import render
from promptlearn.app.cli import main
from promptlearn.errors import ConfigError, ModelNotFoundError
from promptlearn.judges import JudgePanel, load
from promptlearn.llm import SQLiteCache

TRAIN, VAL = parity_examples(12), parity_examples(6, 100)


def echo(request):
    return "even"


def fake(**kw):
    return FakeLLM(echo, **kw)


def run_opt(seed="Answer even or odd.", train=TRAIN, val=VAL, **kw):
    agent = kw.pop("agent", None) or make_agent()[0]
    kw.setdefault("judges", JUDGE)
    kw.setdefault("optimizer_llm", make_optimizer_llm([GOOD_RULE]))
    return optimize(agent, seed, train, val, progress=False, **kw)


# ---------------------------------------------------------------- files the cases below read

@pytest.fixture
def files(tmp_path):
    f = tmp_path
    (f / "good.jsonl").write_text("".join(json.dumps({"id": i, "q": f"q{i}", "a": "x" if i % 2 else "y"}) + "\n"
                                          for i in range(20)))
    (f / "bad_line3.jsonl").write_text('{"q": "a", "a": "x"}\n{"q": "b", "a": "y"}\n{"q": "c", "a": \n')
    (f / "list_line.jsonl").write_text('{"q": "a", "a": "x"}\n[1, 2]\n')
    (f / "latin1.jsonl").write_bytes('{"q": "caf\xe9", "a": "x"}\n'.encode("latin-1"))
    (f / "latin1.csv").write_bytes("q,a\ncaf\xe9,x\n".encode("latin-1"))
    (f / "data.txt").write_text("q a\n")
    (f / "notlist.json").write_text('{"q": "a"}')
    (f / "nan.csv").write_text("q,a\none,x\ntwo,\nthree,y\n")
    (f / "allnan.csv").write_text("q,a\none,\ntwo,\n")
    (f / "dup.jsonl").write_text('{"id": 1, "q": "a", "a": "x"}\n{"id": 1, "q": "b", "a": "y"}\n')
    (f / "not_sqlite.db").write_text("hello, I am not a database\n" * 50)
    (f / "a_file").write_text("x")
    (f / "run_done").mkdir()
    (f / "run_done" / "result.json").write_text('{"seed": {"id": "c-1", "system_prompt": "x"}, "best": ')
    (f / "run_wrong").mkdir()
    (f / "run_wrong" / "result.json").write_text('{"hello": 1}')
    (f / "run_binary").mkdir()
    (f / "run_binary" / "result.json").write_bytes(b"\xff\xfe\x00garbage")
    base = ('data: {path: good.jsonl, inputs: [q], reference: a, id_column: id, split: {train: 6, val: 6, test: 6}}\n'
            'agent: {model: openai/gpt-4o-mini, user_template: "{{ q }}"}\n'
            'optimizer: {model: openai/gpt-4o-mini}\n'
            'seed_prompt: Answer.\n')
    (f / "cfg_regex.yaml").write_text(base + 'judges: [{type: regex, pattern: "(["}]\n')
    (f / "cfg_schema.yaml").write_text(base + 'judges: [{type: json_schema, schema: {type: bogus}}]\n')
    (f / "cfg_latin1.yaml").write_bytes((base + "judges: [{type: exact_match}]\n# caf\xe9\n").encode("latin-1"))
    (f / "cfg_latin1_data.yaml").write_text(base.replace("good.jsonl", "latin1.jsonl").replace("id_column: id, ", "")
                                            + "judges: [{type: exact_match}]\n")
    (f / "cfg_list.yaml").write_text("- just\n- a list\n")
    (f / "cfg_yaml.yaml").write_text("data: {path: [unclosed\n")
    (f / "cfg_unknown.yaml").write_text(base + "judges: [{type: exact_match}]\nmax_iteratoins: 3\n")
    (f / "cfg_nodata.yaml").write_text(base.replace("good.jsonl", "missing.jsonl") + "judges: [{type: exact_match}]\n")
    (f / "cfg_ok.yaml").write_text(base + "judges: [{type: exact_match}]\n")
    (f / "calib_latin1.jsonl").write_bytes('{"input": "caf\xe9", "output": "a", "label": true}\n'.encode("latin-1"))
    (f / "calib.jsonl").write_text('{"input": "q", "output": "a", "label": true, "reference": "a"}\n')
    return f


# ---------------------------------------------------------------- API cases: (call, exception, message)

API_CASES = {
    # the LLM layer
    "LLM(123)": (lambda f: LLM(123), ConfigError, "model must be a model string"),
    "LLM('')": (lambda f: LLM(""), ConfigError, "model must be a model string"),
    "max_retries=-1": (lambda f: fake(max_retries=-1), ConfigError, "max_retries must be an integer >= 0"),
    "temperature='hot'": (lambda f: fake(temperature="hot"), ConfigError, "temperature must be a number"),
    "temperature=-1": (lambda f: fake(temperature=-1), ConfigError, "temperature must be a number >= 0"),
    "max_tokens=0": (lambda f: fake(max_tokens=0), ConfigError, "max_tokens must be an integer >= 1"),
    "max_tokens=True": (lambda f: fake(max_tokens=True), ConfigError, "max_tokens must be an integer"),
    "max_concurrency=0": (lambda f: fake(max_concurrency=0), ConfigError, "max_concurrency"),
    "deadline_s=0": (lambda f: fake(deadline_s=0), ConfigError, "deadline_s must be a number"),
    "timeout_s=-5": (lambda f: fake(timeout_s=-5), ConfigError, "timeout_s must be a number"),
    "unknown provider": (lambda f: LLM("nosuchprovider/xyz"), ModelNotFoundError, "unknown model string"),
    "unknown local model": (lambda f: LLM("local/nope-7b"), ModelNotFoundError, "nope-7b"),
    "empty messages": (lambda f: fake().complete([]), ConfigError, "messages is empty"),
    "bad role": (lambda f: fake().complete([{"role": "bogus", "content": "x"}]), ConfigError, "unknown role 'bogus'"),
    "message not a dict": (lambda f: fake().complete([("user", "x")]), ConfigError, "must be a dict"),
    "call max_tokens=-3": (lambda f: fake().complete("hi", max_tokens=-3), ConfigError, "max_tokens must be"),
    "cache is a directory": (lambda f: fake(cache=f), ConfigError, "is a directory"),
    "cache not SQLite": (lambda f: fake(cache=f / "not_sqlite.db"), ConfigError, "is not a promptlearn cache"),
    "cache=123": (lambda f: fake(cache=123), ConfigError, "cache must be a path"),
    "SQLiteCache(dir)": (lambda f: SQLiteCache(f), ConfigError, "is a directory"),
    # datasets
    "missing data file": (lambda f: load_examples(f / "nope.jsonl", inputs="q"), ConfigError, "not found"),
    "malformed JSONL": (lambda f: load_examples(f / "bad_line3.jsonl", inputs="q"), ConfigError,
                        r"bad_line3.jsonl, line 3: not valid JSON"),
    "JSONL line not an object": (lambda f: load_examples(f / "list_line.jsonl", inputs="q"), ConfigError,
                                 "line 2: expected a JSON object"),
    "non-UTF-8 JSONL": (lambda f: load_examples(f / "latin1.jsonl", inputs="q"), ConfigError, "not UTF-8"),
    "non-UTF-8 CSV": (lambda f: load_examples(f / "latin1.csv", inputs="q"), ConfigError, "not UTF-8"),
    "unsupported format": (lambda f: load_examples(f / "data.txt", inputs="q"), ConfigError, "unsupported dataset"),
    "JSON not a list": (lambda f: load_examples(f / "notlist.json", inputs="q"), ConfigError, "expected a JSON list"),
    "missing column": (lambda f: load_examples(f / "good.jsonl", inputs="question"), ConfigError,
                       r"no column\(s\) \['question'\]"),
    "duplicate ids": (lambda f: load_examples(f / "dup.jsonl", inputs="q", id_column="id"), ConfigError,
                      "duplicate id '1'"),
    "inputs=5": (lambda f: load_examples(f / "good.jsonl", inputs=5), ConfigError, "inputs must be a column name"),
    "all labels NaN": (lambda f: load_examples(f / "allnan.csv", inputs="q", reference="a"), ConfigError,
                       "every row .* has an empty 'a'"),
    "split too large": (lambda f: split_examples(TRAIN, [10, 10]), ConfigError, "only 12 given"),
    "split of zero": (lambda f: split_examples(TRAIN, [0, 5]), ConfigError, "at least one example"),
    # optimize()
    "seed prompt 42": (lambda f: run_opt(seed=42), ConfigError, "seed prompt must be a string"),
    "empty seed prompt": (lambda f: run_opt(seed="  "), ConfigError, "seed prompt is empty"),
    "train of dicts": (lambda f: run_opt(train=[{"q": 1}]), ConfigError, r"train\[0\] is a dict, not an Example"),
    "train a string": (lambda f: run_opt(train="data.jsonl"), ConfigError, "train must be a list of Examples"),
    "empty train": (lambda f: run_opt(train=[]), ConfigError, "training set is empty"),
    "duplicate train ids": (lambda f: run_opt(train=TRAIN + TRAIN[:1]), ConfigError, "duplicate example id 'n0'"),
    "train/val overlap": (lambda f: run_opt(val=TRAIN[:3]), ConfigError, "share example ids"),
    "agent=5": (lambda f: run_opt(agent=5), ConfigError, "expected an Agent or a callable"),
    "no rewriter": (lambda f: run_opt(optimizer_llm=None), ConfigError, "pass optimizer_llm"),
    "no judges": (lambda f: run_opt(judges=[]), ConfigError, "at least one judge"),
    "duplicate judge names": (lambda f: run_opt(judges=[ExactMatch(), ExactMatch()]), ConfigError,
                              "judge names must be unique"),
    "weights mismatch": (lambda f: run_opt(judges=[ExactMatch()], judge_weights=[1, 2]), ConfigError,
                         "one non-negative weight per judge"),
    "budget below validation": (lambda f: run_opt(config=OptimizeConfig(budget=Budget(max_rollouts=5))),
                                ConfigError, r"Budget\(max_rollouts=5\) cannot even score the seed prompt"),
    "minibatch_size=0": (lambda f: OptimizeConfig(minibatch_size=0), ValidationError, "minibatch_size"),
    "mode='bogus'": (lambda f: OptimizeConfig(mode="bogus"), ValidationError, "mode"),
    "strategies=('demo',)": (lambda f: OptimizeConfig(strategies=("demo",)), ValidationError,
                             r"strategies must name at least one of \['format'"),
    "strategies=()": (lambda f: OptimizeConfig(strategies=()), ValidationError, "strategies must name at least one"),
    "strategies in rules mode": (lambda f: OptimizeConfig(mode="rules", strategies=("rules",)), ValidationError,
                                 "strategies applies to mode='auto' only"),
    "negative budget": (lambda f: Budget(max_rollouts=-1), ValidationError, "max_rollouts"),
    "run_dir is a file": (lambda f: run_opt(run_dir=f / "a_file"), ConfigError, "is a file"),
    "template variable missing": (lambda f: run_opt(agent=ChatAgent(fake(), "{{ nope }}")), ConfigError,
                                  r"user template needs \['nope'\]"),
    "numeric judge, text labels": (lambda f: run_opt(judges=NumericTolerance()), ConfigError, "not numbers"),
    "references missing": (lambda f: run_opt(train=[e.model_copy(update={"reference": None}) for e in TRAIN]),
                           ConfigError, "needs a reference answer"),
    # judges
    "regex '(['": (lambda f: RegexMatch("(["), ConfigError, "not a valid regular expression"),
    "invalid JSON schema": (lambda f: JSONSchemaJudge({"type": "bogus"}), ConfigError, "invalid JSON schema"),
    "JSON schema not a dict": (lambda f: JSONSchemaJudge("string"), ConfigError, "schema must be a JSON object"),
    "negative tolerance": (lambda f: NumericTolerance(abs_tol=-1), ConfigError, "tolerances must be >= 0"),
    "FunctionJudge(5)": (lambda f: FunctionJudge(5), ConfigError, "needs a function"),
    "unknown library judge": (lambda f: load("nope", fake()), ConfigError, "unknown judge 'nope'"),
    "panel weights negative": (lambda f: JudgePanel([ExactMatch()], [-1]), ConfigError, "non-negative"),
    # results and templates
    "result.json cut off": (lambda f: OptimizationResult.load(f / "run_done"), ConfigError, "not readable JSON"),
    "result.json not a result": (lambda f: OptimizationResult.load(f / "run_wrong"), ConfigError,
                                 "not a promptlearn result"),
    "result.json binary": (lambda f: OptimizationResult.load(f / "run_binary"), ConfigError, "not readable JSON"),
    "no result.json": (lambda f: OptimizationResult.load(f / "a_dir_that_is_not_there"), ConfigError,
                       "not a run directory"),
    "template syntax error": (lambda f: render("{{ x }", {"x": 1}), ConfigError, "not a valid jinja2 template"),
    "evaluate with seed 42": (lambda f: PromptOptimizer(make_agent()[0], JUDGE, optimizer_llm=fake()).evaluate(42, VAL),
                              ConfigError, "seed prompt must be a string"),
}


@pytest.mark.parametrize("name", list(API_CASES))
def test_api_bad_input(name, files):
    call, exc, message = API_CASES[name]
    with pytest.raises(exc, match=message):
        call(files)


def test_nan_labels_from_pandas_are_dropped_with_a_warning(files):
    frame = pd.read_csv(files / "nan.csv")
    assert math.isnan(frame["a"][1])
    with pytest.warns(UserWarning, match="dropped 1 of 3 row"):
        examples = load_examples(frame, inputs="q", reference="a")
    assert [e.reference for e in examples] == ["x", "y"]


def test_cache_off_means_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for setting in ("off", "OFF", None, False):
        assert fake(cache=setting).cache is None
    monkeypatch.setenv("PROMPTLEARN_CACHE", "off")
    assert LLM("openai/gpt-4o-mini").cache is None
    assert main(["chat", "hi", "--model", "local/nope-7b", "--cache", "off"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_acceptance_defaults_equal_the_config():
    from promptlearn.strategies import BootstrapAcceptance

    assert BootstrapAcceptance().confidence == OptimizeConfig().acceptance_confidence


# ---------------------------------------------------------------- CLI cases: (argv, exit code, message)

CLI_CASES = {
    "chat --max-tokens -5": (["chat", "hi", "--max-tokens", "-5"], 2, "must be at least 1"),
    "chat --max-tokens abc": (["chat", "hi", "--max-tokens", "abc"], 2, "expected a whole number"),
    "chat --deadline 0": (["chat", "hi", "--deadline", "0"], 2, "must be more than 0"),
    "chat unknown model": (["chat", "hi", "--model", "bogus-model-xyz", "--no-cache"], 2, "unknown model string"),
    "chat --cache dir": (["chat", "hi", "--model", "openai/gpt-4o-mini", "--cache", "{f}"], 2, "is a directory"),
    "chat --cache not sqlite": (["chat", "hi", "--model", "openai/gpt-4o-mini", "--cache", "{f}/not_sqlite.db"], 2,
                                "not a promptlearn cache"),
    "calibrate --samples -1": (["judges", "calibrate", "correctness", "--data", "{f}/calib.jsonl", "--samples", "-1"],
                               2, "must be at least 1"),
    "calibrate --limit 0": (["judges", "calibrate", "correctness", "--data", "{f}/calib.jsonl", "--limit", "0"], 2,
                            "must be at least 1"),
    "calibrate bad --param": (["judges", "calibrate", "criteria", "--data", "{f}/calib.jsonl", "--param", "oops",
                               "--model", "openai/x", "--no-cache"], 2, "--param needs KEY=VALUE"),
    "calibrate missing data": (["judges", "calibrate", "correctness", "--data", "{f}/nope.jsonl", "--model",
                                "openai/x", "--no-cache"], 2, "nope.jsonl"),
    "calibrate non-UTF-8 data": (["judges", "calibrate", "correctness", "--data", "{f}/calib_latin1.jsonl", "--model",
                                  "openai/x", "--no-cache"], 2, "is not UTF-8"),
    "optimize missing config": (["optimize", "{f}/nope.yaml"], 2, "config file not found"),
    "optimize config is a dir": (["optimize", "{f}"], 2, "is a directory"),
    "optimize non-UTF-8 config": (["optimize", "{f}/cfg_latin1.yaml"], 2, "not UTF-8"),
    "optimize non-UTF-8 dataset": (["optimize", "{f}/cfg_latin1_data.yaml"], 2, "latin1.jsonl is not UTF-8"),
    "optimize YAML list": (["optimize", "{f}/cfg_list.yaml"], 2, "must hold a YAML mapping"),
    "optimize invalid YAML": (["optimize", "{f}/cfg_yaml.yaml"], 2, "not valid YAML"),
    "optimize unknown field": (["optimize", "{f}/cfg_unknown.yaml"], 2, "max_iteratoins"),
    "optimize regex '(['": (["optimize", "{f}/cfg_regex.yaml"], 2, "not a valid regular expression"),
    "optimize invalid schema": (["optimize", "{f}/cfg_schema.yaml"], 2, "invalid JSON schema"),
    "optimize missing data": (["optimize", "{f}/cfg_nodata.yaml"], 2, "dataset file not found"),
    "optimize --run-dir file": (["optimize", "{f}/cfg_ok.yaml", "--run-dir", "{f}/a_file"], 2, "is a file"),
    "report cut-off result": (["report", "{f}/run_done"], 2, "not readable JSON"),
    "report wrong result": (["report", "{f}/run_wrong"], 2, "not a promptlearn result"),
    "report missing dir": (["report", "{f}/nope"], 2, "not a run directory"),
    "report dir without result": (["report", "{f}"], 2, "the run has not finished"),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_bad_input(name, files, capsys):
    argv, code, message = CLI_CASES[name]
    argv = [a.replace("{f}", str(files)) for a in argv]
    try:
        got = main(argv)
    except SystemExit as exit_:  # argparse rejects bad flag values itself
        got = exit_.code
    err = capsys.readouterr().err
    assert got == code, err
    assert message in err or __import__("re").search(message, err), err
    assert "Traceback" not in err and "internal error" not in err


def test_calibrate_where_every_verdict_fails_exits_non_zero_with_the_cause(files, capsys):
    # Nothing listens on this port: every judge call fails within the deadline.
    code = main(["judges", "calibrate", "correctness", "--data", str(files / "calib.jsonl"), "--model",
                 "openai/gpt-4o-mini", "--no-cache", "--deadline", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "every verdict failed (1 of 1)" in err and "First cause: LLMCallError" in err


def test_the_catalogue_is_large_enough():
    assert len(API_CASES) + len(CLI_CASES) >= 60
