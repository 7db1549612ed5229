"""The model `textclf tune` keeps: greedy ensemble selection over its finished trials (Caruana et al., 2004).

Every finished trial leaves its model and its validation probabilities (every trial validates on the same
rows: the split follows `--seed`, which the search never changes). Starting from the best trial, the trial
whose addition most lowers the validation log loss of the mean probabilities joins (with replacement: a trial
picked twice weighs twice), `MAX_PICKS` steps; the kept mix is the step with the lowest log loss whose metric
is at least the best trial's (`select`).

One trial picked: its model is kept as trained. Several: their end-to-end models, weighted by their picks,
become one Keras model (`textclf.models.ensemble.average_models`), whose decision is fitted again on its own
validation probabilities (a multi-label model's thresholds) and whose metrics and reports are computed through
it, like a trained model's.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_PICKS = 8  # also the most finished trials kept on disk while the search runs
RULE = ("greedy ensemble selection over the finished trials (with replacement) on validation log loss, "
        "never below the best trial's validation metric")


@dataclass
class Validation:
    """The rows every trial is validated on, and what the kept model's reports need.

    Attributes:
        split: The `textclf.training.prepare.Split` of the search.
        task: The task, nothing fitted.
        y: The encoded validation truth.
        tables: The tables read (`test` is reported on).
    """

    split: object
    task: object
    y: np.ndarray
    tables: object


def validation_rows(config):
    """The search's `Validation` (the split as training makes it: the same for every trial)."""
    from textclf.training.prepare import read_tables, split_tables

    tables = read_tables(config)
    split = split_tables(config, tables, lambda message: None)
    return Validation(split, tables.task, tables.task.encode(split.val_labels), tables)


def scorer(validation, metric):
    """A function from validation probabilities to `(metric, -log loss)`, the decision fitted as training fits it."""
    from textclf.training.report import task_metrics
    from textclf.tuning.trial import metric_value

    documents = validation.split.val_documents

    def log_loss(probabilities):
        return float(validation.task.log_loss(probabilities, validation.y))

    def score(probabilities):
        task = validation.task.fit_decision(validation.y[documents], lambda: probabilities[documents])
        metrics = task_metrics(task, validation.split.val_labels, probabilities)
        value = metric_value({f"validation_{name}": value for name, value in metrics.items()}, metric)
        return value, -log_loss(probabilities)

    score.log_loss = log_loss
    return score


def select(candidates, score, max_picks=MAX_PICKS):
    """Greedy ensemble selection with replacement on validation log loss, guarded by the metric.

    From the best trial alone (by the metric, then log loss), each step adds the trial whose addition gives the
    lowest log loss, `max_picks` steps in all, each taken even when it does not lower it (a trial picked twice
    weighs twice, so later steps can weigh the mix); the kept mix is the prefix with the lowest log loss among
    those whose metric is at least the first trial's. Log loss, not the metric, steers: on a few hundred
    validation rows the metric moves by whole rows and a mix chosen on it scored lower on held-out halves of
    validation (benchmarks/HISTORY.md, issue 34, "Session 5"); the guard keeps the kept model at least as good
    as the best trial on the metric.

    Args:
        candidates: Trial number -> its validation probabilities.
        score: Probabilities -> `(metric, -log loss)`, higher is better (`scorer`); its `log_loss` attribute,
            where it has one, gives the log loss alone, without fitting the decision (the steps need only it).
        max_picks: Most picks.

    Returns:
        `(picks, score)`: a `Counter` of trial number -> times picked, and the score of their weighted mean.
    """
    numbers = sorted(candidates)
    alone = {number: score(candidates[number]) for number in numbers}  # each scored once (a fit per call)
    first = max(numbers, key=lambda number: (alone[number], -number))
    picks, total = [first], candidates[first].astype(np.float64)
    kept, best = list(picks), alone[first]
    loss = getattr(score, "log_loss", lambda probabilities: -score(probabilities)[1])
    while len(picks) < max_picks:
        number = min(numbers, key=lambda n: (loss((total + candidates[n]) / (len(picks) + 1)), n))
        picks.append(number)
        total += candidates[number]
        scored = score(total / len(picks))  # the metric, for the one mix taken
        if scored[0] >= alone[first][0] and scored[1] > best[1]:
            kept, best = list(picks), scored
    return Counter(kept), best


def write_ensemble(directory, picks, trial_directory, validation, commands, test_path):
    """Writes the weighted mean of the picked trials' models as a model directory (model, metadata, reports).

    Args:
        directory: An existing, empty directory.
        picks: Trial number -> times picked (`select`).
        trial_directory: Trial number -> its model directory.
        validation: The search's `Validation`.
        commands: Trial number -> the `textclf train` command that trains it.
        test_path: The test file reported on, or None (then validation is).

    Returns:
        The kept `TextClassifier`.
    """
    from textclf.inference.classifier import MODEL_FILE, TextClassifier, load_keras_model, read_metadata
    from textclf.models.ensemble import average_models
    from textclf.training.report import evaluate
    from textclf.training.save import write_model_directory

    numbers = sorted(picks, key=lambda number: (-picks[number], number))
    model = average_models([load_keras_model(Path(trial_directory[n]) / MODEL_FILE) for n in numbers],
                           [picks[n] for n in numbers])
    best = Path(trial_directory[numbers[0]])
    metadata = copy.deepcopy(read_metadata(best))
    split, documents = validation.split, validation.split.val_documents
    probabilities = TextClassifier(model, {**metadata, "task": validation.task.to_config()}).predict_proba(
        split.val_texts)  # through the model that is saved; the decision does not change them
    task = validation.task.fit_decision(validation.y[documents], lambda: probabilities[documents])
    metadata["task"] = task.to_config()
    if "thresholds" in metadata["fitted"]:
        metadata["fitted"]["thresholds"] = task.to_config()["thresholds"]
    total = sum(picks.values())
    metadata["fitted"]["tuned_ensemble"] = {
        "rule": RULE, "trials": [{"trial": n, "weight": picks[n] / total, "command": commands[n]} for n in numbers]}
    classifier = TextClassifier(model, metadata)
    evaluation = evaluate(classifier, split, validation.tables.test, test_path, _training_summary(best),
                          val_probabilities=probabilities)
    write_model_directory(directory, classifier, evaluation, history=None)
    return classifier


def _training_summary(model_directory):
    """The training rows' summary a trial's reports hold (the same rows for every trial), or None."""
    try:
        summary = json.loads((Path(model_directory) / "reports" / "data_summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary.get("training")
