"""The bench's HTML page: one summary table (percentages, gains, rollouts per point), head-to-head tables coloured
win / tie / loss, one legible chart per task, the best prompts of each method side by side per task, and a link
to each cell's own run report. No raw floats, no NaN: a missing value is shown as a dash."""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any, Callable

MISSING = "&ndash;"
OUTCOME_COLOURS = {"win": "#d7f5dc", "tie": "#eeeeee", "loss": "#f9d6d5"}
CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:0 1em;color:#222}"
       "table{border-collapse:collapse;margin:.6em 0}td,th{padding:3px 9px;border-bottom:1px solid #ddd;"
       "text-align:right}td:first-child,th:first-child,td.text,th.text,td.nowrap{text-align:left}"
       "td.nowrap{white-space:nowrap}th{background:#f3f3f3}"
       "pre{white-space:pre-wrap;background:#f6f6f6;padding:6px;margin:0;font-size:12px}"
       ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:12px}"
       ".charts img{width:100%}.side{display:grid;grid-auto-flow:column;grid-auto-columns:minmax(260px,1fr);"
       "gap:10px;overflow-x:auto}.side h4{margin:.3em 0}")


def _e(value: object) -> str:
    return html.escape(str(value))


def _number(value: Any, fmt: Callable[[float], str], missing: str = MISSING) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return missing
    return fmt(float(value))


def pct(value: Any, missing: str = MISSING) -> str:
    return _number(value, lambda v: f"{v * 100:.1f}%", missing)


def pts(value: Any) -> str:
    return _number(value, lambda v: f"{v * 100:+.1f}")


def count(value: Any) -> str:
    return _number(value, lambda v: f"{v:.0f}")


def rollouts_per_point(rollouts: float, gain: float) -> str:
    """Rollouts spent per point of mean test gain over the seed prompt; "no gain" where there is none to buy."""
    if not gain == gain or gain * 100 < 0.05:  # NaN, zero or negative
        return "no gain"
    return f"{rollouts / (gain * 100):.1f}"


def shown_prompt(prompt: Any) -> str:
    """A stored best prompt as text: a multi-step task's components under their names."""
    if isinstance(prompt, dict):
        return "\n\n".join(f"### {name}\n{text}" for name, text in prompt.items())
    return str(prompt)


def summary_table(frame: Any, summary: Any) -> str:
    """``summary``: report.summary(frame), one row per (task, method); ``frame`` gives each cell's scores."""
    rows = []
    for r in summary.itertuples():
        cells = frame[(frame.task == r.task) & (frame.method == r.method)].sort_values("seed")
        per_seed = " / ".join(pct(v).rstrip("%") for v in cells.test)
        first = cells["test_ci95"].iloc[0] if "test_ci95" in cells and len(cells) == 1 else None
        ci = first if isinstance(first, (list, tuple)) and len(first) == 2 else None
        spread = f"[{pct(ci[0])}, {pct(ci[1])}]" if ci else (per_seed if len(cells) > 1 else MISSING)
        per_point = rollouts_per_point(r.rollouts, r.gain) if r.method != "seed" else MISSING
        rows.append(f"<tr><td class=text>{_e(r.task)}</td><td class=text>{_e(r.method)}</td><td>{r.seeds}</td>"
                    f"<td>{pct(r.test)}</td><td class=nowrap>{spread}</td><td>{pct(r.seed_test)}</td>"
                    f"<td>{pts(r.gain) if r.method != 'seed' else MISSING}</td><td>{count(r.rollouts)}</td>"
                    f"<td>{per_point}</td><td>{count(r.optimize_s)}</td></tr>")
    return ("<table><tr><th>task</th><th class=text>method</th><th>seeds</th><th>test (mean)</th>"
            "<th class=text>each seed (one seed: 95% CI)</th>"
            "<th>seed prompt</th><th>gain (pts)</th><th>rollouts</th><th>rollouts per pt</th><th>optimize s</th></tr>"
            + "".join(rows) + "</table>")


