#!/usr/bin/env python
"""Training time of the defaults, this checkout against a baseline checkout, back to back (issue 19).

For each dataset in ../shared/data (relative to the repository root), one
after the other, the baseline then this checkout each run the whole process

    python -m textclf train --input D/train.csv.gz --test D/test.csv.gz --output OUT --quiet

with every other option at its default (the baseline through PYTHONPATH), in a
wrapper that measures wall time and the child's peak RSS. Test accuracy comes
from each run's `metadata.json` (read by this checkout, which upgrades older
schemas). Prints one line per run, then the table (old vs new wall time,
accuracy, peak RSS) and the verdict: the summed wall time of this checkout at
most half the baseline's, each dataset's accuracy no lower than the
baseline's minus 0.003 (sst2: 0.01, its test has 872 rows) and still above
TF-IDF + LR (benchmarks/accuracy.py's baseline, fit in the same run), peak RSS
no higher (5% tolerance for allocator noise).

Each finished run is appended to --results as a JSON line; a rerun with the
same --results skips the (dataset, side) pairs already there, so a long run
that was stopped continues where it stood.

    git worktree add ../textclf-9a89718 9a89718
    .venv/bin/python benchmarks/default_training.py --baseline-src ../textclf-9a89718 \
        --results benchmarks/out/default_training.jsonl
    .venv/bin/python benchmarks/default_training.py --baseline-src ../textclf-9a89718 --datasets trec sms_spam
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import tfidf_lr  # noqa: E402
from keras_predict import timed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DATASETS = ["trec", "sms_spam", "sst2", "imdb", "20newsgroups"]
TOLERANCE = {"sst2": 0.01}  # accuracy drop allowed; others 0.003
DEFAULT_TOLERANCE = 0.003
RSS_SLACK = 1.05


def run_side(side, src, dataset, work, keep=False, options=()):
    """Trains the defaults on `dataset` with the code in `src`; returns the figures as a dict.

    The model folder is deleted afterwards unless `keep` (its reports hold the per-epoch history).
    `options` are extra `textclf train` options (a candidate default, tried before it becomes one).
    """
    from textclf.artifacts import metadata

    out = work / f"{side}-{dataset}"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "textclf", "train", "--input", str(DATA / dataset / "train.csv.gz"),
               "--test", str(DATA / dataset / "test.csv.gz"), "--output", str(out), "--quiet", *options]
    figures = timed(command, src)
    fitted = metadata.load(out)["fitted"]
    metrics = fitted["metrics"]
    assert metrics["evaluated_on"].startswith("test"), metrics["evaluated_on"]
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    return {"dataset": dataset, "side": side, "seconds": figures["seconds"], "peak_rss_mb": figures["peak_rss_mb"],
            "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "validation_accuracy": metrics.get("validation_accuracy"),
            "mixed_validation_documents_accuracy": (fitted.get("ngram") or {}).get("validation_accuracy", {}).get("mixed"),
            "options": list(options),
            "members": len(fitted.get("members") or [None]), "epochs": fitted.get("training", {}).get("epochs")}


def read_results(path):
    """`{(dataset, side): line}` of the JSON lines already in `path`."""
    if not path or not Path(path).exists():
        return {}
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return {(line["dataset"], line["side"]): line for line in lines}


def verdict(results, datasets, baselines):
    """Prints the table and the verdict; returns 0 if every target is met, else 1."""
    print("\n| dataset | old s | new s | new/old | old acc | new acc | TF-IDF+LR acc | old peak MB | new peak MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    ok, old_total, new_total = True, 0.0, 0.0
    for dataset in datasets:
        old, new = results[(dataset, "baseline")], results[(dataset, "now")]
        old_total, new_total = old_total + old["seconds"], new_total + new["seconds"]
        floor = old["accuracy"] - TOLERANCE.get(dataset, DEFAULT_TOLERANCE)
        good = (new["accuracy"] >= floor and new["accuracy"] > baselines[dataset]
                and new["peak_rss_mb"] <= old["peak_rss_mb"] * RSS_SLACK)
        ok &= good
        print(f"| {dataset} | {old['seconds']:,.0f} | {new['seconds']:,.0f} | {new['seconds'] / old['seconds']:.2f} | "
              f"{old['accuracy']:.4f} | {new['accuracy']:.4f} | {baselines[dataset]:.4f} | "
              f"{old['peak_rss_mb']:,.0f} | {new['peak_rss_mb']:,.0f} |{'' if good else ' MISSED'}")
    ratio = new_total / old_total
    print(f"\ntotal: old {old_total:,.0f} s, new {new_total:,.0f} s, new/old {ratio:.2f} (target <= 0.50); "
          f"accuracy, TF-IDF+LR and peak RSS per dataset: {'met' if ok else 'MISSED'}")
    return 0 if ok and ratio <= 0.5 else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-src", required=True, help="a checkout of the baseline (commit 9a89718)")
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--results", help="JSON lines: appended to, and runs already there are skipped")
    parser.add_argument("--keep", help="a folder to keep each run's model and reports in (SIDE-DATASET/)")
    parser.add_argument("--sides", nargs="+", default=["baseline", "now"], choices=["baseline", "now"],
                        help="run only these sides now (with --results, the other side's lines come from the file)")
    parser.add_argument("--now-options", default="",
                        help="extra `textclf train` options for this checkout's side, e.g. \"--units 32\" (a candidate "
                             "default; give each candidate its own --results file)")
    args = parser.parse_args(argv)
    sources = {"baseline": Path(args.baseline_src).resolve(), "now": ROOT}
    sides = {side: sources[side] for side in args.sides}
    results = read_results(args.results)
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="textclf-default-training-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for dataset in args.datasets:
            for side, src in sides.items():
                if (dataset, side) not in results:
                    options = args.now_options.split() if side == "now" else []
                    line = run_side(side, src, dataset, work, keep=bool(args.keep), options=options)
                    results[(dataset, side)] = line
                    if args.results:
                        with open(args.results, "a", encoding="utf-8") as handle:
                            handle.write(json.dumps(line) + "\n")
                print(json.dumps(results[(dataset, side)]), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if any((dataset, side) not in results for dataset in args.datasets for side in sources):
        return 0  # one side only so far: the table waits for the other
    baselines = {dataset: tfidf_lr(dataset)["accuracy"] for dataset in args.datasets}
    return verdict(results, args.datasets, baselines)


if __name__ == "__main__":
    sys.exit(main())
