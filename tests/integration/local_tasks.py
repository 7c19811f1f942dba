"""Small synthetic tasks the real-model tests share."""

import random

from promptlearn import load_examples


def largest_number_task(n: int, seed: int = 0):
    """Multiple choice with option-letter answers like "(B)": the 0.5B explains unless told the format."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        options = rng.sample(range(1, 50), 3)
        question = "Which number is the largest? Options:\n" + "\n".join(
            f"({letter}) {value}" for letter, value in zip("ABC", options))
        rows.append({"id": f"q{i}", "input": question, "target": "(" + "ABC"[options.index(max(options))] + ")"})
    return load_examples(rows, inputs="input", reference="target", id_column="id")
