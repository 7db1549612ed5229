#!/usr/bin/env python
"""Writes the demo data: short texts about four topics (text,label columns).

The texts are assembled from templates and word lists with a fixed seed, so
the files are reproducible; `make demo` trains on them. Run from the
repository root: `python examples/make_demo_data.py`.
"""

import csv
import random
from pathlib import Path

TOPICS = {
    "sports": {
        "subjects": ["the team", "our striker", "the coach", "the goalkeeper", "the home side", "the champions",
                     "the young midfielder", "the referee", "the captain", "the visitors"],
        "verbs": ["won the match", "scored twice", "lost the final", "missed a penalty", "trained hard",
                  "signed a new contract", "broke the record", "played a great game", "drew the derby"],
        "extras": ["in the second half", "after extra time", "at the stadium", "in front of the fans",
                   "this season", "in the league", "before the playoffs"],
    },
    "weather": {
        "subjects": ["heavy rain", "a cold front", "the storm", "strong wind", "morning fog", "the heatwave",
                     "light snow", "thunder", "the forecast", "a sunny spell"],
        "verbs": ["is expected tomorrow", "hit the coast", "will bring showers", "cleared by noon",
                  "kept temperatures low", "caused flooding", "moved north", "warned of frost"],
        "extras": ["across the region", "over the weekend", "in the mountains", "near the coast",
                   "during the night", "for most of the week", "in the valley"],
    },
    "food": {
        "subjects": ["this recipe", "the chef", "fresh pasta", "the soup", "grilled fish", "the bakery",
                     "a spicy curry", "the salad", "chocolate cake", "the new restaurant"],
        "verbs": ["tastes delicious", "needs more salt", "was served warm", "uses ripe tomatoes",
                  "bakes in twenty minutes", "won a cooking prize", "goes well with rice", "smells of garlic"],
        "extras": ["with olive oil", "for dinner", "at the market", "with fresh herbs", "in the oven",
                   "for the whole family", "on sunday"],
    },
    "technology": {
        "subjects": ["the new phone", "this laptop", "the software update", "the startup", "our server",
                     "the app", "the processor", "a security patch", "the database", "the network"],
        "verbs": ["crashed again", "runs much faster", "fixed the bug", "launched a new feature",
                  "needs more memory", "supports wireless charging", "was hacked", "installs in seconds"],
        "extras": ["after the upgrade", "on every device", "in the cloud", "for developers",
                   "with the latest version", "on linux", "this quarter"],
    },
}


def make_rows(count, rng):
    """`count` (text, label) pairs, classes in turn, words drawn with `rng`."""
    rows = []
    labels = sorted(TOPICS)
    for i in range(count):
        label = labels[i % len(labels)]
        words = TOPICS[label]
        text = f"{rng.choice(words['subjects']).capitalize()} {rng.choice(words['verbs'])}"
        if rng.random() < 0.7:
            text += f" {rng.choice(words['extras'])}"
        text += rng.choice([".", "!", ".", "..."])
        rows.append((text, label))
    rng.shuffle(rows)
    return rows


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


if __name__ == "__main__":
    here = Path(__file__).parent
    rng = random.Random(20261122)
    write(here / "demo_train.csv", make_rows(400, rng))
    write(here / "demo_test.csv", make_rows(120, rng))
    print(f"wrote {here / 'demo_train.csv'} and {here / 'demo_test.csv'}")
