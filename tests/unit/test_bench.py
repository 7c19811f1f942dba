"""promptlearn bench on fake models: task YAMLs, every method on one contract, the results store, the report."""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path

import pytest
import yaml
from bench_fakes import bench_llm_factory, write_parity_task

from promptlearn import ConfigError, FakeLLM, OptimizeConfig
from promptlearn.app.cli import main
from promptlearn.bench import (
    BenchConfig,
    MethodOutcome,
    ResultsStore,
    SeedMethod,
    compare_runs,
    head_to_head,
    load_results,
    load_suite,
    load_task,
    markdown,
    resolve_methods,
    run_bench,
    strategy_use,
    write_report,
)
from promptlearn.bench.methods import PromptlearnMethod
from promptlearn.bench.store import cell_key
from promptlearn.store import read_events

ALL_METHODS = ["seed", "promptlearn", "promptlearn-rules", "gepa", "dspy-gepa", "dspy-miprov2"]


def _config(**kw) -> BenchConfig:
    return BenchConfig(**{"budget": 60, "seeds": (0,), "progress": False, **kw})


# --- task YAMLs ---------------------------------------------------------------------------------------------

def test_a_task_yaml_loads_with_paths_beside_it(tmp_path):
    task = load_task(write_parity_task(tmp_path / "t"))
    assert task.name == "parity" and Path(task.data.path).is_absolute()
    train, val, test = task.splits(0)
    assert (len(train), len(val), len(test)) == (10, 10, 16)
    assert not {e.id for e in train} & {e.id for e in test}
    assert [e.id for e in task.splits(1)[2]] != [e.id for e in test]  # each seed is its own split


@pytest.mark.parametrize("change, message", [
    ({"seed_prompt": None}, "seed_prompt"),
    ({"agent": {"user_template": "{{ colour }}"}}, "colour"),
    ({"data": {"path": "nowhere.jsonl", "inputs": ["number"], "reference": "label"}}, "does not exist"),
    ({"split": {"train": 30, "val": 30, "test": 30}}, "need 90 examples"),
    ({"metric": "metrics.py:score"}, "does not exist"),
    ({"metric": "bleu"}, "path/to/file.py:function"),
    ({"judges": [{"type": "telepathy"}]}, "judges[0]"),
    ({"data": {"path": "parity.jsonl", "inputs": ["number"], "reference": "label", "reference_pattern": "x"}},
     "reference_pattern"),
    ({"data": {"path": "parity.jsonl", "inputs": ["number"], "reference": "label", "labels": ["seven"]}},
     "labels"),
])
def test_bad_task_yamls_name_the_problem(tmp_path, change, message):
    path = write_parity_task(tmp_path / "t", **{k: v for k, v in change.items() if v is not None})
    if change.get("seed_prompt", "") is None:
        raw = yaml.safe_load(path.read_text())
        del raw["seed_prompt"]
        path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_task(path)


def test_a_code_metric_is_read_beside_the_task(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "m.py").write_text("def last_digit(example, output):\n    return float(output == example.reference)\n")
    task = load_task(write_parity_task(tmp_path / "t", metric="m.py:last_digit"))
    assert task.metric == "m.py:last_digit"


def test_suites_from_folders_and_lists(tmp_path):
    first = write_parity_task(tmp_path / "a")
    second = write_parity_task(tmp_path / "b", name="parity_two")
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"tasks": [str(first), "b/parity.yaml"]}))
    assert [t.name for t in load_suite([suite])] == ["parity", "parity_two"]
    assert [t.name for t in load_suite([tmp_path / "b"])] == ["parity_two"]
    with pytest.raises(ConfigError, match="unique"):
        load_suite([first, first])
    with pytest.raises(ConfigError, match="not found"):
        load_suite([tmp_path / "missing.yaml"])
    assert second.exists()


def test_the_shipped_suites_load(suites_dir):
    core = load_suite([suites_dir / "core.yaml"])
    assert len(core) == 8 and len({t.kind for t in core}) >= 5
    assert len(load_suite([suites_dir / "tasks"])) >= 28


