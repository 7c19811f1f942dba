"""Benchmark tasks built from ../shared/data (never shipped in the package).

Each task: examples, a seed prompt, the agent's user template and output budget,
the judges, and a one-line description for the rewriter.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from promptlearn import ExactMatch, Example, load_examples, split_examples

SHARED_DATA = Path(os.environ.get("PROMPTLEARN_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


@dataclass
class Task:
    name: str
    seed_prompt: str
    user_template: str
    description: str
    agent_max_tokens: int
    load: Callable[[int], tuple[list[Example], list[Example], list[Example]]]
    judges: list = field(default_factory=lambda: [ExactMatch()])


def _snips(seed: int):
    examples = load_examples(SHARED_DATA / "snips_intents" / "train.jsonl", inputs="text", reference="intent",
                             id_column="id")
    return split_examples(examples, [35, 35, 140], seed=seed, stratify=True)


def _bbh(task: str, sizes=(40, 40, 120)):
    def load(seed: int):
        data = json.loads((SHARED_DATA / "bbh" / f"{task}.json").read_text())["examples"]
        rows = [{"id": f"{task}_{i}", **row} for i, row in enumerate(data)]
        examples = load_examples(rows, inputs="input", reference="target", id_column="id")
        return split_examples(examples, list(sizes), seed=seed, stratify=True)

    return load


TASKS = {
    "snips": Task(
        name="snips",
        seed_prompt=("Classify the user's request into one of these intents: AddToPlaylist, BookRestaurant, "
                     "GetWeather, PlayMusic, RateBook, SearchCreativeWork, SearchScreeningEvent."),
        user_template="Request: {{ text }}\nIntent:",
        description="classify a voice-assistant request into its intent label",
        agent_max_tokens=12, load=_snips),
    "bbh_sports_understanding": Task(
        name="bbh_sports_understanding",
        seed_prompt="Answer the question.",
        user_template="{{ input }}\nAnswer:",
        description="decide whether a sentence about sports is plausible; answer yes or no",
        agent_max_tokens=8, load=_bbh("sports_understanding")),
    "bbh_formal_fallacies": Task(
        name="bbh_formal_fallacies",
        seed_prompt="Answer the question.",
        user_template="{{ input }}\nAnswer:",
        description="decide whether an argument is deductively valid or invalid",
        agent_max_tokens=8, load=_bbh("formal_fallacies")),
    "bbh_boolean_expressions": Task(
        name="bbh_boolean_expressions",
        seed_prompt="Evaluate the expression.",
        user_template="{{ input }}\nAnswer:",
        description="evaluate a boolean expression; answer True or False",
        agent_max_tokens=8, load=_bbh("boolean_expressions")),
    "bbh_navigate": Task(
        name="bbh_navigate",
        seed_prompt="Answer the question.",
        user_template="{{ input }}\nAnswer:",
        description="decide whether following the instructions returns to the starting point; answer Yes or No",
        agent_max_tokens=8, load=_bbh("navigate")),
    "bbh_logical_deduction_three_objects": Task(
        name="bbh_logical_deduction_three_objects",
        seed_prompt="Answer the question.",
        user_template="{{ input }}\nAnswer:",
        description="deduce the order of three objects from clues; pick the right option",
        agent_max_tokens=8, load=_bbh("logical_deduction_three_objects")),
    "bbh_temporal_sequences": Task(
        name="bbh_temporal_sequences",
        seed_prompt="Answer the question.",
        user_template="{{ input }}\nAnswer:",
        description="find when a person could have gone somewhere from their schedule; pick the right option",
        agent_max_tokens=8, load=_bbh("temporal_sequences")),
    "bbh_multistep_arithmetic_two": Task(
        name="bbh_multistep_arithmetic_two",
        seed_prompt="Answer the question.",
        user_template="{{ input }}\nAnswer:",
        description="evaluate an arithmetic expression; answer with the number",
        agent_max_tokens=8, load=_bbh("multistep_arithmetic_two")),
}
