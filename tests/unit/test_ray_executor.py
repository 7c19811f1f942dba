"""The bench's Ray executor on a real local Ray runtime (2 CPUs, started here): the same records as the local
executor, a worker that dies fails its cell as a record, and a killed driver resumes without lost or duplicate
cells. Fake models; tests/integration/test_ray_local.py runs one cell on the real 0.5B."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import ray
from bench_fakes import bench_llm_factory, write_parity_task

from promptlearn.bench import BenchConfig, MethodOutcome, ResultsStore, SeedMethod, load_task, resolve_methods, run_bench

HERE = Path(__file__).parent
COMPARED = ("status", "test", "test_scores", "best_prompt", "rollouts", "seed_test")


@pytest.fixture(scope="module")
def local_ray():
    # Workers import the fake models from this folder (the LLM factory is pickled by reference).
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}})
    yield
    ray.shutdown()


def _config(**kw):
    return BenchConfig(**{"budget": 40, "seeds": (0, 1), "progress": False, **kw})


def test_ray_gives_the_records_the_local_executor_gives(local_ray, tmp_path):
    task = load_task(write_parity_task(tmp_path / "t"))
    methods = resolve_methods(["seed", "promptlearn"])
    local = run_bench([task], methods, results=tmp_path / "local.jsonl", config=_config(), make_llm=bench_llm_factory())
    remote = run_bench([task], methods, results=tmp_path / "ray.jsonl", config=_config(executor="ray"),
                       make_llm=bench_llm_factory())
    def by_cell(records):
        return {(r["method"], r["seed"]): {k: r.get(k) for k in COMPARED} for r in records}

    assert by_cell(remote) == by_cell(local) and len(remote) == 4
    assert len(ResultsStore(tmp_path / "ray.jsonl").finished()) == 4
    again = run_bench([task], methods, results=tmp_path / "ray.jsonl", config=_config(executor="ray"),
                      make_llm=bench_llm_factory())
    assert by_cell(again) == by_cell(remote) and len(ResultsStore(tmp_path / "ray.jsonl").records()) == 4


class DyingMethod(SeedMethod):
    """Kills its worker process: the cell must become a failed record and the others go on."""

    name = "dying"

    def run(self, setup):
        os._exit(3)


class FineMethod(SeedMethod):
    name = "fine"

    def run(self, setup):
        return MethodOutcome(best_prompt=setup.seed_prompt)


class ThreadsMethod(SeedMethod):
    """Reports the llama.cpp thread count a worker's embedded models would load with."""

    name = "threads"

    def run(self, setup):
        from promptlearn.llm.backends import llama_threads

        return MethodOutcome(best_prompt=f"threads={llama_threads()}")


def test_a_workers_embedded_models_get_the_cpus_its_cell_asked_for(local_ray, tmp_path, monkeypatch):
    # Ray sets a task's OMP_NUM_THREADS to its num_cpus; llama_threads reads it (not the machine's 2 CPUs)
    monkeypatch.delenv("PROMPTLEARN_LLAMA_THREADS", raising=False)
    task = load_task(write_parity_task(tmp_path / "t"))
    (record,) = run_bench([task], [ThreadsMethod()], results=tmp_path / "r.jsonl",
                          config=_config(executor="ray", seeds=(0,)), make_llm=bench_llm_factory())
    assert record["status"] == "ok" and record["best_prompt"] == "threads=1", record.get("error")


def test_a_worker_that_dies_fails_its_cell_as_a_record(local_ray, tmp_path):
    task = load_task(write_parity_task(tmp_path / "t"))
    records = run_bench([task], [DyingMethod(), FineMethod()], results=tmp_path / "r.jsonl",
                        config=_config(executor="ray", seeds=(0,)), make_llm=bench_llm_factory())
    status = {r["method"]: r["status"] for r in records}
    assert status == {"dying": "failed", "fine": "ok"}
    failed = next(r for r in records if r["method"] == "dying")
    assert "Worker" in failed["error"] or "died" in failed["error"].lower(), failed["error"]


DRIVER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {here!r})
    import ray
    from bench_fakes import bench_llm_factory
    from promptlearn.bench import BenchConfig, MethodOutcome, SeedMethod, load_task, run_bench

    class Slow(SeedMethod):
        name = "slow"
        def run(self, setup):
            time.sleep(2 + setup.seed)
            return MethodOutcome(best_prompt=setup.seed_prompt)

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
             runtime_env={{"env_vars": {{"PYTHONPATH": os.pathsep.join(sys.path)}}}})
    run_bench([load_task({task!r})], [Slow()], results={results!r},
              config=BenchConfig(budget=40, seeds=(0, 1, 2, 3), progress=False, executor="ray"),
              make_llm=bench_llm_factory())
""")


def test_a_killed_driver_resumes_without_lost_or_duplicate_cells(local_ray, tmp_path):
    task_path = write_parity_task(tmp_path / "t")
    results = tmp_path / "r.jsonl"
    script = DRIVER.format(here=str(HERE), task=str(task_path), results=str(results))
    driver = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while not (results.exists() and ResultsStore(results).finished()) and time.time() < deadline:
        assert driver.poll() is None, "the driver ended before any cell finished"
        time.sleep(0.5)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray runtime it started
    driver.wait()
    before = len(ResultsStore(results).finished())
    assert 1 <= before < 4

    class Slow(SeedMethod):
        name = "slow"

    records = run_bench([load_task(task_path)], [Slow()], results=results,
                        config=_config(executor="ray", seeds=(0, 1, 2, 3)), make_llm=bench_llm_factory())
    keys = [r["key"] for r in ResultsStore(results).records()]
    assert len(records) == 4 and len(keys) == len(set(keys)) == 4 and all(r["status"] == "ok" for r in records)
