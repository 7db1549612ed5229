"""The task: what a model predicts and how it is judged, one object per model.

A task (`SingleLabel`, `MultiLabel`) owns everything that differs between
kinds of labels: parsing and encoding label cells, the output activation and
loss (chosen together), the decision rule and its confidence, the metrics,
the report tables and plots, the rows of `errors.csv`, the columns `predict`
adds and the outputs of the exported signature. Training, prediction,
evaluation, reports, export and `info` call the task and never ask which
kind it is; a new kind of labels is one new class here, registered by name.

The task is declared (`--multi-label`), saved as the `task` block of
`metadata.json` (`to_config`) and rebuilt from it (`from_metadata`), never
inferred from data. Not to be confused with keras-hub's `Task` (a model
wrapper): here it means the labels' semantics.

This module imports only NumPy; TensorFlow, scikit-learn and the report
writers are imported where a method needs them (`textclf --help` stays light).
"""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np

from textclf.errors import ConfigError, ModelFileError

REGISTRY = {}


def register(cls):
    """Class decorator: makes `cls` loadable by its `name` (the `task` block of metadata.json)."""
    REGISTRY[cls.name] = cls
    return cls


def task_class(name):
    """The registered task class called `name`; `ModelFileError` when there is none."""
    from textclf.tasks import multi_label, single_label  # noqa: F401 - registers the built-in tasks

    if name not in REGISTRY:
        raise ModelFileError(f"task {name!r} is not one this textclf knows ({', '.join(sorted(REGISTRY))}); "
                             "the model was written by a newer textclf: upgrade textclf to load it")
    return REGISTRY[name]


def from_config(block, labels):
    """The task saved as `block` (`Task.to_config()`), over the model's `labels`."""
    return task_class(block.get("name", "single_label")).from_config(block, labels)


def for_training(config, labels):
    """The task a `TrainConfig` declares (`multi_label`), over the training `labels`; nothing fitted yet."""
    return from_config(config_block(config.to_dict()), labels)


def config_block(requested, fitted=None):
    """The `task` block of a model saved before tasks were recorded (schema-2 fields mapped, schema 1 too).

    Args:
        requested: `metadata["requested"]` (the `TrainConfig` fields as given).
        fitted: `metadata["fitted"]` (thresholds and `at_least_one` as chosen).
    """
    requested, fitted = requested or {}, fitted or {}
    if not requested.get("multi_label"):
        return {"name": "single_label"}
    return {"name": "multi_label", "separator": requested.get("label_separator") or "|",
            "thresholds": dict(fitted.get("thresholds") or {}),
            "at_least_one": bool(fitted.get("at_least_one", requested.get("at_least_one", False)))}


def from_metadata(metadata):
    """The task of a model directory's metadata (its `task` block, or the older fields mapped)."""
    block = metadata.get("task") or config_block(metadata.get("requested"), metadata.get("fitted"))
    return from_config(block, [str(label) for label in metadata["labels"]])