def test_the_good_seed_suite_is_its_twins_with_a_seed_that_states_the_format(suites_dir):
    """Issue 26: each good-seed task is its tasks/ twin with only the name and the seed changed (same data, split,
    agent, metric and judges, so the two tables compare), and every seed says what the answer looks like."""
    good = load_suite([suites_dir / "good_seed.yaml"])
    assert len(good) >= 19 and all(t.name.startswith("good_") for t in good)
    for task in good:
        twin = load_task(suites_dir / "tasks" / f"{task.name.removeprefix('good_')}.yaml")
        same = ("data", "split", "agent", "metric", "judges", "kind")
        assert {k: getattr(task, k) for k in same} == {k: getattr(twin, k) for k in same}, task.name
        seed, references = task.seed_prompt.lower(), {str(e.reference).lower() for e in task.examples()}
        if all(re.fullmatch(r"\([a-z]\)", r) for r in references):
            assert "letter" in seed and "(a)" in seed, task.name
        elif len(references) <= 30:  # a label set: the seed names every label
            assert all(r in seed for r in references), (task.name, [r for r in references if r not in seed])
        else:
            assert "answer" in seed, task.name


def test_weight_methods_are_known_and_need_one_scoring_engine(tmp_path):
    task = load_task(write_parity_task(tmp_path / "t"))
    methods = resolve_methods(["seed", "sft", "grpo", "promptlearn+sft"])
    with pytest.raises(ConfigError, match=r"\['sft', 'grpo', 'promptlearn\+sft'\] tune weights: add --engine transformers"):
        run_bench([task], methods, results=tmp_path / "r.jsonl", config=_config())


def test_unknown_methods_are_refused():
    with pytest.raises(ConfigError, match="unknown method 'opro'"):
        resolve_methods(["seed", "opro"])
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_methods(["promptlearn:nowhere.yaml"])


# --- every method on one contract -----------------------------------------------------------------------------

def test_every_method_runs_on_the_same_splits_and_is_charged_per_agent_call(tmp_path):
    task = load_task(write_parity_task(tmp_path / "t"))
    made: list = []
    base = bench_llm_factory()

    def factory(model, role, usage, cache):
        llm = base(model, role, usage, cache)
        made.append((role, Path(cache).name if cache else None, llm))
        return llm

    records = run_bench([task], resolve_methods(ALL_METHODS), results=tmp_path / "r.jsonl", config=_config(),
                        make_llm=factory)
    assert [r["status"] for r in records] == ["ok"] * len(ALL_METHODS), [r.get("error") for r in records]
    by_method = {r["method"]: r for r in records}
    test_ids = {tuple(sorted(r["test_scores"])) for r in records}
    assert len(test_ids) == 1  # one held-out test set for every method
    assert {json.dumps(r["sizes"]) for r in records} == {json.dumps({"train": 10, "val": 10, "test": 16})}
    assert by_method["seed"]["rollouts"] == 0 and by_method["seed"]["gain"] == 0
    # rollouts = agent calls of the optimize phase (not the test phase), for every method alike
    optimize_agents = [llm for role, cache, llm in made if role == "agent" and cache == "cache.sqlite"]
    own_adapter_runs = [16 if r["own_adapter_test"] is not None else 0 for r in records]  # DSPy's test pass
    assert [r["rollouts"] for r in records] == [len(llm.requests) - extra
                                                for llm, extra in zip(optimize_agents, own_adapter_runs)]
    for name in ("promptlearn", "promptlearn-rules", "gepa", "dspy-gepa", "dspy-miprov2"):
        assert 0 < by_method[name]["rollouts"] <= 60 + 10, name  # gepa may finish the round it started
        assert by_method[name]["test"] == 1.0, name  # every optimizer finds the parity rule with these fakes
        assert by_method[name]["gain"] == pytest.approx(0.5, abs=0.2)
    assert by_method["dspy-gepa"]["own_adapter_test"] == 1.0  # the DSPy program through DSPy's own adapter
    val_gain = by_method["promptlearn"]["details"]["val_gain"]  # how sure the cell's choice was on validation
    assert val_gain["n"] == 10 and val_gain["better"] > val_gain["worse"] and val_gain["ci95"][0] > 0


