"""Read a results file and compare methods: tables, head-to-head tests, a plot, an HTML page.

Head-to-head: for each task, the paired per-example test differences of two methods, pooled
over the seeds both finished (each seed has its own test split; both methods were scored on
it). A 95% bootstrap CI of the mean difference above 0 is a win, below 0 a loss, else a tie.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from .._extras import require
from ..errors import ConfigError
from ..stats import bootstrap_ci, mean
from . import html as bench_html
from .html import pct, rollouts_per_point
from .store import ResultsStore


def load_results(source: str | Path | Sequence[dict[str, Any]]) -> Any:
    """The ``ok`` cells of a results file (or records) as a DataFrame, one row per cell (latest record wins)."""
    import pandas as pd

    if isinstance(source, (str, Path)):
        if not Path(source).exists():
            raise ConfigError(f"results file not found: {source}")
        records = ResultsStore(source).records()
    else:
        records = list(source)
    latest: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.get("status") == "ok":
            latest[r["key"]] = r
    frame = pd.DataFrame(list(latest.values()))
    if frame.empty:
        raise ConfigError(f"no finished cells in {source if isinstance(source, (str, Path)) else 'the records'}")
    return frame


def failed_cells(source: str | Path) -> list[dict[str, Any]]:
    """Failed cells with no later success: what a rerun will try again."""
    records = ResultsStore(source).records()
    ok = {r["key"] for r in records if r.get("status") == "ok"}
    return [r for r in records if r.get("status") == "failed" and r.get("key") not in ok]


def summary(frame: Any) -> Any:
    """Per (task, method): means over seeds of the test score, gain over seed, rollouts and wall time."""
    grouped = frame.groupby(["task", "method"], sort=True)
    table = grouped.agg(seeds=("seed", "nunique"), test=("test", "mean"), seed_test=("seed_test", "mean"),
                        gain=("gain", "mean"), rollouts=("rollouts", "mean"),
                        optimize_s=("optimize_wall_s", "mean"))
    if "own_adapter_test" in frame and frame["own_adapter_test"].notna().any():
        table["own_adapter_test"] = grouped["own_adapter_test"].mean()
    return table.reset_index()


def head_to_head(frame: Any, method: str, peer: str, *, seed: int = 0) -> Any:
    """Per task: mean paired test difference (method - peer) over shared seeds, its 95% CI, win/tie/loss."""
    import pandas as pd

    rows = []
    for task, group in frame.groupby("task", sort=True):
        mine = {r.seed: r.test_scores for r in group[group.method == method].itertuples()}
        theirs = {r.seed: r.test_scores for r in group[group.method == peer].itertuples()}
        diffs = [mine[s][i] - theirs[s][i] for s in sorted(set(mine) & set(theirs)) for i in mine[s] if i in theirs[s]]
        if not diffs:
            continue
        lo, hi = bootstrap_ci(diffs, rng=random.Random(seed))
        outcome = "win" if lo > 0 else "loss" if hi < 0 else "tie"
        rows.append({"task": task, "method": method, "peer": peer, "seeds": len(set(mine) & set(theirs)),
                     "diff": mean(diffs), "ci_lo": lo, "ci_hi": hi, "outcome": outcome})
    return pd.DataFrame(rows, columns=["task", "method", "peer", "seeds", "diff", "ci_lo", "ci_hi", "outcome"])


def compare_runs(new: str | Path, old: str | Path, *, method: str = "promptlearn", seed: int = 0) -> Any:
    """``method`` in the ``new`` results against the same method in ``old`` (the suite after and before a code
    change): per task, the paired test difference (new - old) over the seeds both finished, as in
    :func:`head_to_head`, with each side's mean gain over the seed prompt and the commits that ran.

    Cells pair only on the same task, seed and test examples; the records say which commit made each side."""
    import pandas as pd

    frames = {"new": load_results(new), "old": load_results(old)}
    for side, frame in frames.items():
        if method not in set(frame.method):
            raise ConfigError(f"no finished {method!r} cells in the {side} results; "
                              f"methods there: {sorted(set(frame.method))}")
    mine = {side: f[f.method == method].assign(method=side) for side, f in frames.items()}
    tests = {side: {(r.task, r.seed): frozenset(r.test_scores) for r in f.itertuples()} for side, f in mine.items()}
    shared = {cell for cell, ids in tests["new"].items() if tests["old"].get(cell) == ids}  # same test examples
    both = pd.concat([f[[(t, s) in shared for t, s in zip(f.task, f.seed)]] for f in mine.values()])
    if both.empty:
        raise ConfigError(f"no (task, seed) cell of {method!r} was finished on the same test examples in both files")
    table = head_to_head(both, "new", "old", seed=seed)
    gains = both.groupby(["task", "method"])["gain"].mean().unstack()
    commits = both.groupby(["task", "method"])["commit"].agg(lambda c: ",".join(sorted(set(c)))).unstack()
    for side in ("new", "old"):
        table[f"gain_{side}"] = [float(gains.loc[t, side]) for t in table.task]
        table[f"commits_{side}"] = [commits.loc[t, side] for t in table.task]
    return table.drop(columns=["method", "peer"])


def compare_markdown(table: Any, *, method: str, new: str | Path, old: str | Path) -> str:
    """:func:`compare_runs`'s table as markdown, with its win/tie/loss count and each side's mean gain."""
    counts = table.outcome.value_counts()
    lines = [f"{method}: {new} (new) vs {old} (old), paired over the test examples of the cells both finished", "",
             "| task | seeds | new - old (pts) | 95% CI | | gain new | gain old | commits new | commits old |",
             "|---|---:|---:|---|---|---:|---:|---|---|"]
    lines += [f"{_paired_row(r)} {r.gain_new * 100:+.1f} | {r.gain_old * 100:+.1f} | {r.commits_new} | "
              f"{r.commits_old} |" for r in table.itertuples()]
    lines += ["", f"new vs old: {counts.get('win', 0)} wins, {counts.get('tie', 0)} ties, {counts.get('loss', 0)} "
                  f"losses; mean gain over the seed prompt {table.gain_new.mean() * 100:+.1f} vs "
                  f"{table.gain_old.mean() * 100:+.1f} pts over {len(table)} task(s)"]
    return "\n".join(lines) + "\n"


def _paired_row(r: Any) -> str:
    """A head-to-head row's first cells: task, seeds, mean paired difference, its CI and the outcome."""
    return f"| {r.task} | {r.seeds} | {r.diff * 100:+.1f} | [{r.ci_lo * 100:+.1f}, {r.ci_hi * 100:+.1f}] | {r.outcome} |"


