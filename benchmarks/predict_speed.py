"""Benchmark: `textclf predict` (streamed, length-sorted) against the plain recipe.

Builds CSV files from the IMDB test set (../shared/data/imdb/test.csv.gz,
relative to the repository root) repeated to each requested size, with an
`id` column, in a temporary directory; trains a small model on IMDB (or takes
--model); then, for each size, runs in subprocesses

  * `textclf predict --model M --input big.csv --output out.csv`, and
  * the plain recipe: pandas `read_csv` of the whole file, one
    `model.predict(tf.constant(texts))` on the end-to-end Keras model, and
    `DataFrame.to_csv`,

and prints rows/s and peak RSS (each measured in a wrapper process with
`resource.getrusage(RUSAGE_CHILDREN)`, exact for its one child). It ends with
the memory verdict: textclf predict's peak RSS must stay under --rss-bound-mb
(1,500 MB) at every size and be flat (largest size at most
--flat-tolerance-mb above the smallest); the exit status is 1 otherwise.

    nice python benchmarks/predict_speed.py                  # 100k and 500k rows
    python benchmarks/predict_speed.py --quick               # 5k and 20k rows
    python benchmarks/predict_speed.py --sizes 50000 --model models/imdb
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMDB = ROOT.parent / "shared" / "data" / "imdb"

PLAIN = r"""
import sys, time
import pandas as pd, tensorflow as tf, keras, textclf, textclf.inference.classifier
model_path, inp, out = sys.argv[1:4]
model = keras.saving.load_model(model_path, compile=False)
frame = pd.read_csv(inp, dtype=str, keep_default_na=False)
probs = model.predict(tf.constant(frame["text"].tolist()), verbose=0)
labels = textclf.inference.classifier.read_metadata(sys.argv[4])["labels"]
frame["predicted_label"] = [labels[i] for i in probs.argmax(axis=1)]
frame["confidence"] = probs.max(axis=1)
frame.to_csv(out, index=False)
"""

MEASURE = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
seconds = time.perf_counter() - start
if code.returncode:
    sys.stderr.write(code.stderr[-3000:])
print(json.dumps({"rc": code.returncode, "seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def measure(command, cwd=None):
    """Runs `command` in a wrapper (in `cwd`); returns seconds and the child's peak RSS."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True,
                         cwd=cwd)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"]:
        raise SystemExit(f"failed: {' '.join(command)}\n{out.stderr}")
    return result


def read_imdb(path):
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return [(row["text"], row["label"]) for row in csv.DictReader(handle)]


def build_csv(path, reviews, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "label"])
        for i in range(rows):
            text, label = reviews[i % len(reviews)]
            writer.writerow([f"{i:07d}", text, label])
    return path


