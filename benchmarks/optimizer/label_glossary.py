"""Does a one-line description of every label, written by the rewriter from training examples, help the agent?

    python benchmarks/optimizer/label_glossary.py benchmarks/suites/tasks/banking77_15.yaml --seed 0 --n-dev 100

For a task whose references are a label set, the ``glossary`` strategy (``promptlearn.glossary``: the 1.5B rewriter
reads up to four training inputs of each label, the cell's training split of ``--seed``, and writes one line
saying when that label applies) extends the seed prompt. The seed
prompt is then scored on a dev set outside the cell's splits (as ``demo_choice.py`` does) four ways: alone, with
the glossary block, with one training example per label (the ``cover`` set), and with both.
One JSON line per variant goes to ``benchmarks/results/optimizer/label_glossary.jsonl``; model calls go through
the shared cache, so a rerun costs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from pathlib import Path

from demo_choice import draw_per_label
from probe import append_row, commit, task_optimizer, train_and_dev

from promptlearn.bench.cell import default_llm_factory
from promptlearn.bench.task import load_task
from promptlearn.config import DEFAULT_REWRITER_MODEL
from promptlearn.contracts import infer_contract
from promptlearn.edits import as_demo
from promptlearn.glossary import LabelGlossaryProposer
from promptlearn.llm import Usage
from promptlearn.proposers import ProposalContext
from promptlearn.records import Candidate

OUT = Path(__file__).parents[1] / "results" / "optimizer" / "label_glossary.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-dev", type=int, default=100)
    parser.add_argument("--meta-prompt-dir", help="a folder whose glossary.j2 replaces the packaged one (wording trials)")
    args = parser.parse_args()
    task = load_task(args.task)
    train, dev = train_and_dev(task, args.seed, args.n_dev)
    optimizer = task_optimizer(task, args.seed)
    rewriter = default_llm_factory()(DEFAULT_REWRITER_MODEL, "optimizer", Usage(), None)
    assert isinstance(task.seed_prompt, str), "single-prompt tasks only"
    seed = Candidate.create(task.seed_prompt)
    context = ProposalContext(iteration=1, train=train, task_description=task.description, output_contract=None,
                              contract=infer_contract(train))
    proposal = asyncio.run(LabelGlossaryProposer(rewriter, meta_prompt_dir=args.meta_prompt_dir).apropose(seed, [], context))
    assert proposal.child is not None, proposal.rejections
    glossary = proposal.child.system_prompt[len(seed.system_prompt):]
    print(glossary, *proposal.rejections, sep="\n")
    cover = tuple(as_demo(e) for e in draw_per_label(train, 1, random.Random(f"{args.seed}/any/per-label1")))
    variants = {"seed": Candidate.create(task.seed_prompt),
                "glossary": proposal.child,
                "cover": Candidate.create(task.seed_prompt, demos=cover),
                "glossary+cover": Candidate.create(proposal.child.system_prompt, demos=cover)}
    at = commit()
    for name, candidate in variants.items():
        score = optimizer.evaluate(candidate, dev).mean
        append_row(OUT, {"task": task.name, "seed": args.seed, "variant": name, "n_dev": len(dev), "dev": score,
                         "meta_prompt": args.meta_prompt_dir or "packaged",
                         "glossary": glossary.strip().splitlines()[1:], "commit": at})
        print(f"  {name}: dev {score:.1%}")


if __name__ == "__main__":
    main()
