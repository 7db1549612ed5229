"""Several labels per text: one sigmoid per label, per-label thresholds, micro/macro F1 and per-label counts.

Label cells hold names joined by a separator (`joy|surprise`), parsed once
(`textclf.tasks.multilabel.split_label_cells`) into tuples, then encoded as the
0/1 indicator matrix whose columns follow the model's label order.
"""

from __future__ import annotations

import numpy as np

from textclf.errors import ConfigError, InputDataError
from textclf.tasks.base import Task, Truth, register

DEFAULT_THRESHOLD = 0.5


class _Indicators(Truth):
    """True label sets as indicator rows; a label unknown to the model is an error (its metrics are undefined)."""

    def __call__(self, parsed, rows=None, *, file=None, column=None):
        from textclf.tasks.multilabel import indicator_matrix

        known = set(self.labels)
        for names, row in zip(parsed, rows or ()):  # rows None: rows read at training, unknown names ignored
            unknown = [name for name in names if name not in known]
            if unknown:
                raise InputDataError(f"label {unknown[0]!r} is not one of the model's {len(self.labels)} labels; "
                                     "a multi-label evaluation needs every true label known to the model",
                                     file=file, row=row, column=column)
        return indicator_matrix(parsed, self.labels)


@register
class MultiLabel(Task):
    """Any subset of the labels per text: each label's probability against its own threshold.

    Args:
        labels: The model's output order.
        separator: Joins the labels of one text in label cells.
        thresholds: `{label: threshold}` (chosen on validation); 0.5 for a label without one.
        at_least_one: A row where no label passes takes its most probable label.
    """

    name = "multi_label"
    activation = "sigmoid"
    label_noun = "labels"
    headline = ("micro_f1", "macro_f1")

    def __init__(self, labels, separator="|", thresholds=None, at_least_one=False, threshold_rule=None):
        super().__init__(labels)
        if not isinstance(separator, str) or not separator:
            raise ConfigError(f"the label separator must be a non-empty string. Received: {separator!r}")
        self.separator, self.at_least_one, self.threshold_rule = separator, bool(at_least_one), threshold_rule
        stored = thresholds or {}
        self.thresholds = np.array([float(stored.get(label, DEFAULT_THRESHOLD)) for label in self.labels])

    def _replace(self, **changes):
        state = {"separator": self.separator, "at_least_one": self.at_least_one, "threshold_rule": self.threshold_rule,
                 "thresholds": dict(zip(self.labels, self.thresholds.tolist()))}
        return MultiLabel(self.labels, **{**state, **changes})

    def to_config(self):
        block = {"name": self.name, "separator": self.separator, "at_least_one": self.at_least_one,
                 "thresholds": {label: float(t) for label, t in zip(self.labels, self.thresholds)}}
        return {**block, "threshold_rule": self.threshold_rule} if self.threshold_rule else block

    @classmethod
    def from_config(cls, block, labels):
        return cls(labels, separator=block.get("separator") or "|", thresholds=block.get("thresholds"),
                   at_least_one=block.get("at_least_one", False), threshold_rule=block.get("threshold_rule"))

    def describe(self):
        values = sorted(self.thresholds)
        summary = (f"median {values[len(values) // 2]:.2f}, range {values[0]:.2f}-{values[-1]:.2f}; "
                   + ", ".join(f"{label} {t:.2f}" for label, t in zip(self.labels, self.thresholds)))
        return [f"multi-label: several labels per text, joined by {self.separator!r}; "
                f"at least one label per text: {'yes' if self.at_least_one else 'no'}",
                f"decision thresholds (chosen on validation F1 per label): {summary}"]

    # -- labels -----------------------------------------------------------------------------------------
    def parse_cells(self, cells, *, file=None, column=None, rows=None):
        from textclf.tasks.multilabel import split_label_cells

        if rows is None:
            return split_label_cells(cells, self.separator, file=file, column=column)
        return [split_label_cells([cell], self.separator, file=file, column=column, first_row=row)[0]
                for cell, row in zip(cells, rows)]

    def names(self, parsed):
        return [name for names in parsed for name in names]

    def strata(self, parsed):
        from textclf.tasks.multilabel import stratification_keys

        return stratification_keys(parsed)

    def check_format(self, parsed, *, file, separator, log):
        if not any(len(names) > 1 for names in parsed):
            log(f"warning: {file}: no label cell holds several labels joined by {self.separator!r}: this is "
                "single-label data (training one sigmoid output per label as asked)")

    def encode(self, parsed):
        from textclf.tasks.multilabel import indicator_matrix

        return indicator_matrix(parsed, self.labels).astype(np.float32)

    def truth(self):
        return _Indicators(self)

    # -- training ---------------------------------------------------------------------------------------
    def label_weights(self, y_train, class_weight=None):
        """`--class-weight balanced`: each label's positives weighted negatives/positives."""
        from textclf.tasks.multilabel import positive_weights

        return positive_weights(y_train) if class_weight == "balanced" else None

    def min_improvement(self, min_delta):
        """`log_loss` is a mean over the labels, so a fall of `min_delta` in their sum is `min_delta / labels`
        of it: taken as given, 0.001 stopped GoEmotions' phases while they still learned (issue 36)."""
        return min_delta / len(self.labels)

    def log_loss(self, probabilities, y):
        """Binary log loss averaged over every label of every row (probabilities clipped to [1e-7, 1 - 1e-7])."""
        p, y = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1.0 - 1e-7), np.asarray(y)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def compiled_accuracy(self, y, probabilities):
        """Categorical accuracy on the 0/1 matrix: the most probable label is the first true one."""
        return float(np.mean(np.asarray(probabilities).argmax(axis=1) == np.asarray(y).argmax(axis=1)))

    def one_vs_rest(self, y):
        """Each label's texts against the others."""
        y = np.asarray(y)
        return [y[:, label] == 1 for label in range(len(self.labels))]

    def loss(self, label_weights=None):
        """Binary cross-entropy per label, each label's positives weighted by `label_weights` when given."""
        if label_weights is None:
            return "binary_crossentropy"
        from textclf.training.losses import WeightedBinaryCrossentropy

        return WeightedBinaryCrossentropy([float(w) for w in label_weights])

    def fit_decision(self, y_val, probabilities, log=lambda message: None):
        """Per-label thresholds maximizing each label's F1 on validation (`multilabel.choose_thresholds`)."""
        from textclf.tasks.multilabel import MIN_POSITIVES_FOR_TUNING, choose_thresholds

        thresholds = choose_thresholds(y_val, probabilities())
        kept = int(np.sum(np.asarray(y_val).sum(axis=0) < MIN_POSITIVES_FOR_TUNING))
        log(f"decision thresholds per label, chosen on validation F1: median {np.median(thresholds):.2f}, "
            f"range {thresholds.min():.2f}-{thresholds.max():.2f}"
            + (f"; {kept} labels with fewer than {MIN_POSITIVES_FOR_TUNING} validation positives keep 0.5"
               if kept else ""))
        rule = (f"per label, the highest validation F1 on a 0.05-0.95 grid; labels with fewer than "
                f"{MIN_POSITIVES_FOR_TUNING} validation positives keep 0.5")
        return self._replace(thresholds=dict(zip(self.labels, thresholds.tolist())), threshold_rule=rule)

    branch_score_name = "log loss"  # no argmax accuracy with several labels per text

    def branch_scores(self, y_val, probabilities):
        return {"validation_branch_log_loss": self.log_loss(probabilities, y_val)}

    # -- the decision rule --------------------------------------------------------------------------------
    def with_overrides(self, threshold=None, at_least_one=None):
        if threshold is None and at_least_one is None:
            return self
        changes = {} if at_least_one is None else {"at_least_one": bool(at_least_one)}
        if threshold is not None:
            if not 0.0 <= float(threshold) <= 1.0:
                raise ConfigError(f"--threshold must be between 0 and 1, got {threshold}")
            changes["thresholds"] = {label: float(threshold) for label in self.labels}
        return self._replace(**changes)

    def decision_ops(self, probabilities):
        """`probability >= threshold` per label (compared in float64); with `at_least_one` an empty row
        takes its most probable label. int8 `(rows, labels)`."""
        import tensorflow as tf

        decided = tf.cast(probabilities, tf.float64) >= tf.constant(self.thresholds, tf.float64)
        if self.at_least_one:
            best = tf.one_hot(tf.argmax(probabilities, axis=1), len(self.labels), on_value=True, off_value=False)
            decided = tf.logical_or(decided, tf.logical_and(best, ~tf.reduce_any(decided, axis=1, keepdims=True)))
        return tf.cast(decided, tf.int8)

    def confidence(self, probabilities, decisions):
        """The probability of the row's most doubtful decision (`p` if given, `1 - p` if not)."""
        probabilities = np.asarray(probabilities, dtype=np.float64)
        return np.where(np.asarray(decisions) == 1, probabilities, 1.0 - probabilities).min(axis=1)

    def values(self, decisions, labels=None):
        names = np.asarray(self.labels, dtype=object)
        return [tuple(names[np.flatnonzero(row)]) for row in np.asarray(decisions)]

    def cells(self, decisions, labels=None):
        return np.asarray([self.separator.join(names) for names in self.values(decisions)], dtype=object)

    # -- prediction and serving -----------------------------------------------------------------------------
    def prediction_columns(self):
        return ["predicted_labels"]

    def prediction_cells(self, probabilities, decisions):
        return {"predicted_labels": self.cells(decisions)}

    def serving_outputs(self, probabilities, classes):
        import tensorflow as tf

        decided = self.decision_ops(probabilities)
        names = tf.ragged.boolean_mask(tf.broadcast_to(classes, tf.shape(decided)), tf.cast(decided, tf.bool))
        return {"probabilities": probabilities, "decisions": decided,
                "labels": tf.strings.reduce_join(names, axis=1, separator=self.separator)}

    # -- judging ----------------------------------------------------------------------------------------
    def metrics(self, y_true, decisions, labels=None):
        from textclf.tasks.multilabel import multilabel_metrics

        return multilabel_metrics(np.asarray(y_true, dtype=np.int8), np.asarray(decisions, dtype=np.int8),
                                  self.labels)

    def label_f1(self, y_true, decisions, labels=None):
        from sklearn.metrics import f1_score

        scores = f1_score(np.asarray(y_true, dtype=np.int8), np.asarray(decisions, dtype=np.int8), average=None,
                          zero_division=0)
        return {str(label): float(f1) for label, f1 in zip(self.labels, scores)}

    def kept_scores(self, probabilities, decisions):
        return np.asarray(probabilities)

    def calibration(self, y_true, decisions, scores):
        return np.asarray(scores).ravel(), np.asarray(y_true).ravel() == 1, " (every label of every row)"

    def error_confidence(self, decisions, scores):
        return self.confidence(scores, decisions)

    def write_tables(self, report_dir, y_true, decisions, metrics, *, labels, evaluated_on, wrong, texts):
        """`classification_report.json/.txt`, `multilabel_confusion.csv/.png` and `label_cooccurrence.csv/.png`."""
        from textclf.tasks import multilabel_reports as tables

        y_true, y_pred = np.asarray(y_true, dtype=np.int8), np.asarray(decisions, dtype=np.int8)
        per_label = tables.write_classification_report(report_dir, y_true, y_pred, self.labels, metrics)
        tables.write_label_confusion(report_dir, y_true, y_pred, self.labels, evaluated_on)
        tables.write_cooccurrence(report_dir, y_true, self.labels, evaluated_on)
        return {"per_class": per_label, "matrix": None, "labels": self.labels}
