#!/usr/bin/env python
"""Mixed validation accuracy of the first k members of saved ensembles, k = 1..N (issue 19).

Members train independently (member i with seed `seed + i - 1`, every generator
reseeded), so the first k members of an N-member run are the k-member
ensemble. For each run folder given (a model trained with `--ensemble N`,
N > 1), this rebuilds the run's split, token ids and n-gram branch from its
`metadata.json` (the training file must be where the run read it), predicts
the validation rows with each saved member, averages the first k, mixes them
with the n-gram branch at the weight of lowest validation log loss (as
assembling does) and scores the validation documents. k = N must reproduce
the run's recorded mixed validation accuracy; the script stops if it does not.

    .venv/bin/python benchmarks/ensemble_size.py RUN_DIR [RUN_DIR ...] [--json OUT.jsonl]

Prints one line per (run, k) and a table with each k's difference to k = N.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np


def member_probabilities(run_dir):
    """`(prepared, ngram, [member validation probabilities], metadata)` of one saved run."""
    import keras

    import textclf  # noqa: F401  (registers the saved model's layers)
    from textclf.artifacts import metadata as metadata_module
    from textclf.config import TrainConfig
    from textclf.models.build import CLASSIFIER_NAME
    from textclf.text.pipeline import SortedBatches
    from textclf.training.ngram import fit_ngram
    from textclf.training.prepare import prepare, read_tables

    metadata = metadata_module.load(run_dir)
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    options = {key: value for key, value in metadata["requested"].items() if key in fields}
    config = TrainConfig(**{**options, "test": None, "output": None}).validate()
    quiet = lambda message: None  # noqa: E731
    prepared = prepare(config, read_tables(config), quiet)
    ngram = fit_ngram(config, prepared, quiet)
    classifier = keras.saving.load_model(Path(run_dir) / "model.keras").get_layer(CLASSIFIER_NAME)
    members = [layer for layer in classifier.layers if layer.name.startswith("member_")]
    if not members:
        raise SystemExit(f"{run_dir}: one model, not an ensemble")
    return prepared, ngram, [SortedBatches(prepared.ids_val).predict(member) for member in members], metadata


def score_sizes(prepared, ngram, probabilities):
    """Per k: the mixed validation accuracy, log loss and n-gram weight of the first k members' mean."""
    from textclf.models.mixing import choose_weight, mix

    scored, y_val = prepared.split.val_documents, prepared.y_val
    rows = []
    for k in range(1, len(probabilities) + 1):
        recurrent = np.mean(probabilities[:k], axis=0)
        weight, _ = choose_weight(recurrent[scored], ngram.val_probabilities[scored], y_val[scored],
                                  prepared.task.log_loss)
        mixed = mix(recurrent, ngram.val_probabilities, weight)[scored]
        rows.append({"k": k, "weight": weight, "mixed_accuracy": float((mixed.argmax(axis=1) == y_val[scored]).mean()),
                     "mixed_log_loss": float(prepared.task.log_loss(mixed, y_val[scored])),
                     "recurrent_accuracy": float((recurrent[scored].argmax(axis=1) == y_val[scored]).mean())})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="folders of models trained with --ensemble N (N > 1)")
    parser.add_argument("--json", help="append one JSON line per (run, k) here")
    args = parser.parse_args(argv)
    table = []
    for run in args.runs:
        prepared, ngram, probabilities, metadata = member_probabilities(run)
        rows = score_sizes(prepared, ngram, probabilities)
        recorded = metadata["fitted"]["ngram"]["validation_accuracy"]["mixed"]
        if abs(rows[-1]["mixed_accuracy"] - recorded) > 1e-9:
            raise SystemExit(f"{run}: k = {len(rows)} scores {rows[-1]['mixed_accuracy']:.4f}, the run recorded "
                             f"{recorded:.4f}; the split or the n-gram branch was not rebuilt the same")
        name = Path(metadata["requested"]["train"]).parent.name
        for row in rows:
            line = {"run": str(run), "dataset": name, "documents": int(prepared.split.val_documents.sum()), **row}
            print(json.dumps(line), flush=True)
            if args.json:
                with open(args.json, "a") as out:
                    out.write(json.dumps(line) + "\n")
            table.append(line)
    print("\n| dataset | k | mixed val acc | vs all members | mixed val log loss | recurrent val acc | n-gram weight |")
    print("|---|---|---|---|---|---|---|")
    for line in table:
        full = max((t for t in table if t["run"] == line["run"]), key=lambda t: t["k"])
        print(f"| {line['dataset']} | {line['k']} | {line['mixed_accuracy']:.4f} | "
              f"{line['mixed_accuracy'] - full['mixed_accuracy']:+.4f} | {line['mixed_log_loss']:.4f} | "
              f"{line['recurrent_accuracy']:.4f} | {line['weight']:g} |")
    sizes = sorted({t["k"] for t in table})
    print("\n| k | mean difference to all members | worst |")
    print("|---|---|---|")
    for k in sizes:
        diffs = [t["mixed_accuracy"] - max((u for u in table if u["run"] == t["run"]), key=lambda u: u["k"])
                 ["mixed_accuracy"] for t in table if t["k"] == k]
        print(f"| {k} | {np.mean(diffs):+.4f} | {min(diffs):+.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
