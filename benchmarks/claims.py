#!/usr/bin/env python
"""Re-measures every headline claim of the README, each against TF-IDF + LR in the same run (issue 36).

The claimed values come from one place, `benchmarks/claims.json` (the README's
table and figures are checked against it by `tests/test_claims.py`). In one run:

- the five single-label sets (`default_training.run_side`: `textclf train` with
  every default, whole-process wall time; TF-IDF + LR from `accuracy.tfidf_lr`);
- GoEmotions with `--multi-label` (`goemotions.py`: test macro / micro F1, subset
  accuracy, Hamming loss; the one-vs-rest baseline with the same threshold rule);
- the demo (`make demo`'s training on examples/, and TF-IDF + LR on the same files);
- prediction speed: `textclf predict` with the default model (an ensemble on small
  data) against a single 64-unit model, both trained on the same IMDB reviews
  (`--epochs 1 --embedding-mode frozen`: the speed does not depend on training
  longer), and TF-IDF + LR's predictions on the same rows for scale.

Prints one line per claim, measured vs claimed, with a verdict (ok or MISSED),
then writes them as JSON. Quality verdicts: within the claim's tolerance and
better than TF-IDF + LR measured in this run; time verdicts: at most the
claim times `time_factor` (other jobs on the cores make times rough). It is a
benchmark: the full run takes about an hour on 2 CPU cores; `--quick` (sms_spam,
trec, the demo, prediction on a smaller sample) a few minutes.

    python benchmarks/claims.py                    # everything
    python benchmarks/claims.py --quick            # a subset
    python benchmarks/claims.py --only goemotions  # one part: single, goemotions, demo, prediction
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import tfidf_lr, tfidf_lr_files  # noqa: E402
from default_training import DATASETS, run_side  # noqa: E402
from keras_predict import timed  # noqa: E402
from predict_speed import IMDB, build_csv, read_imdb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = Path(__file__).resolve().parent / "claims.json"
GOEMOTIONS = ROOT.parent / "shared" / "data" / "goemotions"
PARTS = ("single", "goemotions", "demo", "prediction")
QUICK = {"datasets": ["sms_spam", "trec"], "parts": ("single", "demo", "prediction"),
         "train_reviews": 1000, "predict_rows": 10000}
FULL = {"datasets": DATASETS, "parts": PARTS, "train_reviews": 3000, "predict_rows": 100000}


def load_claims(path=CLAIMS):
    """The claims file as a dict."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def line(claim, measured, claimed, *, baseline=None, tolerance=0.0, lower_is_better=False, factor=None):
    """One claim's row: measured against claimed (and TF-IDF + LR's figure), with its verdict.

    Args:
        claim: What is claimed, in words.
        measured, claimed: The figures.
        baseline: TF-IDF + LR's figure in this run, which a quality figure must beat; None for none.
        tolerance: How far `measured` may fall short of `claimed` (absolute).
        lower_is_better: The figure is a loss or a time.
        factor: For times: `measured` may be at most `claimed * factor`.

    Returns:
        A dict with the figures and `verdict` ("ok" or "MISSED").
    """
    if factor is not None:
        good = measured <= claimed * factor
    elif lower_is_better:
        good = measured <= claimed + tolerance and (baseline is None or measured < baseline)
    else:
        good = measured >= claimed - tolerance and (baseline is None or measured > baseline)
    return {"claim": claim, "measured": measured, "claimed": claimed, "tfidf_lr": baseline,
            "verdict": "ok" if good else "MISSED"}


def single_label(datasets, claims, work):
    """The README table's rows: test accuracy (and TF-IDF + LR's) and training minutes per dataset."""
    tolerance, rows = claims["tolerance"], []
    for dataset in datasets:
        claimed = claims["single_label"][dataset]
        ours = run_side("now", ROOT, dataset, work)
        base = tfidf_lr(dataset)["accuracy"]
        rows.append(line(f"{dataset} test accuracy", ours["accuracy"], claimed["accuracy"], baseline=base,
                         tolerance=tolerance.get(dataset, tolerance["accuracy"])))
        rows.append(line(f"{dataset} TF-IDF + LR accuracy (the README's column)", base, claimed["tfidf_lr"],
                         tolerance=tolerance["accuracy"]))
        rows.append(line(f"{dataset} training minutes", ours["seconds"] / 60, claimed["minutes"],
                         factor=tolerance["time_factor"]))
        print(json.dumps(rows[-3:]), flush=True)
    return rows


def goemotions(claims, work, model=None):
    """GoEmotions test figures with `--multi-label` against the one-vs-rest baseline, and the training minutes.

    `model`: a model `goemotions.py` (or this script) trained with the defaults, scored instead of training again
    (its training time is then the "trained in" of its metadata, not a whole-process wall time).
    """
    from goemotions import score_textclf, train_textclf
    from goemotions_baseline import run_baseline

    seconds = None
    if model is None:
        model = work / "goemotions"
        seconds = train_textclf(GOEMOTIONS, model)
    ours, base = score_textclf(model, GOEMOTIONS), run_baseline(GOEMOTIONS)
    seconds = ours["train_seconds"] if seconds is None else seconds
    claimed, tolerance = claims["goemotions"], claims["tolerance"]
    rows = [line(f"GoEmotions test {name.replace('_', ' ')}", ours[name], claimed[name], baseline=base[name],
                 tolerance=tolerance["goemotions"]) for name in ("macro_f1", "micro_f1", "subset_accuracy")]
    rows.append(line("GoEmotions test Hamming loss", ours["hamming_loss"], claimed["hamming_loss"],
                     baseline=base["hamming_loss"], tolerance=tolerance["hamming_loss"], lower_is_better=True))
    rows.append(line("GoEmotions training minutes", seconds / 60, claimed["minutes"], factor=tolerance["time_factor"]))
    print(json.dumps(rows), flush=True)
    return rows


