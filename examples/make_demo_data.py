#!/usr/bin/env python
"""Writes the demo data: a small sample of GoEmotions (Reddit comments labelled with emotions).

GoEmotions (Demszky et al., ACL 2020) is distributed under the Apache License 2.0; see
examples/README.md for the source and the attribution. The sample keeps the comments
that carry exactly one of six emotions and draws, with a fixed seed, the same number
of comments per emotion from the official train and test splits, plus a few comments
of the validation split without their label. Run from the repository root with the
directory holding GoEmotions' `train.csv.gz`, `validation.csv.gz` and `test.csv.gz`
(columns `text,labels`; several labels joined by `|`):

    python examples/make_demo_data.py ../shared/data/goemotions

The output is the same on every run (sorted input, seeded sampling).
"""

import argparse
import csv
import gzip
import random
import re
from pathlib import Path

EMOTIONS = ("anger", "fear", "gratitude", "joy", "love", "sadness")
PER_EMOTION = {"train": 100, "test": 60, "unlabeled": 1}
SEED = 20
# The unlabeled rows are printed on the terminal by `make demo`'s last command: no swearing or violence there.
UNPRINTABLE = re.compile(r"fuck|shit|bitch|cunt|dick|\bass\b|rape|kill|murder|suicid|psycho|attack", re.IGNORECASE)
OUT = Path(__file__).resolve().parent


def single_label_rows(path):
    """`{emotion: [text, ...]}` of the rows whose only label is one of EMOTIONS (texts stripped, unique)."""
    by_emotion = {emotion: [] for emotion in EMOTIONS}
    seen = set()
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            text = " ".join(row["text"].split())
            if row["labels"] in by_emotion and text and text not in seen:
                seen.add(text)
                by_emotion[row["labels"]].append(text)
    return by_emotion


def sample(by_emotion, per_emotion, rng, exclude=()):
    """`per_emotion` (text, emotion) rows of each emotion, drawn without replacement, then shuffled."""
    rows = []
    for emotion in EMOTIONS:
        candidates = sorted(set(by_emotion[emotion]) - set(exclude))
        rows += [(text, emotion) for text in rng.sample(candidates, per_emotion)]
    rng.shuffle(rows)
    return rows


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"{path.relative_to(OUT.parent)}: {len(rows)} rows, {path.stat().st_size:,} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("goemotions", type=Path, help="directory with GoEmotions' {train,validation,test}.csv.gz")
    source = parser.parse_args().goemotions
    rng = random.Random(SEED)
    test = sample(single_label_rows(source / "test.csv.gz"), PER_EMOTION["test"], rng)
    test_texts = {text for text, _ in test}
    train = sample(single_label_rows(source / "train.csv.gz"), PER_EMOTION["train"], rng, exclude=test_texts)
    seen = test_texts | {text for text, _ in train}
    validation = single_label_rows(source / "validation.csv.gz")
    clean = {emotion: [text for text in texts if not UNPRINTABLE.search(text)] for emotion, texts in validation.items()}
    unlabeled = sample(clean, PER_EMOTION["unlabeled"], rng, exclude=seen)
    write(OUT / "emotions_train.csv", ("text", "label"), train)
    write(OUT / "emotions_test.csv", ("text", "label"), test)
    write(OUT / "emotions_unlabeled.csv", ("id", "text"), [(i + 1, text) for i, (text, _) in enumerate(unlabeled)])


if __name__ == "__main__":
    main()
