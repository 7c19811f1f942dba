"""Prompt tuning vs weight tuning on SNIPS (the quickstart's split), every arm scored by one transformers engine.

    python benchmarks/weights/run_compare.py --budgets 100 --out benchmarks/weights/snips

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
    args = parser.parse_args()
    train, val, test = snips_task(n_train=35, n_val=35, n_test=args.n_test, seed=0)
    agent_llm = LLM("local/qwen2.5-coder-0.5b", role="agent")
    rewriter = LLM("local/qwen2.5-coder-1.5b", role="optimizer", temperature=0.0)
    frame = compare_prompt_vs_weights(
        "local/qwen2.5-coder-0.5b", train, val, test, judges=[ExactMatch()], seed_prompt=SNIPS_SEED_PROMPT,
        agent_llm=agent_llm, optimizer_llm=rewriter, output_dir=args.out, methods=args.methods.split(","),
        budgets=[int(b) for b in args.budgets.split(",")], user_template=SNIPS_USER_TEMPLATE,
        max_tokens=AGENT_MAX_TOKENS, parse=first_line, config=OptimizeConfig(task_description=SNIPS_TASK),
        sft=SFTSettings(batch_size=4, train_system_prompt=SNIPS_SEED_PROMPT),
        grpo=GRPOSettings(prompts_per_step=2, num_generations=4, max_completion_length=AGENT_MAX_TOKENS,
                          train_system_prompt=SNIPS_SEED_PROMPT))
    print(frame[["method", "budget", "test", "test_ci95", "rollouts", "examples_seen", "wall_s", "engine"]]
          .to_string(index=False))


if __name__ == "__main__":
    main()