def demo(claims, work):
    """`make demo`'s training: test accuracy (against TF-IDF + LR on the same files) and its "trained in" seconds."""
    from textclf.artifacts import metadata

    train, test = ROOT / "examples" / "emotions_train.csv", ROOT / "examples" / "emotions_test.csv"
    out = work / "demo"
    timed([sys.executable, "-m", "textclf", "train", "--input", str(train), "--test", str(test),
           "--output", str(out), "--quiet"], ROOT)
    fitted = metadata.load(out)["fitted"]
    accuracy, seconds = fitted["metrics"]["accuracy"], fitted["training"]["seconds"]
    base = tfidf_lr_files(train, test)["accuracy"]
    claimed, tolerance = claims["demo"], claims["tolerance"]
    rows = [line("demo test accuracy", accuracy, claimed["accuracy"], baseline=base, tolerance=tolerance["demo"]),
            line("demo training seconds", seconds, claimed["seconds"], factor=tolerance["time_factor"])]
    print(json.dumps(rows), flush=True)
    return rows


def prediction(claims, work, train_reviews, rows):
    """Rows per second of `textclf predict`: the default model against one 64-unit model, same reviews and rows.

    Returns:
        The claim's row, with both speeds and TF-IDF + LR's predictions per second on the same rows.
    """
    import random

    reviews = read_imdb(IMDB / "train.csv.gz")
    random.Random(0).shuffle(reviews)
    train = build_csv(work / "imdb_train.csv", reviews[:train_reviews], train_reviews)
    big = build_csv(work / "imdb_predict.csv", read_imdb(IMDB / "test.csv.gz"), rows)
    speeds = {}
    for name, options in (("default", []), ("single", ["--ensemble", "1"])):
        model = work / f"predict-{name}"
        timed([sys.executable, "-m", "textclf", "train", "--input", str(train), "--output", str(model), "--quiet",
               "--epochs", "1", "--embedding-mode", "frozen", *options], ROOT)
        run = timed([sys.executable, "-m", "textclf", "predict", "--model", str(model), "--input", str(big),
                     "--output", str(work / "predicted.csv"), "--quiet"], ROOT)
        speeds[name] = rows / run["seconds"]
    ratio = speeds["default"] / speeds["single"]
    row = line(f"default model's prediction speed / one 64-unit model's ({rows:,} IMDB rows)", ratio,
               claims["prediction"]["ensemble_vs_single"], tolerance=claims["tolerance"]["prediction"])
    row.update({"rows_per_second": speeds, "tfidf_lr_rows_per_second": tfidf_lr_speed(train, big)})
    print(json.dumps(row), flush=True)
    return [row]


def tfidf_lr_speed(train, big):
    """TF-IDF + LR fitted on `train`, predicting the rows of `big` in one process: rows per second."""
    import pandas as pd

    from accuracy import tfidf_lr_pipeline

    fitted = pd.read_csv(train, dtype=str, keep_default_na=False)
    model = tfidf_lr_pipeline().fit(fitted.text, fitted.label)
    started = time.time()
    texts = pd.read_csv(big, dtype=str, keep_default_na=False).text
    model.predict(texts)
    return len(texts) / (time.time() - started)


def print_table(rows):
    """The claims table (markdown), measured vs claimed, one verdict per line."""
    print("\n| claim | measured | claimed | TF-IDF + LR (this run) | verdict |")
    print("|---|---|---|---|---|")
    for row in rows:
        base = "" if row["tfidf_lr"] is None else f"{row['tfidf_lr']:.4f}"
        print(f"| {row['claim']} | {row['measured']:.4f} | {row['claimed']:g} | {base} | {row['verdict']} |")
    missed = sum(row["verdict"] != "ok" for row in rows)
    print(f"\n{len(rows) - missed} of {len(rows)} claims supported" + (f"; {missed} MISSED" if missed else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sms_spam, trec, the demo, prediction on fewer rows")
    parser.add_argument("--only", nargs="+", choices=PARTS, help="measure only these parts")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, help="single-label sets (default: by mode)")
    parser.add_argument("--goemotions-model", type=Path, help="score this GoEmotions model instead of training one")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "out" / "claims.json",
                        help="where the table goes as JSON (default: benchmarks/out/claims.json)")
    parser.add_argument("--claims", type=Path, default=CLAIMS, help="the claimed values (default: benchmarks/claims.json)")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    claims, parts = load_claims(args.claims), args.only or mode["parts"]
    rows, started = [], time.time()
    with tempfile.TemporaryDirectory(prefix="textclf-claims-") as tmp:
        work = Path(tmp)
        if "single" in parts:
            rows += single_label(args.datasets or mode["datasets"], claims, work)
        if "goemotions" in parts:
            rows += goemotions(claims, work, args.goemotions_model)
        if "demo" in parts:
            rows += demo(claims, work)
        if "prediction" in parts:
            rows += prediction(claims, work, mode["train_reviews"], mode["predict_rows"])
    print_table(rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"mode": "quick" if args.quick else "full", "parts": list(parts),
                                     "seconds": round(time.time() - started), "claims": rows}, indent=2) + "\n")
    print(f"written: {args.json}")
    return 0 if all(row["verdict"] == "ok" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
