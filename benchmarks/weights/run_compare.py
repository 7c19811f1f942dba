"""Prompt tuning vs weight tuning, every arm scored by one transformers engine.

    python benchmarks/weights/run_compare.py --budgets 100 --out benchmarks/weights/snips
    python benchmarks/weights/run_compare.py --task benchmarks/suites/tasks/bbh_sports_understanding.yaml \
        --budgets 100 --n-test 60 --out benchmarks/weights/bbh_sports_understanding

Without ``--task``: SNIPS as the quickstart splits it (35/35/N). With a bench task YAML: its seed-0 split,
seed prompt, template and judges (test cut to ``--n-test``).

Finished arms are kept in OUT/comparison.jsonl and skipped on a rerun (a killed run continues);
adapters and run directories stay under OUT/ (ignored by git). Prints the table and writes
OUT/score_vs_rollouts.png.
"""

from __future__ import annotations

import argparse

from promptlearn import LLM, ExactMatch, OptimizeConfig
from promptlearn.agents import first_line
from promptlearn.app.quickstart import AGENT_MAX_TOKENS, SNIPS_SEED_PROMPT, SNIPS_TASK, SNIPS_USER_TEMPLATE, snips_task
from promptlearn.weights import GRPOSettings, SFTSettings, compare_prompt_vs_weights


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budgets", default="100")
    parser.add_argument("--methods", default="seed,promptlearn,sft,grpo,promptlearn+sft")
    parser.add_argument("--n-test", type=int, default=70)
    parser.add_argument("--out", default="benchmarks/weights/snips")
    parser.add_argument("--task", default=None, help="a bench task YAML instead of SNIPS")
    args = parser.parse_args()
    train, val, test = snips_task(n_train=35, n_val=35, n_test=args.n_test, seed=0)
    seed_prompt, template, tokens, description = SNIPS_SEED_PROMPT, SNIPS_USER_TEMPLATE, AGENT_MAX_TOKENS, SNIPS_TASK
    if args.task:
        from promptlearn.bench.task import load_task

        task = load_task(args.task)
        train, val, test = task.splits(0)
        test = test[: args.n_test]
        assert isinstance(task.seed_prompt, str)
        seed_prompt, template, tokens = task.seed_prompt, task.agent.user_template, task.agent.max_tokens
        description = task.description
    methods = args.methods.split(",")
    # Only the prompt arms search with llama.cpp; weight arms alone run where it is not installed (a GPU box).
    searches = any(m in ("promptlearn", "promptlearn+sft") for m in methods)
    agent_llm = LLM("local/qwen2.5-coder-0.5b", role="agent") if searches else None
    rewriter = LLM("local/qwen2.5-coder-1.5b", role="optimizer", temperature=0.0) if searches else None
    frame = compare_prompt_vs_weights(
        "local/qwen2.5-coder-0.5b", train, val, test, judges=[ExactMatch()], seed_prompt=seed_prompt,
        agent_llm=agent_llm, optimizer_llm=rewriter, output_dir=args.out, methods=methods,
        budgets=[int(b) for b in args.budgets.split(",")], user_template=template,
        max_tokens=tokens, parse=first_line, config=OptimizeConfig(task_description=description),
        sft=SFTSettings(batch_size=4, train_system_prompt=seed_prompt),
        grpo=GRPOSettings(prompts_per_step=2, num_generations=4, max_completion_length=tokens,
                          train_system_prompt=seed_prompt))
    print(frame[["method", "budget", "test", "test_ci95", "rollouts", "examples_seen", "wall_s", "device", "engine"]]
          .to_string(index=False))


if __name__ == "__main__":
    main()
