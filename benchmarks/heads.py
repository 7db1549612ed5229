#!/usr/bin/env python
"""Trains every registered head with the defaults on real datasets and tabulates the results.

For each dataset in ../shared/data and each head, runs the real command line

    textclf train --input DATA/train.csv.gz --test DATA/test.csv.gz --head HEAD --output OUT --quiet

in a subprocess, and prints (and writes as JSON lines) test accuracy, macro F1, wall time and the
vocabulary coverage recorded in metadata.json.

Usage (from the repository root):
    .venv/bin/python benchmarks/heads.py --datasets trec sst2 --results benchmarks/out/heads.jsonl
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def train_once(dataset, head, workdir, extra=()):
    """Runs `textclf train` with the defaults; returns a result dict."""
    out = Path(workdir) / f"{dataset}-{head or 'default'}"
    cmd = [sys.executable, "-m", "textclf", "train", "--input", str(DATA / dataset / "train.csv.gz"),
           "--test", str(DATA / dataset / "test.csv.gz"), "--output", str(out), "--quiet", *extra]
    if head:  # None: the default head
        cmd += ["--head", head]
    start = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - start
    if proc.returncode != 0:
        return {"dataset": dataset, "head": head, "error": proc.stderr.strip().splitlines()[-1:]}
    meta = json.loads((out / "metadata.json").read_text())
    fitted = meta["fitted"]
    emb = fitted["embeddings"]
    return {
        "dataset": dataset, "head": meta["requested"]["head"], "accuracy": round(fitted["metrics"]["accuracy"], 4),
        "macro_f1": round(fitted["metrics"]["macro_f1"], 4), "wall_seconds": round(wall, 1),
        "train_seconds": fitted["training"]["seconds"], "epochs": fitted["training"]["epochs"],
        "max_length": fitted["max_length"], "token_coverage": round(emb["token_coverage"], 4),
        "type_coverage": round(emb["type_coverage"], 4), "vocabulary": fitted["vocabulary_size"],
        "wide": fitted["ngram"], "peak_rss_mb": fitted["training"].get("peak_rss_mb"),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["trec", "sst2"])
    parser.add_argument("--heads", nargs="+", default=None, help="default: every registered head")
    parser.add_argument("--results", default=None, help="append JSON lines here")
    args = parser.parse_args(argv)
    from textclf.models import HEADS

    heads = args.heads or sorted(HEADS)
    print("| dataset | head | test accuracy | macro F1 | wall time (s) | epochs | max_length | token coverage | type coverage |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as workdir:
        for dataset in args.datasets:
            for head in heads:
                r = train_once(dataset, head, workdir)
                if args.results:
                    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
                    with open(args.results, "a") as handle:
                        handle.write(json.dumps(r) + "\n")
                if "error" in r:
                    print(f"| {dataset} | {head} | error: {r['error']} |", flush=True)
                    continue
                print(f"| {dataset} | {head} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['wall_seconds']:.0f} | "
                      f"{r['epochs']} | {r['max_length']} | {r['token_coverage']:.1%} | {r['type_coverage']:.1%} |",
                      flush=True)


if __name__ == "__main__":
    main()