def train_model(directory, train_rows, max_length):
    """A small IMDB model (a few minutes on 2 cores)."""
    import random

    reviews = read_imdb(IMDB / "train.csv.gz")
    random.Random(0).shuffle(reviews)
    train_csv = build_csv(directory / "train.csv", reviews[:train_rows], train_rows)
    import textclf

    options = dict(units=16, epochs=1, batch_size=64, patience=1, embedding_mode="frozen", head="bigru")
    if max_length:
        options["max_length"] = max_length
    textclf.train(str(train_csv), output=str(directory / "model"), **options)
    return directory / "model"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,500000", help="comma-separated row counts")
    parser.add_argument("--quick", action="store_true", help="sizes 5000,20000 and a tiny training set")
    parser.add_argument("--model", help="existing model directory (default: train one on IMDB)")
    parser.add_argument("--train-rows", type=int, default=3000)
    parser.add_argument("--max-length", type=int, default=None,
                        help="of the trained model (default: 95th percentile of training lengths)")
    parser.add_argument("--chunk-size", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--no-plain", action="store_true", help="only time textclf predict")
    parser.add_argument("--plain-max-rows", type=int, default=100000,
                        help="run the plain recipe only on sizes up to this (it is slow and holds the whole file)")
    parser.add_argument("--rss-bound-mb", type=float, default=1500,
                        help="the stated bound on textclf predict's peak RSS, at every size (default 1500 MB)")
    parser.add_argument("--flat-tolerance-mb", type=float, default=75,
                        help="peak RSS counts as flat if the largest size peaks at most this much above the "
                             "smallest (default 75 MB)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    sizes = [5000, 20000] if args.quick else [int(s) for s in args.sizes.split(",")]
    train_rows = min(args.train_rows, 1000) if args.quick else args.train_rows

    tmp = Path(tempfile.mkdtemp(prefix="textclf-bench-"))
    print(f"working in {tmp}", flush=True)
    if args.model:
        model = Path(args.model)
    else:
        started = time.perf_counter()
        model = train_model(tmp, train_rows, args.max_length)
        print(f"trained a model on {train_rows} IMDB reviews in {time.perf_counter() - started:.0f}s", flush=True)
    from textclf.inference.classifier import read_metadata

    meta = read_metadata(model)  # either schema, read as schema 2
    print(f"model: {model} (head {meta['requested']['head']}, units {meta['requested']['units']}, "
          f"max_length {meta['fitted']['max_length']})", flush=True)

    reviews = read_imdb(IMDB / "test.csv.gz")
    textclf_bin = str(Path(sys.executable).with_name("textclf"))
    results = []
    for rows in sizes:
        big = build_csv(tmp / f"big_{rows}.csv", reviews, rows)
        mb = big.stat().st_size / 1e6
        ours = measure([textclf_bin, "predict", "--model", str(model), "--input", str(big), "--output", str(tmp / "ours.csv"),
                        "--quiet", "--chunk-size", str(args.chunk_size), "--batch-size", str(args.batch_size)])
        line = {"rows": rows, "file_mb": round(mb, 1), "textclf_rows_s": rows / ours["seconds"],
                "textclf_peak_rss_mb": ours["peak_rss_mb"]}
        print(f"{rows:>9,} rows ({mb:,.0f} MB)  textclf predict: {rows / ours['seconds']:8,.0f} rows/s "
              f"({ours['seconds']:.0f}s), peak RSS {ours['peak_rss_mb']:,.0f} MB", flush=True)
        if not args.no_plain and rows <= args.plain_max_rows:
            plain = measure([sys.executable, "-c", PLAIN, str(model / "model.keras"), str(big),
                             str(tmp / "plain.csv"), str(model)])
            line.update(plain_rows_s=rows / plain["seconds"], plain_peak_rss_mb=plain["peak_rss_mb"])
            print(f"{'':>9}          plain recipe:    {rows / plain['seconds']:8,.0f} rows/s "
                  f"({plain['seconds']:.0f}s), peak RSS {plain['peak_rss_mb']:,.0f} MB  -> speed-up "
                  f"{plain['seconds'] / ours['seconds']:.2f}x", flush=True)
        results.append(line)
        big.unlink()
    print(json.dumps(results))
    status = summarize(results, args.rss_bound_mb, args.flat_tolerance_mb, args.chunk_size)
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return status


def summarize(results, bound_mb, tolerance_mb, chunk_size):
    """Prints the memory verdict; returns 0 if within the bound and flat, else 1."""
    peaks = [r["textclf_peak_rss_mb"] for r in results]
    within = all(p < bound_mb for p in peaks)
    growth = peaks[-1] - peaks[0]
    flat = len(peaks) < 2 or growth <= tolerance_mb
    sizes = ", ".join(f"{r['rows']:,} rows: {r['textclf_peak_rss_mb']:,.0f} MB" for r in results)
    print(f"memory bound: peak RSS < {bound_mb:,.0f} MB at any file size (--chunk-size {chunk_size}): "
          f"{'OK' if within else 'EXCEEDED'} ({sizes})")
    if len(peaks) >= 2:
        print(f"memory flat: {'yes' if flat else 'NO'} ({results[0]['rows']:,} -> {results[-1]['rows']:,} rows: "
              f"{growth:+,.0f} MB, tolerance {tolerance_mb:,.0f} MB)")
    speedups = [r["textclf_rows_s"] / r["plain_rows_s"] for r in results if "plain_rows_s" in r]
    if speedups:
        print(f"speed-up over the plain recipe: {', '.join(f'{x:.2f}x' for x in speedups)}")
    return 0 if within and flat else 1


if __name__ == "__main__":
    sys.exit(main())