def head_to_head_tables(tables: dict[str, Any], method: str) -> str:
    """``tables``: peer -> report.head_to_head(frame, method, peer)."""
    parts = []
    for peer, table in sorted(tables.items()):
        if table.empty:
            continue
        tally = table.outcome.value_counts()
        rows = "".join(f"<tr style='background:{OUTCOME_COLOURS[r.outcome]}'><td class=text>{_e(r.task)}</td>"
                       f"<td>{r.seeds}</td><td>{pts(r.diff)}</td><td class=text>[{pts(r.ci_lo)}, {pts(r.ci_hi)}]</td>"
                       f"<td class=text>{_e(r.outcome)}</td></tr>" for r in table.itertuples())
        parts.append(f"<h3>{_e(method)} vs {_e(peer)}: {tally.get('win', 0)} wins, {tally.get('tie', 0)} ties, "
                     f"{tally.get('loss', 0)} losses</h3><table><tr><th>task</th><th>seeds</th><th>diff (pts)</th>"
                     f"<th>95% CI</th><th>outcome</th></tr>{rows}</table>")
    return "".join(parts)


def task_charts(charts: dict[str, bytes]) -> str:
    """One score-vs-rollouts chart per task (PNG bytes by task name), inline, in a grid."""
    images = [f"<img alt='{_e(task)}: score vs rollouts' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
              for task, png in sorted(charts.items())]
    return "<div class=charts>" + "".join(images) + "</div>"


def prompts_side_by_side(frame: Any, cell_link: Callable[[Any], str | None]) -> str:
    parts = []
    for task, group in frame.groupby("task", sort=True):
        columns = []
        for method, cells in group.groupby("method", sort=True):
            seeds: list[str] = []
            for cell in cells.sort_values("seed").itertuples():
                link = cell_link(cell)
                ref = f" (<a href='{_e(link)}'>run report</a>)" if link else ""
                seeds.append(f"<details{' open' if not seeds else ''}><summary>seed {cell.seed}: test "
                             f"{pct(cell.test)}{ref}</summary><pre>{_e(shown_prompt(cell.best_prompt))}</pre></details>")
            columns.append(f"<div><h4>{_e(method)}</h4>{''.join(seeds)}</div>")
        parts.append(f"<h3>{_e(task)}</h3><div class=side>{''.join(columns)}</div>")
    return "".join(parts)


def cell_reports(frame: Any, cells_dir: Path, out_dir: Path) -> Callable[[Any], str | None]:
    """A function giving each cell's run report as a link relative to ``out_dir`` (rendered once from the
    cell's result.json when missing); None for cells without a run folder (peers, the seed prompt)."""
    from ..result import OptimizationResult
    from ..store import RESULT_FILE

    def link(cell: Any) -> str | None:
        run = cells_dir / str(cell.task) / str(cell.method) / f"seed{cell.seed}-budget{cell.budget}" / "run"
        if not (run / RESULT_FILE).exists():
            return None
        report = run / "report.html"
        if not report.exists():
            try:
                OptimizationResult.load(run).report(report)
            except Exception:  # noqa: BLE001 - an unreadable old cell loses its link, not the page
                return None
        return os.path.relpath(report, out_dir)

    return link


def page(frame: Any, markdown_text: str, method: str, cell_link: Callable[[Any], str | None], *, summary: Any,
         head_to_head: dict[str, Any], charts: dict[str, bytes]) -> str:
    """The whole page; report.write_report computes the tables and charts it lays out."""
    return ("<!doctype html><html lang=en><head><meta charset='utf-8'><title>promptlearn bench</title>"
            f"<style>{CSS}</style></head><body><h1>promptlearn bench</h1>"
            f"<h2>Summary (means over seeds)</h2>{summary_table(frame, summary)}"
            f"<h2>{_e(method)} head to head (paired over test examples)</h2>{head_to_head_tables(head_to_head, method)}"
            f"<h2>Held-out score vs rollouts spent</h2>{task_charts(charts)}"
            f"<h2>Best prompts, side by side</h2>{prompts_side_by_side(frame, cell_link)}"
            f"<h2>The markdown report</h2><details><summary>report.md</summary><pre>{_e(markdown_text)}</pre>"
            "</details></body></html>")