def test_a_failed_cell_is_recorded_and_the_suite_goes_on(tmp_path):
    class Broken:
        name = "broken"

        def missing(self):
            return None

        def run(self, setup):
            raise RuntimeError("the optimizer fell over")

    class NeedsExtra(SeedMethod):
        name = "needs-extra"

        def missing(self):
            return "pip install 'promptlearn[bench]'"

    task = load_task(write_parity_task(tmp_path / "t"))
    records = run_bench([task], [Broken(), NeedsExtra(), SeedMethod()], results=tmp_path / "r.jsonl",
                        config=_config(), make_llm=bench_llm_factory())
    assert [r["status"] for r in records] == ["failed", "failed", "ok"]
    assert "fell over" in records[0]["error"] and "promptlearn[bench]" in records[1]["error"]
    assert "broken" in (write_report(tmp_path / "r.jsonl", tmp_path / "rep")["markdown"].read_text())


def test_a_killed_bench_continues_without_redoing_finished_cells(tmp_path):
    calls: list[str] = []

    class Interrupted(SeedMethod):
        name = "interrupted"

        def run(self, setup):
            calls.append(self.name)
            raise KeyboardInterrupt

    task = load_task(write_parity_task(tmp_path / "t"))
    results = tmp_path / "r.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_bench([task], [SeedMethod(), Interrupted()], results=results, config=_config(seeds=(0, 1)),
                  make_llm=bench_llm_factory())
    with open(results, "a") as handle:
        handle.write('{"key": "cut by the ki')  # a write the kill cut short
    assert len(ResultsStore(results).records()) == 1

    class Counting(SeedMethod):
        name = "interrupted"

        def run(self, setup):
            calls.append("resumed")
            return MethodOutcome(best_prompt=setup.seed_prompt)

    ran: list[str] = []
    factory = bench_llm_factory(ran)
    records = run_bench([task], [SeedMethod(), Counting()], results=results, config=_config(seeds=(0, 1)),
                        make_llm=factory)
    assert [r["status"] for r in records] == ["ok"] * 4
    assert calls == ["interrupted", "resumed", "resumed"]
    assert len(ResultsStore(results).finished()) == 4  # the new records were not glued onto the cut line
    assert len(ran) == 3 * 3  # three new cells (agent, rewriter, test agent each); the finished one was skipped