def _pair_gains(frame: Any, method: str, peer: str) -> dict[str, float]:
    """Mean gain over the seed prompt of two methods on the (task, seed) cells both finished, averaged per task:
    a peer run on two tasks (or one seed) is compared on those, not against the suite-wide mean."""
    cells = frame[frame.method.isin([method, peer])].dropna(subset=["gain"])
    both = cells.groupby(["task", "seed"]).method.nunique()
    shared = set(both[both == 2].index)
    cells = cells[[(t, s) in shared for t, s in zip(cells.task, cells.seed)]]
    per_task = cells.groupby(["method", "task"])["gain"].mean()
    return {m: float(per_task[m].mean()) for m in (method, peer) if m in per_task.index.get_level_values(0)}


def _main_method(methods: Sequence[str]) -> str:
    candidates = [m for m in methods if m.startswith("promptlearn")] or [m for m in methods if m != "seed"]
    return (candidates or list(methods))[0]


def markdown(frame: Any, *, method: str | None = None) -> str:
    """The report as markdown: the summary table, then ``method`` head-to-head against every other method."""
    method = method or _main_method(sorted(frame.method.unique()))
    table = summary(frame)
    lines = ["| task | method | seeds | test | seed | gain | rollouts | rollouts per pt | optimize s |" +
             (" own adapter |" if "own_adapter_test" in table else ""),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if "own_adapter_test" in table else "")]
    for r in table.itertuples():
        own = f" {pct(r.own_adapter_test, missing='')} |" if "own_adapter_test" in table else ""
        lines.append(f"| {r.task} | {r.method} | {r.seeds} | {pct(r.test, missing='')} | {pct(r.seed_test, missing='')} | "
                     f"{r.gain * 100:+.1f} | {r.rollouts:.0f} | {rollouts_per_point(r.rollouts, r.gain)} | "
                     f"{r.optimize_s:.0f} |{own}")
    methods = set(table.method)
    shared = [t for t, g in table.groupby("task") if set(g.method) == methods]  # compare means on common tasks only
    if shared:
        means = table[table.task.isin(shared)].groupby("method")["gain"].mean()
        lines += ["", f"Mean gain over the {len(shared)} task(s) every method finished: " +
                  ", ".join(f"{m} {g * 100:+.1f} pts" for m, g in means.items())]
    for peer in sorted(set(frame.method) - {method}):
        h2h = head_to_head(frame, method, peer)
        if h2h.empty:
            continue
        counts = h2h.outcome.value_counts()
        pair = _pair_gains(frame, method, peer)
        lines += ["", f"### {method} vs {peer}: {counts.get('win', 0)} wins, {counts.get('tie', 0)} ties, "
                      f"{counts.get('loss', 0)} losses",
                  "", f"Mean gain over these {len(h2h)} task(s): {method} {pair.get(method, 0.0) * 100:+.1f} pts, "
                      f"{peer} {pair.get(peer, 0.0) * 100:+.1f} pts.",
                  "", "| task | seeds | diff (pts) | 95% CI | |", "|---|---:|---:|---|---|"]
        lines += [_paired_row(r) for r in h2h.itertuples()]
    use = strategy_use(frame, method) if "details" in frame else None
    if use is not None and not use.empty:
        lines += ["", f"### {method}: proposal strategies per task (rounds over all seeds)", "",
                  "| task | seeds | rounds by strategy | new bests by strategy |", "|---|---:|---|---|"]
        lines += [f"| {r.task} | {r.seeds} | {_counts(r.rounds)} | {_counts(r.made_best)} |" for r in use.itertuples()]
    agreement = frame.dropna(subset=["judge_agreement"]) if "judge_agreement" in frame else frame.iloc[0:0]
    if not agreement.empty:
        lines += ["", "### Optimization judge vs ground truth on the test outputs", "",
                  "| task | method | seed | accuracy | kappa |", "|---|---|---:|---:|---:|"]
        lines += [f"| {r.task} | {r.method} | {r.seed} | {r.judge_agreement['accuracy']:.2f} | "
                  f"{r.judge_agreement['kappa']:.2f} |" for r in agreement.itertuples()]
    return "\n".join(lines) + "\n"


