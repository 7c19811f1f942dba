"""Writes the good-seed suite (issue 26): the same tasks and splits as ``tasks/``, each with the seed prompt a
user who knows the task writes: what to do, and the answer format (the option-letter, yes/no, True/False or
number instruction; for classification the label list, which the tasks in ``tasks/`` already give).

    python benchmarks/suites/make_good_seed_tasks.py

The broken-seed tasks ("Answer the question.") stay as they are in ``tasks/``: the headline table reports
both suites. Each good-seed task is its broken-seed twin with only ``name`` and ``seed_prompt`` changed, so
the two share data, split, agent and metric, and a cell of one never resumes as a cell of the other.
"""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).parent
TASKS, OUT = HERE / "tasks", HERE / "good_seed"

LETTER = "Answer with only the letter of the correct option, in parentheses, like (A)."
# task file stem: the seed prompt a competent user writes
SEEDS = {
    "snips": None,  # already names the seven intents
    "banking77_15": None,  # already names the fifteen intents
    "banking77_13b": None,  # already names its thirteen intents
    "hover": None,  # already states the two labels
    "arize_support_queries": None,  # already names its thirty categories and the answer format
    "snips_weather_slots": None,  # already names the nine slots and the one-line JSON answer, with an example
    # The policy's best-known parts, as its owner would brief someone; the other rules are learnt from references.
    "arize_biznorm": "Rewrite the customer message under our data policy: replace email addresses with [EMAIL] and "
                     "phone numbers with [PHONE], keep the rest of the message as written, and end it with the footer "
                     "-- Company Confidential --. Answer with only the rewritten message.",
    "bbh_logical_deduction_three_objects":
        "Read the clues about the order of the three objects and deduce which option is true. " + LETTER,
    "bbh_temporal_sequences":
        "From the person's schedule, find the only time slot in which they could have gone to the place. " + LETTER,
    "bbh_boolean_expressions": "Evaluate the boolean expression. Answer with only True or False.",
    "bbh_sports_understanding":
        "Decide whether the sentence about sports is plausible (the athlete and the action belong to the same "
        "sport). Answer with only yes or no.",
    "bbh_multistep_arithmetic_two":
        "Evaluate the arithmetic expression, respecting parentheses and operator precedence. Answer with only the "
        "final number.",
    "bbh_snarks": "Pick the sarcastic statement of the two. " + LETTER,
    "bbh_hyperbaton":
        "Pick the sentence whose adjectives are in the usual English order (opinion, size, age, shape, colour, "
        "origin, material, purpose). " + LETTER,
    "bbh_disambiguation_qa": "Find what the pronoun refers to, or say that it is ambiguous. " + LETTER,
    "bbh_formal_fallacies":
        "Decide whether the argument is deductively valid given the premises. Answer with only valid or invalid.",
    "bbh_navigate":
        "Follow the moves and decide whether they return to the starting point. Answer with only Yes or No.",
    "bbh_causal_judgement":
        "Answer how a typical person would answer the question about causation in the story. Answer with only Yes "
        "or No.",
    "bbh_web_of_lies": "Work out whether the last person tells the truth. Answer with only Yes or No.",
    "bbh_tracking_shuffled_objects_three_objects":
        "Track which object each person holds after every swap, in order. " + LETTER,
    "gsm8k": "Solve the math word problem. Give the final answer as a number on the last line, as 'Answer: <number>'.",
}
SUITE_COMMENT = """# The good-seed suite (issue 26): every task's seed states the task and its answer format, as a user who
# knows the task writes it. Same data, splits, agent and metric as the broken-seed tasks in tasks/.
# Written by make_good_seed_tasks.py.
#
# Which tasks discriminate (benchmarks/README "promptlearn and dspy-miprov2 on the good-seed suite"; 0.5B agent):
#   move for some method: snips, banking77_15, banking77_13b (every optimiser; retrieval most),
#     arize_support_queries (30 categories; promptlearn +9.7 pts, MIPROv2 +3.7, gepa +0.0),
#     snips_weather_slots (slot filling, slot F1; seed 21.6%, promptlearn +14.8 pts, MIPROv2 +11.7: worked examples),
#     logical_deduction_three_objects, temporal_sequences and tracking_shuffled_objects_three_objects (the 0.5B
#     breaks the option-letter format its seed states; format repair + demos + rules fix part of it; tracking:
#     seed 6.1%, promptlearn 9.4%, MIPROv2 1.4%, gepa 6.1%, three seeds);
#   measure the model, not the optimiser (no method tried moved them): hover, gsm8k, boolean_expressions,
#     hyperbaton, snarks, formal_fallacies, sports_understanding, disambiguation_qa (under the seed the 0.5B
#     answered "(B) <option text>" to 12 of 12 training questions; the promptlearn and MIPROv2 cells of seed 0:
#     3.3%, 5.8%);
#   one answer to everything under the seed, no optimiser run: navigate, causal_judgement, web_of_lies (the 0.5B
#     answered "No" to all 16 of seed 0's first training questions on each, 2026-12-05);
#   not yet known: multistep_arithmetic_two (seed 1.1%; no method moved its broken-seed twin), arize_biznorm (a
#     rewrite under a 19-rule policy scored by exact match: the seed scores 0.0% (seed 0), and a cell costs about
#     an hour on 2 cores (outputs of ~50 tokens), so no optimiser has run on it yet).
"""


def main() -> None:
    OUT.mkdir(exist_ok=True)
    names = []
    for stem, seed in SEEDS.items():
        task = yaml.safe_load((TASKS / f"{stem}.yaml").read_text())
        task["name"] = f"good_{task['name']}"
        if seed is not None:
            task["seed_prompt"] = seed
        # good_seed/ sits beside tasks/, so the tasks' relative data and metric paths hold as they are
        (OUT / f"{stem}.yaml").write_text(yaml.safe_dump(task, sort_keys=False, width=120))
        names.append(f"good_seed/{stem}.yaml")
    (HERE / "good_seed.yaml").write_text(SUITE_COMMENT + yaml.safe_dump({"description": "good_seed", "tasks": names},
                                                                        sort_keys=False))
    print(f"wrote {len(names)} tasks to {OUT} and the suite good_seed.yaml")


if __name__ == "__main__":
    main()
