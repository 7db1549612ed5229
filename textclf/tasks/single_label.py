"""One label per text: softmax outputs, the most probable label, accuracy and a confusion matrix."""

from __future__ import annotations

import numpy as np

from textclf.tasks.base import Task, Truth, register


class _Codes(Truth):
    """True labels as int32 codes; labels the model never saw get codes after its own (counted as errors)."""

    def __init__(self, task):
        super().__init__(task)
        self._codes = {label: i for i, label in enumerate(self.labels)}

    def __call__(self, parsed, rows=None, *, file=None, column=None):
        codes = np.array([self._codes.setdefault(label, len(self._codes)) for label in parsed], dtype=np.int32)
        self.labels = list(self._codes)
        return codes

    def unseen(self, y_true):
        known = len(self.task.labels)
        counts = np.bincount(np.asarray(y_true), minlength=len(self.labels))[known:]
        return {self.labels[known + i]: int(n) for i, n in enumerate(counts) if n}


@register
class SingleLabel(Task):
    """Exactly one of the labels per text (softmax over the labels, argmax decides)."""

    name = "single_label"
    activation = "softmax"
    label_noun = "label"
    headline = ("accuracy", "macro_f1")

    def encode(self, parsed):
        index = {label: i for i, label in enumerate(self.labels)}
        return np.array([index[label] for label in parsed])

    def truth(self):
        return _Codes(self)

    def loss(self, label_weights=None):
        return "sparse_categorical_crossentropy"

    def log_loss(self, probabilities, y):
        """The mean negative log probability of the true class (clipped at 1e-7)."""
        p, y = np.asarray(probabilities, dtype=np.float64), np.asarray(y)
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0))))

    def compiled_accuracy(self, y, probabilities):
        """Sparse categorical accuracy: the most probable class is the true one."""
        return float(np.mean(np.asarray(probabilities).argmax(axis=1) == np.asarray(y)))

    def one_vs_rest(self, y):
        """Each class against the others; with two classes only the first (the other's ratio is the same)."""
        y, count = np.asarray(y), len(self.labels)
        return [y == c for c in range(count if count > 2 else 1)]

    def sample_weights(self, y_train, class_weight=None):
        """`--class-weight balanced`: each example weighted by its class's inverse frequency."""
        if class_weight != "balanced":
            return None
        from sklearn.utils.class_weight import compute_class_weight

        return compute_class_weight("balanced", classes=np.arange(len(self.labels)), y=y_train)[y_train]

    branch_score_name = "accuracy"

    def branch_scores(self, y_val, probabilities):
        """Accuracy, and log loss as a threshold-free score beside it."""
        return {"validation_accuracy": float((self.decide(probabilities) == y_val).mean()),
                "validation_log_loss": self.log_loss(probabilities, y_val)}

    def decision_ops(self, probabilities):
        import tensorflow as tf

        return tf.argmax(probabilities, axis=1)

    def confidence(self, probabilities, decisions):
        """The probability of the decided label (NaN where the row has none)."""
        probabilities = np.asarray(probabilities)
        if not len(probabilities):
            return np.zeros(0, np.float32)
        return probabilities[np.arange(len(probabilities)), np.asarray(decisions)]

    def values(self, decisions, labels=None):
        return np.asarray(self.labels if labels is None else labels, dtype=object)[np.asarray(decisions, dtype=int)]

    def prediction_columns(self):
        return ["predicted_label", "confidence"]

    def prediction_cells(self, probabilities, decisions):
        return {"predicted_label": self.cells(decisions), "confidence": self.confidence(probabilities, decisions)}

    def serving_outputs(self, probabilities, classes):
        import tensorflow as tf

        best = self.decision_ops(probabilities)
        return {"probabilities": probabilities, "label": tf.gather(classes, best),
                "confidence": tf.gather(probabilities, best, axis=1, batch_dims=1)}

    def metrics(self, y_true, decisions, labels=None):
        """Accuracy, macro and weighted F1 (`reports.compute_metrics`); `labels` names the truth codes."""
        from textclf.evaluation.reports import compute_metrics

        return compute_metrics(self.values(y_true, labels), self.values(decisions), self.labels)

    def label_f1(self, y_true, decisions, labels=None):
        from sklearn.metrics import f1_score

        scores = f1_score(self.values(y_true, labels), self.values(decisions), labels=self.labels, average=None,
                          zero_division=0)
        return {str(label): float(f1) for label, f1 in zip(self.labels, scores)}

    def kept_scores(self, probabilities, decisions):
        return self.confidence(probabilities, decisions)

    def calibration(self, y_true, decisions, scores):
        return scores, np.asarray(y_true) == np.asarray(decisions), ""

    def error_confidence(self, decisions, scores):
        return scores

    def write_tables(self, report_dir, y_true, decisions, metrics, *, labels, evaluated_on, wrong, texts):
        """`confusion_matrix.csv/.png`, `classification_report.json/.txt` and `confused_pairs.csv`."""
        from textclf.evaluation import reports

        y_true, y_pred = self.cells(y_true, labels), self.cells(decisions, labels)
        all_labels = self.labels + sorted(labels[len(self.labels):])  # true labels the model never saw: last
        matrix = reports.write_confusion(report_dir, y_true, y_pred, all_labels, evaluated_on)
        per_class = reports.write_classification_report(report_dir, y_true, y_pred, self.labels, all_labels, metrics)
        pairs = reports.confused_pairs(matrix, all_labels, wrong, y_true, y_pred, texts)
        reports.write_pairs(report_dir / "confused_pairs.csv", pairs)
        return {"per_class": per_class, "matrix": matrix, "labels": all_labels, "pairs": pairs}
