"""Test accuracy of fixed prompts (no optimisation) on the quickstart's SNIPS split.

    python benchmarks/optimizer/seed_prompt_probe.py

The reference points for the quickstart: a seed with no labels, the label-list seed the
quickstart starts from, and a hand-written prompt that describes each intent.
"""

import time

from promptlearn import OptimizeConfig
from promptlearn.app.quickstart import SNIPS_SEED_PROMPT, make_optimizer, snips_task

HAND_WRITTEN = """Classify the user's request into exactly one intent and reply with the intent name only.
AddToPlaylist: add a song, artist or album to a playlist.
BookRestaurant: reserve a table at a restaurant, bar or cafe.
GetWeather: ask about the weather, temperature or forecast somewhere.
PlayMusic: play a song, album, artist, genre or radio station.
RateBook: give a rating or number of stars to a book or novel.
SearchCreativeWork: find a movie, TV show, song, book, game or painting by name.
SearchScreeningEvent: find movie showtimes or what is playing at a cinema."""

if __name__ == "__main__":
    train, val, test = snips_task()  # 35 / 35 / 140 of the shipped subset, seed 0
    optimizer = make_optimizer(config=OptimizeConfig(), cache=None)
    for name, prompt in [("no labels", "Classify the intent of the user's request."),
                         ("label list (quickstart seed)", SNIPS_SEED_PROMPT), ("hand-written", HAND_WRITTEN)]:
        start = time.time()
        accuracy = optimizer.evaluate(prompt, test).mean
        print(f"{name:<30} {accuracy:.1%} on {len(test)} test examples ({time.time() - start:.0f} s)")
