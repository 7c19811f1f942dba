"""A self-contained HTML report: score curve, prompt diffs, worst examples, rules with provenance."""

from __future__ import annotations

import base64
import difflib
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

from ._extras import available
from .errors import ConfigError

if TYPE_CHECKING:
    from .result import OptimizationResult

MAX_WORST = 15

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
pre{white-space:pre-wrap;background:#f6f8fa;padding:.6em;border-radius:4px}
table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ddd;padding:3px 6px;vertical-align:top}
.add{background:#e6ffed}.del{background:#ffeef0}.muted{color:#777}h2{margin-top:1.6em}"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _plot_png(result: "OptimizationResult") -> str:
    """The score-per-round chart as base64 PNG; "" without matplotlib (the report says how to get it)."""
    if not available("matplotlib"):
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    result.plot(ax=ax)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _chart(result: "OptimizationResult") -> str:
    png = _plot_png(result)
    if not png:
        return "<p>(no chart: matplotlib is not installed; pip install 'promptlearn[plots]')</p>"
    return f"<img alt='score per round' src='data:image/png;base64,{png}'>"


def _diff(old: str, new: str) -> str:
    lines = []
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        if line.startswith("+ "):
            lines.append(f'<span class="add">{_e(line)}</span>')
        elif line.startswith("- "):
            lines.append(f'<span class="del">{_e(line)}</span>')
        elif line.startswith("  "):
            lines.append(_e(line))
    return "<pre>" + "\n".join(lines) + "</pre>"


def _evidence(result: "OptimizationResult") -> str:
    """Each change of the best prompt against the one it replaced, then the seed against the final best."""
    trail = result.gain_trail()
    if not trail:
        return ""
    overall = result.val_gain()
    rows = [(f"{g.iteration}", g.strategy or "", g) for g in trail]
    if overall is not None and len(trail) > 1:
        rows.append(("all", "seed \u2192 best", overall))
    body = "".join(f"<tr><td>{it}</td><td>{_e(name)}</td>"
                   f"<td>{g.gain * 100:+.1f} pts</td><td>[{g.ci95[0] * 100:+.1f}, {g.ci95[1] * 100:+.1f}]</td>"
                   f"<td>{g.better} / {g.worse} of {g.n}</td><td>{'yes' if g.within_noise else 'no'}</td></tr>"
                   for it, name, g in rows)
    return ("<h2>How sure each new best was</h2><p>Each change of the best prompt against the one it replaced, "
            "paired on the validation examples both ran on, with a 95% bootstrap interval. Where the interval "
            "reaches zero the step may be luck of the validation draw: check the prompt on a test set.</p>"
            "<table><tr><th>round</th><th>strategy</th><th>gain</th><th>95% CI</th><th>better / worse</th>"
            f"<th>within noise</th></tr>{body}</table>")


def write_report(result: "OptimizationResult", path: str | Path) -> Path:
    path = Path(path)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>promptlearn report</title>"
             f"<style>{_CSS}</style></head><body><h1>promptlearn report</h1>",
             f"<p>{_e(result.summary())}</p>",
             _chart(result)]

    parts.append(_evidence(result))
    parts.append("<h2>Best prompt</h2><pre>" + _e(result.best_prompt) + "</pre>")
    parts.append("<h2>Seed prompt</h2><pre>" + _e(result.seed.prompt) + "</pre>")

    for name, component in result.best.components.items():
        where = f" ({_e(name)})" if len(result.best.components) > 1 else ""
        if component.rules:
            measured = result.rule_contributions()
            head = "<th>measured contribution</th>" if measured else ""
            parts.append(f"<h2>Rules and where they came from{where}</h2><table><tr><th>#</th><th>rule</th>"
                         f"<th>round</th>{head}<th>critiques that produced it</th></tr>")
            listed = [r for r in component.rules if r.placement == "list"]  # numbered as the prompt numbers them
            for rule in component.rules:
                prov = "<br>".join(f"<b>{_e(p.example_id)}</b> ({_e(p.judge)}): {_e(p.critique)}"
                                   for p in rule.provenance)
                gain = measured.get(rule.text)
                cell = (f"<td>{'not measured' if gain is None else f'{gain * 100:+.1f} pts'}</td>" if measured else "")
                number = "last line" if rule.placement == "end" else str(listed.index(rule) + 1)
                parts.append(f"<tr><td>{number}</td><td>{_e(rule.text)}</td><td>{rule.iteration}</td>{cell}<td>{prov}</td></tr>")
            parts.append("</table>")
        if component.demos:
            parts.append(f"<h2>Worked examples in the prompt{where} (training data only)</h2><table><tr>"
                         "<th>example</th><th>input</th><th>answer</th><th>round</th></tr>")
            for demo in component.demos:
                parts.append(f"<tr><td>{_e(demo.example_id)}</td><td>{_e(demo.input)}</td><td>{_e(demo.answer)}</td>"
                             f"<td>{demo.iteration}</td></tr>")
            parts.append("</table>")
    strategies = [r.strategy for r in result.history if r.strategy]
    if strategies:
        rows = "".join(f"<tr><td>{_e(name)}</td><td>{strategies.count(name)}</td>"
                       f"<td>{sum(1 for r in result.history if r.strategy == name and r.accepted)}</td>"
                       f"<td>{sum(1 for r in result.history if r.strategy == name and r.gained)}</td></tr>"
                       for name in dict.fromkeys(strategies))
        parts.append("<h2>Proposal strategies</h2><table><tr><th>strategy</th><th>rounds</th>"
                     f"<th>accepted on the minibatch</th><th>new best</th></tr>{rows}</table>")

    parts.append("<h2>Prompt changes, parent &rarr; child</h2>")
    validated = set(result.val_scores)
    for cand in sorted(result.candidates.values(), key=lambda c: c.iteration):
        for parent_id in cand.parent_ids:
            parent = result.candidates.get(parent_id)
            if parent is None:
                continue
            status = f"validation {result.val_mean(cand.id):.3f}" if cand.id in validated else "not validated"
            if cand.strategy:
                status = f"{cand.strategy}; {status}"
            parts.append(f"<h3>round {cand.iteration}: {_e(parent_id)} &rarr; {_e(cand.id)} "
                         f"<span class='muted'>({status})</span></h3>")
            if cand.rationale:
                parts.append(f"<p class='muted'>rationale: {_e(cand.rationale)}</p>")
            parts.append(_diff(parent.prompt, cand.prompt))

    best_results = result.val_results.get(result.best.id, {})
    worst = sorted(best_results.values(), key=lambda r: r.score)[:MAX_WORST]
    worst = [r for r in worst if r.score < 1.0]
    if worst:
        parts.append("<h2>Worst validation examples of the best prompt</h2><table><tr><th>example</th>"
                     "<th>output</th><th>score</th><th>critiques</th></tr>")
        for r in worst:
            crit = "<br>".join(f"<b>{_e(c.judge)}</b>: {_e(c.explanation or c.error or '')}" for c in r.critiques)
            out = r.rollout.output if r.rollout.error is None else f"(error) {r.rollout.error}"
            parts.append(f"<tr><td>{_e(r.rollout.example_id)}</td><td>{_e(out)}</td>"
                         f"<td>{r.score:.2f}</td><td>{crit}</td></tr>")
        parts.append("</table>")

    frame = result.history_df()
    if not frame.empty:
        cols = [c for c in ["iteration", "strategy", "component", "parent", "child", "parent_minibatch", "child_minibatch",
                            "format_failures", "accepted", "format_repaired",
                            "margin", "child_val", "val_reached", "best_val", "outcome", "rollouts", "llm_calls"]
                if c in frame and (c not in ("component", "val_reached") or frame[c].notna().any())]
        parts.append("<h2>Rounds</h2>" + frame[cols].to_html(index=False, na_rep="",
                                                                        float_format=lambda x: f"{x:.3f}"))
    if result.usage_by_role:
        parts.append("<h2>Usage by role</h2>" + result.usage_frame().to_html())
    parts.append("</body></html>")
    blocking = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None and blocking != path:
        raise ConfigError(f"cannot write the report to {path}: {blocking} is a file, not a folder")
    if path.is_dir():
        raise ConfigError(f"cannot write the report to {path}: it is a folder; give a file path such as {path}/report.html")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
