"""The core install leaves dspy and matplotlib out (issue 27): without them the loop runs, the report is written
without its chart, and everything that needs them says which extra installs it."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    sys.modules["dspy"] = None          # an import of a None entry raises ImportError: as if not installed
    sys.modules["matplotlib"] = None
    sys.modules["gepa"] = None
    sys.path.insert(0, "tests/unit")
    from fakes import parity_examples
    import promptlearn as pl
    from promptlearn.bench.registry import builtin_methods

    agent = pl.ChatAgent(pl.FakeLLM(lambda r: "even", role="agent"), "Even or odd? {{ number }}")
    result = pl.optimize(agent, "Say even or odd.", parity_examples(10), parity_examples(6, 100),
                         judges=pl.ExactMatch(), optimizer_llm=pl.FakeLLM(lambda r: "{}"),
                         config=pl.OptimizeConfig(max_iterations=1, minibatch_size=4), progress=False)
    html = result.report(sys.argv[1]).read_text()
    print("REPORT", "no chart: matplotlib is not installed" in html)
    for call in (result.plot, lambda: __import__("promptlearn.dspy").dspy.predictor_names(object())):
        try:
            call()
        except pl.ConfigError as exc:
            print("REFUSED", exc)
    print("MISSING", builtin_methods()["dspy-miprov2"].missing(), builtin_methods()["gepa"].missing())
    print("LOADED", sorted(m for m in ("dspy", "matplotlib") if sys.modules.get(m) is not None))
""")


def test_without_dspy_and_matplotlib_the_core_runs_and_names_the_extras(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "r.html")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "REPORT True" in out
    assert "REFUSED result.plot() needs matplotlib, which the core install leaves out: pip install 'promptlearn[plots]'" in out
    assert "REFUSED DSPy interop needs dspy, which the core install leaves out: pip install 'promptlearn[dspy]'" in out
    assert "MISSING pip install 'promptlearn[bench]' pip install 'promptlearn[bench]'" in out
    assert "LOADED []" in out


def test_the_core_dependencies_leave_the_extras_out():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert "dspy" not in core and "matplotlib" not in core and "torch" not in core
    extras = project["optional-dependencies"]
    assert any(d.startswith("dspy") for d in extras["bench"]) and any(d.startswith("matplotlib") for d in extras["local"])