def test_a_killed_promptlearn_cell_reports_every_rollout_its_loop_spent(tmp_path):
    """The resumed loop replays stored rollouts without calling the agent; the record must still count them."""
    task = load_task(write_parity_task(tmp_path / "t"))
    method = PromptlearnMethod("promptlearn", OptimizeConfig(mode="rules", minibatch_size=4, patience=10))
    whole = run_bench([task], [method], results=tmp_path / "whole.jsonl", config=_config(),
                      make_llm=bench_llm_factory())[0]
    cell = Path("parity") / "promptlearn" / "seed0-budget60" / "run"
    done, killed = tmp_path / "whole_cells" / cell, tmp_path / "r_cells" / cell
    killed.mkdir(parents=True)
    (killed / "run.json").write_text((done / "run.json").read_text())
    lines = (done / "events.jsonl").read_text().splitlines(keepends=True)
    (killed / "events.jsonl").write_text("".join(lines[: len(lines) // 2]))  # what kill -9 mid-run leaves
    resumed = run_bench([task], [method], results=tmp_path / "r.jsonl", config=_config(),
                        make_llm=bench_llm_factory())[0]
    assert resumed["status"] == "ok" and resumed["usage_by_role"]["agent"]["calls"] < whole["rollouts"]
    assert resumed["rollouts"] == whole["rollouts"] and resumed["test"] == whole["test"]
    rounds = [e["row"]["iteration"] for e in read_events(killed) if e["type"] == "round"]
    assert rounds == sorted(set(rounds)) and rounds  # the replayed rounds are not logged twice


def test_a_warm_bench_answers_from_an_earlier_runs_caches_and_says_so(tmp_path):
    """--warm-from: the same cells from an earlier results file cost no model call and give the same records."""
    task = load_task(write_parity_task(tmp_path / "t"))
    made: list[FakeLLM] = []
    caching_factory = bench_llm_factory(made=made, caching=True)

    def handled() -> int:
        return sum(len(llm.requests) for llm in made)

    methods = [SeedMethod(), PromptlearnMethod("promptlearn", OptimizeConfig(mode="rules", minibatch_size=4))]
    cold = run_bench([task], methods, results=tmp_path / "cold.jsonl", config=_config(), make_llm=caching_factory)
    assert handled() > 0 and all(r["status"] == "ok" and "warmed_from" not in r for r in cold)
    made.clear()
    warm = run_bench([task], methods, results=tmp_path / "warm.jsonl", config=_config(warm_from=str(tmp_path / "cold.jsonl")),
                     make_llm=caching_factory)
    assert made and handled() == 0  # every answer came from the copied caches
    for before, after in zip(cold, warm):
        assert (after["test"], after["best_prompt"], after["rollouts"]) == (before["test"], before["best_prompt"],
                                                                            before["rollouts"])
    assert set(warm[0]["warmed_from"]) == {"source", "cell_cache", "test_cache"}
    assert set(warm[1]["warmed_from"]) == {"source", "cell_cache"}  # the seed cell copied the shared test cache
    assert warm[1]["warmed_from"]["source"] == str(tmp_path / "cold.jsonl")
    # A cell at another budget starts from the source's cell too: a smaller budget's calls are all cached there.
    made.clear()
    smaller = run_bench([task], methods[1:], results=tmp_path / "b40.jsonl",
                        config=_config(budget=40, warm_from=str(tmp_path / "cold.jsonl")), make_llm=caching_factory)[0]
    assert smaller["warmed_from"]["cell_cache"].endswith("seed0-budget60/cache.sqlite") and handled() == 0
    assert smaller["rollouts"] <= 40
    with pytest.raises(ConfigError, match="no cell caches"):
        run_bench([task], methods, results=tmp_path / "x.jsonl", config=_config(warm_from=str(tmp_path / "nope.jsonl")),
                  make_llm=caching_factory)
    with pytest.raises(ConfigError, match="being written"):
        run_bench([task], methods, results=tmp_path / "warm.jsonl", config=_config(warm_from=str(tmp_path / "warm.jsonl")),
                  make_llm=caching_factory)


def test_an_unreadable_cache_to_warm_from_fails_that_cell_only(tmp_path):
    task = load_task(write_parity_task(tmp_path / "t"))
    methods = [SeedMethod(), PromptlearnMethod("promptlearn", OptimizeConfig(mode="rules", minibatch_size=4))]
    run_bench([task], methods, results=tmp_path / "old.jsonl", config=_config(),
              make_llm=bench_llm_factory(caching=True))
    broken = tmp_path / "old_cells" / "parity" / "promptlearn" / "seed0-budget60" / "cache.sqlite"
    # The first run's caches close when collected; one closing after the break below checkpoints its write-ahead
    # log into the file and makes it a database again (a flaky pass, seen when other tests shift GC timing).
    gc.collect()
    for part in broken.parent.glob("cache.sqlite-*"):
        part.unlink()  # no write-ahead log that could still supply the pages
    broken.write_bytes(b"not a database" * 100)
    records = run_bench([task], methods, results=tmp_path / "new.jsonl",
                        config=_config(warm_from=str(tmp_path / "old.jsonl")), make_llm=bench_llm_factory(caching=True))
    assert [r["status"] for r in records] == ["ok", "failed"]
    assert "DatabaseError" in records[1]["error"]


def test_results_recorded_by_earlier_versions_resume_once_migrated(tmp_path):
    """Earlier versions hashed the task with its absolute data path (and before agent.steps, without that field).
    benchmarks/migrate_results.py rewrites such records to today's fingerprint and key: their finished cells are
    then skipped, not run again; a moved data folder is still the same task."""
    import importlib.util

    script = Path(__file__).parents[2] / "benchmarks" / "migrate_results.py"
    spec = importlib.util.spec_from_file_location("migrate_results", script)
    migrate_results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migrate_results)
    task = load_task(write_parity_task(tmp_path / "t"))
    moved = load_task(write_parity_task(tmp_path / "elsewhere"))
    assert moved.fingerprint() == task.fingerprint()
    earlier = migrate_results.earlier_fingerprints(task)
    assert len(earlier) == 2 and earlier != migrate_results.earlier_fingerprints(moved)  # those hashed the path
    results = tmp_path / "r.jsonl"
    first = run_bench([task], [SeedMethod()], results=results, config=_config(), make_llm=bench_llm_factory())[0]
    for legacy in earlier:
        key = cell_key(task="parity", task_fingerprint=legacy, method="seed", seed=0, budget=60,
                       agent=first["agent"], rewriter=first["rewriter"])
        old = dict(first, task_fingerprint=legacy, key=key)
        results.write_text(json.dumps(old) + "\n" + json.dumps(dict(old, task="other")) + "\n")
        assert migrate_results.migrate(results, [task]) == {"migrated": 1, "current": 0, "left": 1}
        made: list[str] = []
        again = run_bench([task], [SeedMethod()], results=results, config=_config(), make_llm=bench_llm_factory(made))
        assert made == [] and again[0]["key"] == first["key"]  # skipped as finished
        assert migrate_results.migrate(results, [task]) == {"migrated": 0, "current": 1, "left": 1}


# --- report -----------------------------------------------------------------------------------------------------

def _record(task, method, seed, scores, *, rollouts=100, budget=100):
    seed_scores = [0.0] * len(scores)
    return {"key": f"{task}{method}{seed}{budget}", "status": "ok", "task": task, "method": method, "seed": seed,
            "budget": budget, "test": sum(scores) / len(scores), "seed_test": 0.0, "gain": sum(scores) / len(scores),
            "rollouts": 0 if method == "seed" else rollouts, "optimize_wall_s": 1.0,
            "test_scores": {f"e{i}": s for i, s in enumerate(scores)}, "best_prompt": "p", "judge_agreement": None,
            "own_adapter_test": None, "seed_scores": seed_scores}


def test_head_to_head_pools_paired_differences_over_seeds():
    win = [1.0] * 30
    records = [_record("a", "promptlearn", s, win) for s in (0, 1)] + \
              [_record("a", "gepa", s, [0.0] * 30) for s in (0, 1)] + \
              [_record("b", "promptlearn", 0, [1.0, 0.0] * 15), _record("b", "gepa", 0, [0.0, 1.0] * 15)] + \
              [_record("c", "promptlearn", 0, [0.0] * 30), _record("c", "gepa", 0, [1.0] * 30)]
    table = head_to_head(load_results(records), "promptlearn", "gepa")
    assert dict(zip(table.task, table.outcome)) == {"a": "win", "b": "tie", "c": "loss"}
    assert table.set_index("task").loc["a", "seeds"] == 2
    text = markdown(load_results(records))
    assert "promptlearn vs gepa: 1 wins, 1 ties, 1 losses" in text
    # rollouts per point of gain: 100 rollouts for +100 pts on task a; task c's promptlearn gained nothing
    assert "| a | promptlearn | 2 | 100.0% | 0.0% | +100.0 | 100 | 1.0 |" in text
    assert "| c | promptlearn | 1 | 0.0% | 0.0% | +0.0 | 100 | no gain |" in text
    # A peer that ran one cell is compared on that cell only, not against promptlearn's mean over the suite.
    records.append(_record("a", "dspy-gepa", 1, [0.5] * 30))
    text = markdown(load_results(records))
    assert "Mean gain over these 3 task(s): promptlearn +50.0 pts, gepa +50.0 pts." in text
    assert "Mean gain over these 1 task(s): promptlearn +100.0 pts, dspy-gepa +50.0 pts." in text


def test_compare_runs_pairs_one_method_across_two_results_files(tmp_path, capsys):
    def write(name, rows):
        for r in rows:
            r["key"] += name  # each file keys its own cells
            r["commit"] = name
            r["task_fingerprint"] = "fp"
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return str(tmp_path / f"{name}.jsonl")

    new = write("new", [_record("a", "promptlearn", s, [1.0] * 30) for s in (0, 1)] +
                [_record("b", "promptlearn", 0, [0.0] * 30), _record("c", "promptlearn", 0, [1.0] * 30)])
    old_c = _record("c", "promptlearn", 0, [0.0] * 31)  # another test split: not comparable, left out
    old = write("old", [_record("a", "promptlearn", s, [0.0] * 30) for s in (0, 1)] +
                [_record("b", "promptlearn", 0, [1.0] * 30), old_c, _record("a", "gepa", 0, [1.0] * 30)])
    table = compare_runs(new, old).set_index("task")
    assert dict(table.outcome) == {"a": "win", "b": "loss"} and table.loc["a", "seeds"] == 2
    assert table.loc["a", "commits_new"] == "new" and table.loc["b", "gain_old"] == 1.0
    assert main(["bench", "compare", new, old]) == 0
    assert "new vs old: 1 wins, 0 ties, 1 losses" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="no finished 'dspy-gepa' cells"):
        compare_runs(new, old, method="dspy-gepa")
    with pytest.raises(ConfigError, match="same test examples"):
        compare_runs(write("n2", [_record("c", "gepa", 0, [1.0] * 30)]), old, method="gepa")


def test_the_report_counts_which_strategies_ran_and_which_made_a_new_best():
    a0, a1, old = (_record("a", "promptlearn", s, [1.0] * 4) for s in (0, 1, 2))
    a0["details"] = {"strategies": ["format", "rules", "demos"], "gained": ["format", "demos"]}
    a1["details"] = {"strategies": ["rules", None, "demos"], "gained": ["demos"]}  # None: no strategy applied
    old.update(task="b", details={"strategies": ["rules", "rules"]})  # recorded before "gained" was kept
    records = [a0, a1, old, _record("a", "gepa", 0, [0.0] * 4)]
    use = strategy_use(load_results(records), "promptlearn").set_index("task")
    assert use.loc["a", "rounds"] == {"format": 1, "rules": 2, "demos": 2}
    assert use.loc["a", "made_best"] == {"format": 1, "demos": 2} and use.loc["a", "seeds"] == 2
    assert use.loc["b", "made_best"] is None
    text = markdown(load_results(records))
    assert "| a | 2 | demos 2, rules 2, format 1 | demos 2, format 1 |" in text
    assert "| b | 1 | rules 2 | not recorded |" in text


def test_the_report_writes_markdown_plot_and_html(tmp_path):
    results = tmp_path / "r.jsonl"
    rows = [_record("a", m, 0, [1.0, 0.0, 1.0], budget=b, rollouts=b) for m in ("promptlearn", "gepa")
            for b in (50, 100)] + [_record("a", "seed", 0, [0.0] * 3)]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    paths = write_report(results, tmp_path / "report")
    assert paths["plot"].stat().st_size > 5000 and paths["plot"].read_bytes()[:4] == b"\x89PNG"
    page = paths["html"].read_text()
    assert "data:image/png;base64," in page and "<table" in page
    assert "| a | gepa | 1 |" in paths["markdown"].read_text()


# --- CLI --------------------------------------------------------------------------------------------------------

def test_the_cli_runs_a_task_and_reports(tmp_path, monkeypatch, capsys):
    import promptlearn.bench.runner as runner

    monkeypatch.setattr(runner, "default_llm_factory", lambda deadline_s=None, **served: bench_llm_factory())
    task = write_parity_task(tmp_path / "t")
    results = tmp_path / "out" / "r.jsonl"
    code = main(["bench", str(task), "--methods", "seed,promptlearn", "--seeds", "0", "--budget", "60",
                 "--results", str(results), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "parity" in out and (tmp_path / "out" / "report" / "report.md").exists()
    commands = {r["command"] for r in ResultsStore(results).records()}
    assert commands == {f"promptlearn bench run {task} --methods seed,promptlearn --seeds 0 --budget 60 "
                        f"--results {results} --quiet"}  # the command as given, whatever ran Python
    assert main(["bench", "report", str(results)]) == 0
    assert "| parity | promptlearn | 1 |" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["bench", "TASK", "--methods", "seed,opro"], "unknown method 'opro'"),
    (["bench", "missing.yaml", "--methods", "seed"], "not found"),
    (["bench", "report", "missing.jsonl"], "results file not found"),
    (["bench", "TASK", "--seeds", "a,b"], None),
    (["bench", "TASK", "--methods", "seed,sft", "--keep-going"], "add --engine transformers"),
    (["bench", "TASK", "--methods", "seed", "--warm-from", "old/results.jsonl"], "no cell caches beside it"),
])
def test_cli_bad_input(tmp_path, capsys, argv, message):
    task = str(write_parity_task(tmp_path / "t"))
    argv = [task if a == "TASK" else a for a in argv]
    if message is None:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and "seeds like 0,1,2" in capsys.readouterr().err
        return
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_bench_public_api():
    import promptlearn.bench as bench

    assert sorted(bench.__all__) == sorted(set(bench.__all__))
    for name in bench.__all__:
        assert getattr(bench, name) is not None, name
    assert {"load_task", "load_suite", "run_bench", "write_report", "Method", "BenchConfig"} <= set(bench.__all__)


