"""Peak memory of training on a file holding one very long text, against the same file without it.

Writes a 200-row training file of short texts (three topics), and a copy whose first text is one 5 MB cell
(about 900,000 words), trains on each in a fresh process with the same options, and prints each run's peak
resident memory and their ratio (target: at most 1.3). Before texts were cut to what the model and the n-gram
branch use, the long cell raised the peak from about 1.25 GB to 4.7 GB.

    python benchmarks/long_text_memory.py [--cell-mb 5] [--epochs 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPICS = {
    "animals": ["dog", "cat", "horse", "bird", "fish", "cow", "lion", "tiger", "mouse", "rabbit"],
    "food": ["bread", "cheese", "apple", "soup", "rice", "pasta", "cake", "salad", "pizza", "butter"],
    "sports": ["football", "tennis", "golf", "hockey", "soccer", "rugby", "boxing", "cricket", "baseball", "skiing"],
}
FILLER = ["the", "a", "i", "like", "my", "see", "this", "is", "very", "good", "we", "have", "and", "today"]

# Runs in the child: trains, then prints the peak resident set of that process (MiB) as JSON.
CHILD = """
import json, resource, sys, textclf
options = json.loads(sys.argv[2])
textclf.train(sys.argv[1], **options)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mb": round(peak, 1)}))
"""


def write_rows(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def make_rows(n, seed=0):
    rng = random.Random(seed)
    labels = sorted(TOPICS)
    rows = []
    for i in range(n):
        label = labels[i % len(labels)]
        words = rng.choices(FILLER, k=rng.randint(4, 12)) + rng.choices(TOPICS[label], k=rng.randint(1, 3))
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def long_text(megabytes, label, seed=1):
    rng = random.Random(seed)
    vocabulary = FILLER + TOPICS[label]
    words, size = [], 0
    while size < megabytes * 1_000_000:
        word = rng.choice(vocabulary)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def train_peak(path, output, options):
    started = time.time()
    result = subprocess.run([sys.executable, "-c", CHILD, str(path), json.dumps({**options, "output": str(output)})],
                            capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if result.returncode:
        sys.exit(f"training on {path} failed:\n{result.stderr[-3000:]}")
    peak = json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"]
    return peak, time.time() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cell-mb", type=float, default=5.0, help="size of the one long text (MB)")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    options = {"epochs": args.epochs, "ensemble": 1}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = make_rows(args.rows)
        write_rows(tmp / "short.csv", rows)
        write_rows(tmp / "long.csv", [(long_text(args.cell_mb, rows[0][1]), rows[0][1])] + rows[1:])
        print(f"{args.rows} rows; long file: row 2 holds {(tmp / 'long.csv').stat().st_size / 1e6:.1f} MB of text "
              f"in one cell; options {options}")
        short_peak, short_seconds = train_peak(tmp / "short.csv", tmp / "short_model", options)
        print(f"without the long cell: peak RSS {short_peak:,.0f} MiB ({short_seconds:.0f} s)")
        long_peak, long_seconds = train_peak(tmp / "long.csv", tmp / "long_model", options)
        print(f"with one {args.cell_mb:g} MB cell:  peak RSS {long_peak:,.0f} MiB ({long_seconds:.0f} s)")
        print(f"ratio: {long_peak / short_peak:.2f} (target: at most 1.30)")


if __name__ == "__main__":
    main()
