"""textclf with `--multi-label` on GoEmotions against the TF-IDF + one-vs-rest baseline, in the same run.

Trains textclf with its defaults and `--multi-label` on the official train
split, `--validation validation.csv.gz` (the mixing weight and the per-label
thresholds are chosen there) and `--test test.csv.gz` (only reported), then
the baseline (`goemotions_baseline.py`: TF-IDF 1-2 grams, sublinear tf,
one-vs-rest logistic regression, thresholds by the same rule), and prints
macro / micro F1, subset accuracy, Hamming loss and training time for both.
Targets (issue 17): textclf macro-F1 >= 0.46 and micro-F1 >= 0.55 on test,
training under 30 minutes on 2 CPU cores.

    python benchmarks/goemotions.py [--data ../shared/data/goemotions] [--output DIR] [--model DIR]

`--model DIR` scores a model this script trained earlier (its training time
is read from its metadata) instead of training again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from goemotions_baseline import ROOT, run_baseline  # noqa: E402

TARGETS = {"macro_f1": 0.46, "micro_f1": 0.55}


def train_textclf(data, output):
    """Runs `textclf train` with the defaults and --multi-label; returns the wall-clock seconds."""
    command = [sys.executable, "-m", "textclf", "train", "--input", str(data / "train.csv.gz"),
               "--validation", str(data / "validation.csv.gz"), "--test", str(data / "test.csv.gz"),
               "--label-column", "labels", "--multi-label", "--output", str(output), "--quiet"]
    print("$ " + " ".join(command[1:]), file=sys.stderr)
    started = time.time()
    subprocess.run(command, check=True)
    return time.time() - started


def score_textclf(model, data):
    """Test metrics of the saved model, through `TextClassifier.predict` (the stored thresholds)."""
    import textclf
    from textclf.tasks.multilabel import indicator_matrix, multilabel_metrics, split_label_cells

    classifier = textclf.load(model)
    test = pd.read_csv(data / "test.csv.gz", dtype=str, keep_default_na=False)
    labels = list(classifier.classes_)
    truth = indicator_matrix(split_label_cells(test["labels"]), labels)
    predicted = indicator_matrix(classifier.predict(test["text"].tolist()), labels)
    fitted = classifier.metadata["fitted"]
    return {"model": "textclf defaults --multi-label", **multilabel_metrics(truth, predicted, labels),
            "train_seconds": fitted["training"]["seconds"], "members": len(fitted["members"]),
            "ngram_weight": fitted["ngram"].get("weight")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "goemotions")
    parser.add_argument("--output", type=Path, default=None, help="where textclf's model goes (default: a temp dir)")
    parser.add_argument("--model", type=Path, default=None, help="score this trained model instead of training")
    args = parser.parse_args()
    model = args.model
    if model is None:
        model = (args.output or Path(tempfile.mkdtemp(prefix="goemotions-"))) / "model"
        train_textclf(args.data, model)
    rows = [score_textclf(model, args.data), run_baseline(args.data)]
    columns = ["model", "macro_f1", "micro_f1", "subset_accuracy", "hamming_loss", "train_seconds"]
    print(pd.DataFrame(rows)[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(json.dumps({"targets": TARGETS, "textclf": rows[0], "baseline": rows[1]}, indent=2))


if __name__ == "__main__":
    main()
