"""The multi-label baseline on GoEmotions: TF-IDF + one-vs-rest logistic regression.

TF-IDF over word 1-2 grams (sublinear tf), one logistic regression per label,
per-label thresholds chosen on the validation split by the same rule textclf
uses (`textclf.tasks.multilabel.choose_thresholds`); the test split only reports.

    python benchmarks/goemotions_baseline.py [--data ../shared/data/goemotions]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from textclf.tasks.multi_label import MultiLabel
from textclf.tasks.multilabel import choose_thresholds, indicator_matrix, multilabel_metrics, split_label_cells

ROOT = Path(__file__).resolve().parents[1]


def read_split(data, name):
    frame = pd.read_csv(data / f"{name}.csv.gz", dtype=str, keep_default_na=False)
    return frame["text"].tolist(), split_label_cells(frame["labels"], file=name, column="labels")


def run_baseline(data, C=4.0):
    """Trains the baseline on train (thresholds on validation) and scores test; returns the metrics and seconds."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    (train_x, train_y), (val_x, val_y), (test_x, test_y) = (read_split(data, s)
                                                            for s in ("train", "validation", "test"))
    labels = sorted({name for names in train_y for name in names})
    started = time.time()
    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    model = OneVsRestClassifier(LogisticRegression(C=C, max_iter=1000), n_jobs=2)
    model.fit(tfidf.fit_transform(train_x), indicator_matrix(train_y, labels))
    thresholds = choose_thresholds(indicator_matrix(val_y, labels), model.predict_proba(tfidf.transform(val_x)))
    seconds = time.time() - started
    task = MultiLabel(labels, thresholds=dict(zip(labels, thresholds.tolist())))  # textclf's own decision rule
    predicted = task.decide(model.predict_proba(tfidf.transform(test_x)))
    metrics = multilabel_metrics(indicator_matrix(test_y, labels), predicted, labels)
    return {"model": f"tfidf-1-2gram + ovr-lr C={C}", **metrics, "train_seconds": round(seconds, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "goemotions")
    parser.add_argument("--C", type=float, default=4.0)
    args = parser.parse_args()
    print(json.dumps(run_baseline(args.data, args.C), indent=2))


if __name__ == "__main__":
    main()
