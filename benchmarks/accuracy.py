#!/usr/bin/env python
"""Accuracy of textclf's defaults against TF-IDF + logistic regression, per real dataset (issue #4).

For each dataset in ../shared/data, in one run:
- the baseline: scikit-learn `TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)` +
  `LogisticRegression(C=4)`, fit on train.csv.gz, scored on test.csv.gz;
- textclf with its default settings: `textclf train --input ... --test ...` (bundled glove-6b-50d).

Prints a markdown table (accuracy, macro F1, train time) and appends JSON lines to --results.
Settings are never tuned on the test split: textclf's early stopping and phase selection use a
validation split of train.

Usage (from the repository root):
    .venv/bin/python benchmarks/accuracy.py                              # all datasets
    .venv/bin/python benchmarks/accuracy.py --datasets trec sms_spam
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heads import DATA, train_once  # noqa: E402

DATASETS = ["trec", "sms_spam", "sst2", "20newsgroups", "imdb"]


def tfidf_lr_pipeline():
    """The baseline's (unfitted) scikit-learn pipeline: TF-IDF 1-2 grams + logistic regression, C=4."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                         LogisticRegression(C=4, max_iter=2000))


def tfidf_lr_files(train_path, test_path):
    """The TF-IDF + LR baseline fit on one CSV (text, label), scored on another; returns accuracy, macro F1, seconds."""
    import pandas as pd
    from sklearn.metrics import accuracy_score, f1_score

    read = lambda path: pd.read_csv(path, dtype=str, keep_default_na=False)  # noqa: E731
    train, test = read(train_path), read(test_path)
    start = time.time()
    model = tfidf_lr_pipeline().fit(train.text, train.label)
    seconds = time.time() - start
    pred = model.predict(test.text)
    return {"accuracy": accuracy_score(test.label, pred), "macro_f1": f1_score(test.label, pred, average="macro"),
            "seconds": seconds}


def tfidf_lr(dataset):
    """The TF-IDF + LR baseline on a dataset of ../shared/data; returns accuracy, macro F1 and seconds."""
    return tfidf_lr_files(DATA / dataset / "train.csv.gz", DATA / dataset / "test.csv.gz")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--results", default=None, help="append JSON lines here")
    parser.add_argument("textclf_args", nargs="*", help="extra `textclf train` options (after --)")
    args = parser.parse_args(argv)
    print("| dataset | TF-IDF+LR acc | TF-IDF+LR macro F1 | TF-IDF+LR s | textclf acc | textclf macro F1 | textclf s "
          "| textclf >= baseline |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as workdir:
        for dataset in args.datasets:
            base = tfidf_lr(dataset)
            ours = train_once(dataset, None, workdir, extra=args.textclf_args)
            record = {"dataset": dataset, "tfidf_lr": base, "textclf": ours, "textclf_args": args.textclf_args}
            if args.results:
                with open(args.results, "a") as handle:
                    handle.write(json.dumps(record) + "\n")
            if "error" in ours:
                print(f"| {dataset} | {base['accuracy']:.4f} | | | error: {ours['error']} |", flush=True)
                continue
            print(f"| {dataset} | {base['accuracy']:.4f} | {base['macro_f1']:.4f} | {base['seconds']:.0f} | "
                  f"{ours['accuracy']:.4f} | {ours['macro_f1']:.4f} | {ours['wall_seconds']:.0f} | "
                  f"{'yes' if ours['accuracy'] >= base['accuracy'] else 'no'} |", flush=True)


if __name__ == "__main__":
    main()