class Task(abc.ABC):
    """What a model predicts and how it is judged (see the module doc).

    Decisions are an array with one row per text: class indices for one label
    per text, a 0/1 indicator matrix for several. Truth is encoded the same
    way, so `wrong_rows` and the metrics compare like with like.

    Args:
        labels: The model's output order (label names).
    """

    name: ClassVar[str]
    activation: ClassVar[str]  # of the output layer, recurrent heads and n-gram branch alike
    label_noun: ClassVar[str]  # "label" or "labels": names the columns of predictions and errors
    headline: ClassVar[tuple]  # the two metrics printed and kept from validation

    def __init__(self, labels):
        self.labels = [str(label) for label in labels]

    # -- saving -----------------------------------------------------------------------------------------
    def to_config(self):
        """The `task` block of metadata.json (labels are stored once, at its top level)."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, block, labels):
        """Rebuilds the task from its `to_config()` block and the model's labels."""
        return cls(labels)

    def describe(self):
        """Lines for `textclf info` (none when there is nothing beyond the labels)."""
        return []

    # -- labels -----------------------------------------------------------------------------------------
    def parse_cells(self, cells, *, file=None, column=None, rows=None):
        """Label cells as the task reads them (one name per cell here); `rows`: their spreadsheet rows.

        Raises:
            InputDataError: a cell this task cannot read, named by file, row and column.
        """
        return list(cells)

    def names(self, parsed):
        """Every label name in parsed cells, in order (for the label inventory)."""
        return list(parsed)

    def strata(self, parsed):
        """Keys the validation split stratifies on, one per row."""
        return list(parsed)

    def check_format(self, parsed, *, file, separator, log):
        """One line when the training labels look like another task's (nothing is switched)."""
        from textclf.tasks.multilabel import looks_joined

        if looks_joined(parsed, separator):
            joined = sum(separator in label for label in parsed)
            log(f"note: {file}: {joined} of {len(parsed)} label cells contain {separator!r}; if they "
                f"hold several labels per text, pass --multi-label (each cell is one label as given)")

    @abc.abstractmethod
    def encode(self, parsed):
        """Training targets of parsed cells: what the loss compares the outputs with."""

    @abc.abstractmethod
    def truth(self):
        """A `Truth` encoder for evaluation (labels unknown to the model handled as this task can)."""

    # -- training ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def loss(self, label_weights=None):
        """The training loss (a Keras loss or its name) matching `activation`; `label_weights` from `label_weights`."""

    def min_improvement(self, min_delta):
        """The fall of the mean validation loss that counts as an improvement, for `--min-delta` given
        per row of `log_loss` (one categorical log loss per row here: `min_delta` as given)."""
        return min_delta

    @abc.abstractmethod
    def log_loss(self, probabilities, y):
        """Mean log loss of `(rows, labels)` probabilities against encoded truth `y` (the n-gram branch's C,
        the mixing weight and branch scores are chosen on it): the loss matching `activation`, as a float."""

    @abc.abstractmethod
    def compiled_accuracy(self, y, probabilities):
        """What Keras' compiled `metrics=["accuracy"]` reports for targets `y` (the training log's
        `val_accuracy`), as a float."""

    @abc.abstractmethod
    def one_vs_rest(self, y):
        """Boolean masks `(rows,)`, one per one-vs-rest contrast of encoded targets `y` (the texts inside it):
        the splits the n-gram branch's naive-Bayes weights compare."""

    def sample_weights(self, y_train, class_weight=None):
        """Per-example weights, or None (a task that weights inside its loss returns None)."""
        return None

    def label_weights(self, y_train, class_weight=None):
        """Per-label weights of the positives (for the loss and the n-gram branch), or None."""
        return None

    def fit_decision(self, y_val, probabilities, log=lambda message: None):
        """Tunes the decision state (thresholds) on validation; a task without any returns itself.

        Args:
            y_val: Encoded validation truth.
            probabilities: A function returning the assembled model's validation
                probabilities (called only by a task that tunes something).
            log: Progress lines.
        """
        return self

    branch_score_name: ClassVar[str]  # what the first of `branch_scores` is, in the training log

    @abc.abstractmethod
    def branch_scores(self, y_val, probabilities):
        """`{fitted.ngram key: score}` comparing the recurrent, n-gram and mixed branches on validation."""

    # -- the decision rule --------------------------------------------------------------------------------
    def with_overrides(self, threshold=None, at_least_one=None):
        """This task with decision overrides from the command line (`--threshold`, `--at-least-one`).

        Raises:
            ConfigError: an override this task has no use for.
        """
        if threshold is not None or at_least_one is not None:
            raise ConfigError("--threshold and --at-least-one apply to multi-label models (trained with "
                              "--multi-label); this model predicts one label per text")
        return self

    @abc.abstractmethod
    def decision_ops(self, probabilities):
        """The decision rule in TensorFlow ops: `decide` runs it eagerly, the exported graph traces it."""

    def decide(self, probabilities):
        """Decisions of `(rows, labels)` probabilities (NaN rows decide as zeros): the only rule.

        Returns:
            NumPy array, one row per text (see the class doc).
        """
        import tensorflow as tf

        probabilities = np.nan_to_num(np.asarray(probabilities, dtype=np.float32), nan=0.0)
        return self.decision_ops(tf.constant(probabilities.reshape(-1, len(self.labels)))).numpy()

    @abc.abstractmethod
    def confidence(self, probabilities, decisions):
        """How sure the model is of each row's decision: float array `(rows,)`."""

    @abc.abstractmethod
    def values(self, decisions, labels=None):
        """Decisions (or encoded truth) as Python values: a label, or a tuple of labels, per row."""

    def cells(self, decisions, labels=None):
        """Decisions (or encoded truth) as label cells: object array of strings."""
        return np.asarray(self.values(decisions, labels), dtype=object)

    def wrong_rows(self, y_true, decisions):
        """Boolean array: rows whose decision is not their truth."""
        different = np.asarray(y_true) != np.asarray(decisions)
        return different.reshape(len(different), -1).any(axis=1)

    # -- prediction and serving -----------------------------------------------------------------------------
    @abc.abstractmethod
    def prediction_columns(self):
        """Names of the columns `predict` writes before the optional probabilities and top-k."""

    @abc.abstractmethod
    def prediction_cells(self, probabilities, decisions):
        """`{column: values}` for `prediction_columns()`."""

    @abc.abstractmethod
    def serving_outputs(self, probabilities, classes):
        """The exported signature's outputs: `{name: tensor}` from `probabilities` and the `classes` strings."""

    # -- judging ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def metrics(self, y_true, decisions, labels=None):
        """Headline and averaged metrics of decisions against encoded truth (plus `rows`); `labels` names
        the truth codes (`Truth.labels`)."""

    @abc.abstractmethod
    def label_f1(self, y_true, decisions, labels=None):
        """`{label: F1}` for each of the model's labels (what `textclf tune --metric f1:LABEL` chooses on)."""

    @abc.abstractmethod
    def kept_scores(self, probabilities, decisions):
        """What the reports need of each row's probabilities (kept per row while a file streams)."""

    @abc.abstractmethod
    def calibration(self, y_true, decisions, scores):
        """`(probabilities, correct, what)` for the reliability diagram."""

    @abc.abstractmethod
    def error_confidence(self, decisions, scores):
        """Per-row confidence ranking `errors.csv` and the examples (from `kept_scores`)."""

    @abc.abstractmethod
    def write_tables(self, report_dir, y_true, decisions, metrics, *, labels, evaluated_on, wrong, texts):
        """Writes this task's tables and plots.

        Args:
            report_dir: The reports directory.
            y_true, decisions: Encoded truth and decisions.
            metrics: `metrics()` plus `evaluated_on` and the calibration error.
            labels: Names of the truth codes (`Truth.labels`).
            evaluated_on: What the rows are (plot titles).
            wrong: The wrong rows, most confident first; texts: the rows' texts, or None.

        Returns:
            `{"per_class", "matrix", "labels", "pairs"}` for `report_html.write_run_page`.
        """


class Truth:
    """Encodes true label cells for evaluation, chunk after chunk (see `Task.truth`).

    Attributes:
        labels: The names of every code given so far (the model's labels first).
    """

    def __init__(self, task):
        self.task = task
        self.labels = list(task.labels)

    def __call__(self, parsed, rows=None, *, file=None, column=None):
        """Encoded truth of parsed cells; `rows` are their spreadsheet rows (for errors; None: not checked)."""
        raise NotImplementedError

    def unseen(self, y_true):
        """`{label: rows}` of the true labels the model does not know (counted as errors), if any."""
        return {}
