#!/usr/bin/env python
"""Time of `textclf.data.overlap.find_overlap`, which every training run calls on its training texts.

Times it on the real training files in ../shared/data and on a synthetic "templated" corpus (every row starts with
the same three words and repeats them later), the case where looking texts up by their first words alone degrades
to comparing every pair.

Usage (from the repository root):
    .venv/bin/python benchmarks/overlap_speed.py [--templated-rows 20000]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def templated_corpus(n_rows, seed=0):
    """Rows "the customer said <3-60 random words> the customer said ok"."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(2000)]
    return [
        "the customer said " + " ".join(rng.choices(vocabulary, k=rng.randint(3, 60))) + " the customer said ok"
        for _ in range(n_rows)
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--templated-rows", type=int, default=20000)
    args = parser.parse_args(argv)

    from textclf.data.tables import read_labeled
    from textclf.data.overlap import find_overlap

    corpora = [(path.parent.name, lambda p=path: read_labeled(p, text_column="text", label_column="label").texts)
               for path in sorted(DATA.glob("*/train.csv.gz"))]
    corpora.append((f"templated ({args.templated_rows:,} rows)", lambda: templated_corpus(args.templated_rows)))
    print("| corpus | rows | documents | overlapping rows | find_overlap s |")
    print("|---|---|---|---|---|")
    for name, load in corpora:
        texts = load()
        started = time.perf_counter()
        overlap = find_overlap(texts)
        seconds = time.perf_counter() - started
        print(f"| {name} | {len(texts):,} | {len(overlap.documents):,} | {overlap.overlapping_rows:,} | {seconds:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