def test_importing_the_bench_does_not_import_dspy_or_torch():
    import subprocess
    import sys

    code = "import sys, promptlearn.bench; print('dspy' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.split() == ["False", "False"]


# --- multi-step tasks --------------------------------------------------------------------------------------------

TWO_STEPS = {"agent": {"max_tokens": 8, "steps": [
    {"component": "notes", "user_template": "Number: {{ number }}"},
    {"component": "answer", "user_template": "Notes: {{ notes }}\nIs this number even or odd? {{ number }}"}]},
    "seed_prompt": {"notes": "Write a note on the number.", "answer": "Answer even or odd."}}


def test_a_multi_step_task_runs_with_promptlearn_and_gepa_and_refuses_single_prompt_peers(tmp_path):
    task = load_task(write_parity_task(tmp_path / "t", **TWO_STEPS))
    methods = resolve_methods(["seed", "promptlearn-rules", "gepa", "dspy-gepa"])  # the fake rewriter writes rules
    records = {r["method"]: r for r in run_bench([task], methods, results=tmp_path / "r.jsonl", config=_config(budget=150),
                                                 make_llm=bench_llm_factory())}
    assert [records[m]["status"] for m in ("seed", "promptlearn-rules", "gepa")] == ["ok"] * 3, \
        [r.get("error") for r in records.values()]
    best = records["promptlearn-rules"]["best_prompt"]
    assert set(best) == {"notes", "answer"} and records["promptlearn-rules"]["test"] > records["seed"]["test"]
    assert set(records["gepa"]["best_prompt"]) == {"notes", "answer"}
    assert records["dspy-gepa"]["status"] == "failed" and "runs single-prompt tasks" in records["dspy-gepa"]["error"]
    report = write_report(tmp_path / "r.jsonl", tmp_path / "rep")
    assert "### answer" in (tmp_path / "rep" / "report.html").read_text() and report


@pytest.mark.parametrize("change, message", [
    ({"seed_prompt": "Answer even or odd."}, "agent.steps needs seed_prompt to map"),
    ({"seed_prompt": {"notes": "x"}}, "agent.steps needs seed_prompt to map"),
])
def test_bad_multi_step_tasks_name_the_problem(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        load_task(write_parity_task(tmp_path / "t", **{**TWO_STEPS, **change}))
    with pytest.raises(ConfigError, match="needs agent.steps"):
        load_task(write_parity_task(tmp_path / "u", seed_prompt={"a": "x"}))
