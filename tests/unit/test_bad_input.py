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
    Example,
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
    # issue 29: silently accepted inputs, suites that loop, metric modules that fail, names that escape
    (f / "null_id.jsonl").write_text('{"id": 1, "q": "a", "a": "x"}\n{"id": null, "q": "b", "a": "y"}\n')
    (f / "null_input.jsonl").write_text('{"q": "a", "a": "x"}\n{"q": null, "a": "y"}\n')
    (f / "nan_input.csv").write_text("q,a\none,x\n,y\n")
    (f / "cfg_dup.yaml").write_text(base + "judges: [{type: exact_match}]\nseed_prompt: Answer twice.\n")
    (f / "parity.jsonl").write_text("".join(json.dumps({"id": f"n{i}", "number": i, "label": "even" if i % 2 == 0
                                                        else "odd"}) + "\n" for i in range(40)))
    task = ('description: d\ndata: {path: parity.jsonl, inputs: [number], reference: label, id_column: id}\n'
            'split: {train: 10, val: 10, test: 10}\nseed_prompt: Answer even or odd.\n'
            'agent: {user_template: "Is {{ number }} even or odd?"}\n')
    (f / "escape.yaml").write_text("name: ../../escaped_cells\n" + task)
    (f / "task_dup.yaml").write_text("name: parity\n" + task + "seed_prompt: again\n")
    (f / "raising_metric.py").write_text("raise RuntimeError('metric module broke on import')\n")
    (f / "task_metric.yaml").write_text("name: parity\n" + task + "metric: raising_metric.py:score\n")
    (f / "suite_self.yaml").write_text("tasks: [suite_self.yaml]\n")
    (f / "suite_a.yaml").write_text("tasks: [suite_b.yaml]\n")
    (f / "suite_b.yaml").write_text("tasks: [suite_a.yaml]\n")
    (f / "suite_numbers.yaml").write_text("tasks: [1, 2]\n")
    (f / "templates_bad").mkdir()
    (f / "templates_bad" / "ruleset.j2").write_text("{% for x in %}broken")
    (f / "run_ok").mkdir()
    (f / "run_ok" / "result.json").write_text(json.dumps(tiny_result()))
    return f


def tiny_result():
    result = run_opt(config=OptimizeConfig(max_iterations=1))
    return json.loads(result.model_dump_json()) if hasattr(result, "model_dump_json") else result.to_dict()


def resume_tampered(f, tamper):
    """A finished run whose folder is then tampered with, resumed with three validation labels flipped."""
    run_dir = f / "tampered"
    run_opt(run_dir=run_dir, config=OptimizeConfig(max_iterations=2))
    tamper(run_dir)
    flipped = [e.model_copy(update={"reference": "odd" if e.reference == "even" else "even"}) if i < 3 else e
               for i, e in enumerate(VAL)]
    return run_opt(val=flipped, run_dir=run_dir, resume=True, config=OptimizeConfig(max_iterations=2))


def replace_file(name, text):
    def tamper(run_dir):
        (run_dir / name).unlink()
        if text is not None:
            (run_dir / name).write_text(text)
    return tamper