def strategy_use(frame: Any, method: str) -> Any:
    """Per task, the proposal strategies ``method``'s rounds used and the ones that made a new best, summed
    over seeds (``{strategy: count}``; ``made_best`` is None for cells recorded before it was kept)."""
    import pandas as pd

    rows = []
    cells = frame[frame.method == method]
    for task, group in cells.groupby("task", sort=True):
        details = [d for d in group.get("details", []) if isinstance(d, dict) and d.get("strategies")]
        if not details:
            continue
        used = Counter(name for d in details for name in d["strategies"] if name)
        best = Counter(name for d in details for name in d["gained"]) if all("gained" in d for d in details) else None
        rows.append({"task": task, "seeds": len(details), "rounds": used, "made_best": best})
    return pd.DataFrame(rows, columns=["task", "seeds", "rounds", "made_best"])


def _counts(counts: Counter[str] | None) -> str:
    if counts is None:
        return "not recorded"
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


def plot_score_vs_rollouts(frame: Any, path: str | Path | None = None) -> Any:
    """Held-out score against rollouts spent, one line per method (through each budget run), a panel per task.

    Every line starts at the seed prompt's score with 0 rollouts. Returns the matplotlib Figure.
    """
    matplotlib = require("matplotlib", "plots", what="the bench report's chart")

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    tasks = sorted(frame.task.unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        group = frame[frame.task == task]
        seed_score = group.seed_test.mean()
        for method, rows in group[group.method != "seed"].groupby("method", sort=True):
            points = rows.groupby("budget").agg(x=("rollouts", "mean"), y=("test", "mean")).sort_values("x")
            ax.plot([0, *points.x], [seed_score, *points.y], marker="o", label=method)
        ax.axhline(seed_score, color="grey", linestyle=":", label="seed")
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("rollouts spent")
        ax.set_ylim(-0.02, 1.02)
    axes[0][0].set_ylabel("held-out test score")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def write_report(results: str | Path | Sequence[dict[str, Any]], out_dir: str | Path, *,
                 method: str | None = None) -> dict[str, Path]:
    """report.md, score_vs_rollouts.png and report.html (bench/html.py) in ``out_dir``; ``results`` is a
    results file or its records."""
    require("matplotlib", "plots", what="the bench report's chart")
    import matplotlib.pyplot as plt

    frame = load_results(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(frame, method=method)
    source = results if isinstance(results, (str, Path)) else None  # a file: failed cells and cell folders
    failed = failed_cells(source) if source is not None else []
    if failed:
        text += "\n### Failed cells (a rerun tries them again)\n\n" + "\n".join(
            f"- {r['task']} / {r['method']} / seed {r['seed']}: {r['error']}" for r in failed) + "\n"
    paths = {"markdown": out / "report.md", "plot": out / "score_vs_rollouts.png", "html": out / "report.html"}
    paths["markdown"].write_text(text, encoding="utf-8")
    plt.close(plot_score_vs_rollouts(frame, paths["plot"]))
    cells = ResultsStore(source).cells_dir if source is not None else None
    link = bench_html.cell_reports(frame, cells, out) if cells is not None else (lambda cell: None)
    main = method or _main_method(sorted(frame.method.unique()))
    peers = {peer: head_to_head(frame, main, peer) for peer in set(frame.method) - {main}}
    page = bench_html.page(frame, text, main, link, summary=summary(frame), head_to_head=peers,
                           charts={task: _task_png(frame[frame.task == task]) for task in frame.task.unique()})
    paths["html"].write_text(page, encoding="utf-8")
    return paths


def _task_png(frame: Any) -> bytes:
    """One task's score-vs-rollouts chart, sized for the page's grid, as PNG bytes."""
    import matplotlib.pyplot as plt

    fig = plot_score_vs_rollouts(frame)
    fig.set_size_inches(4.8, 3.4)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