def make_dir(name):
    def tamper(run_dir):
        (run_dir / name).unlink()
        (run_dir / name).mkdir()
    return tamper


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
    # ---- issue 29: tracebacks that became clear errors
    "judges='exact_match'": (lambda f: run_opt(judges="exact_match"), ConfigError, "judges must be Judge objects"),
    "judges=['exact_match']": (lambda f: run_opt(judges=["exact_match"]), ConfigError, "judges must be Judge objects"),
    "judges=[judge, 5]": (lambda f: run_opt(judges=[ExactMatch(), 5]), ConfigError, "got int"),
    "config={...}": (lambda f: run_opt(config={"max_iterations": 3}), ConfigError, r"use OptimizeConfig\(\*\*your_dict\)"),
    "config='fast'": (lambda f: run_opt(config="fast"), ConfigError, "config must be an OptimizeConfig, got str"),
    "optimizer_llm='openai/...'": (lambda f: run_opt(optimizer_llm="openai/gpt-4o-mini"), ConfigError,
                                   r"optimizer_llm must be an LLM, e.g. LLM\('openai/gpt-4o-mini'\)"),
    "optimizer_llm=5": (lambda f: run_opt(optimizer_llm=5), ConfigError, "optimizer_llm must be an LLM, got int"),
    "ChatAgent('str')": (lambda f: ChatAgent("local/qwen2.5-coder-0.5b"), ConfigError, "ChatAgent needs an LLM"),
    "ChatAgent(user_template=5)": (lambda f: ChatAgent(fake(), 5), ConfigError, "user_template must be"),
    "ChatAgent(parse='first_line')": (lambda f: ChatAgent(fake(), parse="first_line"), ConfigError, "parse must be"),
    "run_dir=123": (lambda f: run_opt(run_dir=123), ConfigError, "run_dir must be a folder path"),
    "split sizes [nan, 5]": (lambda f: split_examples(TRAIN, [float("nan"), 5]), ConfigError, "split size nan"),
    "split sizes [inf, 5]": (lambda f: split_examples(TRAIN, [float("inf"), 5]), ConfigError, "split size inf"),
    "split sizes [2.5, 3]": (lambda f: split_examples(TRAIN, [2.5, 3]), ConfigError, "split size 2.5"),
    "split sizes [-0.5, 3]": (lambda f: split_examples(TRAIN, [-0.5, 3]), ConfigError, "split size -0.5"),
    "split sizes [True, 3]": (lambda f: split_examples(TRAIN, [True, 3]), ConfigError, "split size True"),
    "split sizes ['3', 3]": (lambda f: split_examples(TRAIN, ["3", 3]), ConfigError, "split size '3'"),
    "split sizes 5": (lambda f: split_examples(TRAIN, 5), ConfigError, "sizes must be a list"),
    "events.jsonl a folder": (lambda f: resume_tampered(f, make_dir("events.jsonl")), ConfigError,
                              "events.jsonl is not a file"),
    "run.json a folder": (lambda f: resume_tampered(f, make_dir("run.json")), ConfigError, "run.json is not a file"),
    "report to a folder": (lambda f: OptimizationResult.load(f / "run_ok").report(f / "run_ok"), ConfigError,
                           "it is a folder"),
    "report under a file": (lambda f: OptimizationResult.load(f / "run_ok").report(f / "a_file" / "r.html"),
                            ConfigError, "is a file, not a folder"),
    # ---- issue 29: accepted silently before
    "input value None": (lambda f: run_opt(train=[Example(id="z", inputs={"number": None}, reference="odd"), *TRAIN]),
                         ConfigError, r"example 'z' has no value for input\(s\) \['number'\]"),
    "input value NaN": (lambda f: run_opt(val=[Example(id="z", inputs={"number": float("nan")}, reference="odd")]),
                        ConfigError, "has no value for input"),
    "NaN reference": (lambda f: run_opt(val=[Example(id="z", inputs={"number": 3}, reference=float("nan"))]),
                      ConfigError, "example 'z' has a NaN reference"),
    "null id in data": (lambda f: load_examples(f / "null_id.jsonl", inputs="q", id_column="id"), ConfigError,
                        "row 1 of .* has no id"),
    "null input in data": (lambda f: load_examples(f / "null_input.jsonl", inputs="q"), ConfigError,
                           r"row 1 of .* has no value for input column\(s\) \['q'\]"),
    "NaN input in CSV": (lambda f: load_examples(f / "nan_input.csv", inputs="q", reference="a"), ConfigError,
                         "has no value for input"),
    "run_dir=''": (lambda f: run_opt(run_dir=""), ConfigError, "run_dir is empty"),
    "judge_weights=[nan]": (lambda f: run_opt(judge_weights=[float("nan")]), ConfigError, "one non-negative weight"),
    "judge_weights=[inf]": (lambda f: run_opt(judge_weights=[float("inf")]), ConfigError, "one non-negative weight"),
    "judge_weights=['1']": (lambda f: JudgePanel([ExactMatch()], ["1"]), ConfigError, "one non-negative weight"),
    "NumericTolerance(abs_tol=nan)": (lambda f: NumericTolerance(abs_tol=float("nan")), ConfigError, "finite"),
    "NumericTolerance(rel_tol=inf)": (lambda f: NumericTolerance(rel_tol=float("inf")), ConfigError, "finite"),
    "RegexMatch('')": (lambda f: RegexMatch(""), ConfigError, "an empty pattern is found in every output"),
    "evaluate(p, [])": (lambda f: PromptOptimizer(make_agent()[0], JUDGE, optimizer_llm=fake()).evaluate("p", []),
                        ConfigError, "examples is empty"),
    "evaluate(p, 'file')": (lambda f: PromptOptimizer(make_agent()[0], JUDGE, optimizer_llm=fake()).evaluate("p", "x.jsonl"),
                            ConfigError, "examples must be a list of Examples"),
    "split_examples('str')": (lambda f: split_examples("abcdef", [2, 2]), ConfigError,
                              r"needs a list of Examples \(see load_examples\), got str"),
    "split_examples(dicts)": (lambda f: split_examples([{"q": 1}, {"q": 2}], [1, 1]), ConfigError,
                              "needs a list of Examples"),
    # ---- issue 29: errors that came late (after model calls) or named the wrong cause
    "1 MB seed prompt": (lambda f: run_opt(seed="Answer. " * 150_000), ConfigError, "the seed prompt is 1,200,000 characters"),
    "1 MB seed component": (lambda f: run_opt(seed={"system": "x" * 1_000_000}), ConfigError,
                            "seed component 'system' is 1,000,000 characters"),
    "1 MB task_description": (lambda f: OptimizeConfig(task_description="x" * 1_000_000), ValidationError,
                              "task_description"),
    "meta_prompt_dir missing": (lambda f: run_opt(meta_prompt_dir=str(f / "nope")), ConfigError,
                                "meta_prompt_dir .*nope is not a folder"),
    "meta_prompt_dir broken template": (lambda f: run_opt(meta_prompt_dir=str(f / "templates_bad")), ConfigError,
                                        "rules meta-prompt is not a valid jinja2 template"),
    # ---- issue 29: resume over a missing or tampered run.json
    "resume, run.json deleted": (lambda f: resume_tampered(f, replace_file("run.json", None)), ConfigError,
                                 "run.json is missing"),
    "resume, run.json truncated": (lambda f: resume_tampered(f, replace_file("run.json", '{"config": {"se')),
                                   ConfigError, "run.json is not readable JSON"),
    "resume, run.json {}": (lambda f: resume_tampered(f, replace_file("run.json", "{}")), ConfigError,
                            "run.json holds no fingerprint"),
    "resume, run.json []": (lambda f: resume_tampered(f, replace_file("run.json", "[]")), ConfigError,
                            "run.json holds no fingerprint"),
    "resume, fingerprint {}": (lambda f: resume_tampered(f, replace_file("run.json", '{"fingerprint": {}}')),
                               ConfigError, "run.json holds no fingerprint"),
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
    # ---- issue 29
    "report -o under a file": (["report", "{f}/run_ok", "-o", "{f}/a_file/report.html"], 2, "is a file, not a folder"),
    "report -o a folder": (["report", "{f}/run_ok", "-o", "{f}"], 2, "it is a folder"),
    "optimize duplicate YAML key": (["optimize", "{f}/cfg_dup.yaml"], 2, "duplicate key 'seed_prompt'"),
    "bench suite lists itself": (["bench", "run", "{f}/suite_self.yaml", "--methods", "seed"], 2, "includes itself"),
    "bench suites list each other": (["bench", "run", "{f}/suite_a.yaml", "--methods", "seed"], 2, "includes itself"),
    "bench suite of numbers": (["bench", "run", "{f}/suite_numbers.yaml", "--methods", "seed"], 2,
                               "must list task YAML paths"),
    "bench metric raises on import": (["bench", "run", "{f}/task_metric.yaml", "--methods", "seed"], 2,
                                      "importing .*raising_metric.py failed: RuntimeError: metric module broke"),
    "bench task name escapes": (["bench", "run", "{f}/escape.yaml", "--methods", "seed"], 2, "name: String should match"),
    "bench task duplicate key": (["bench", "run", "{f}/task_dup.yaml", "--methods", "seed"], 2,
                                 "duplicate key 'seed_prompt'"),
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
    assert len(API_CASES) + len(CLI_CASES) >= 140  # issue 29 added 54
