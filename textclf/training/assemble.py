"""Stage 4, assemble: the mixing weight, then the end-to-end graph (raw strings in, probabilities out)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Assembled:
    """The end-to-end Keras model and the record of how its branches were mixed.

    Attributes:
        model: The model that is saved, and that every metric is computed with.
        ngram: `fitted.ngram` of the metadata: the branch's summary, its weight,
            whether it was kept, and the validation accuracy (or, with several
            labels per text, binary log loss: `validation_branch_log_loss`) of each branch.
        thresholds: With several labels per text, `{label: threshold}` chosen
            on validation (`choose_decision_thresholds`); else None.
    """

    model: object
    ngram: dict
    thresholds: dict = None


def choose_mixing(prepared, recurrent_val, ngram, log):
    """The n-gram weight, chosen on validation log loss over the validation documents.

    This is fitting, so it uses the two branches' separate probabilities.

    Args:
        prepared: The `textclf.training.prepare.Prepared` data.
        recurrent_val: The recurrent model's validation probabilities.
        ngram: The `NgramFit`.
        log: Progress lines.

    Returns:
        The `fitted.ngram` record (with "weight" and "kept").
    """
    from textclf.models.wide import choose_weight, log_loss, mix

    scored, y_val = prepared.split.val_documents, prepared.y_val
    weight, _ = choose_weight(recurrent_val[scored], ngram.val_probabilities[scored], y_val[scored])
    mixed = mix(recurrent_val, ngram.val_probabilities, weight)

    def accuracy(probabilities):
        return float((probabilities[scored].argmax(axis=1) == y_val[scored]).mean())

    def loss(probabilities):
        return log_loss(probabilities[scored], y_val[scored])

    # Several labels per text: no argmax accuracy, the branches compare by binary log loss.
    score, what, key = ((loss, "log loss", "validation_branch_log_loss") if prepared.multi_label
                        else (accuracy, "accuracy", "validation_accuracy"))
    branches = {"recurrent": score(recurrent_val), "ngram": score(ngram.val_probabilities), "mixed": score(mixed)}
    over = "" if scored.all() else f" over the {int(scored.sum())} documents"
    log(f"validation {what}{over}: recurrent {branches['recurrent']:.4f}, n-gram {branches['ngram']:.4f}, "
        f"mixed {branches['mixed']:.4f} (n-gram weight {weight:g}, chosen on validation log loss)")
    record = {**ngram.summary, "weight": weight, "kept": weight > 0, "validation_rows_scored": int(np.sum(scored)),
              key: branches}
    if not prepared.multi_label:  # a threshold-free score beside accuracy
        record["validation_log_loss"] = {"recurrent": loss(recurrent_val), "ngram": loss(ngram.val_probabilities),
                                         "mixed": loss(mixed)}
    return record


def choose_decision_thresholds(prepared, val_probabilities, log):
    """Per-label thresholds maximizing each label's F1 on the validation documents (`choose_thresholds`).

    Returns:
        `{label: threshold}` in label order.
    """
    from textclf.multilabel import MIN_POSITIVES_FOR_TUNING, choose_thresholds

    scored = prepared.split.val_documents
    thresholds = choose_thresholds(prepared.y_val[scored], val_probabilities[scored])
    kept = int(np.sum(prepared.y_val[scored].sum(axis=0) < MIN_POSITIVES_FOR_TUNING))
    log(f"decision thresholds per label, chosen on validation F1: median {np.median(thresholds):.2f}, "
        f"range {thresholds.min():.2f}-{thresholds.max():.2f}"
        + (f"; {kept} labels with fewer than {MIN_POSITIVES_FOR_TUNING} validation positives keep 0.5" if kept else ""))
    return {label: float(t) for label, t in zip(prepared.labels, thresholds)}


def assemble(prepared, recurrent, ngram, log):
    """Stage 4: chooses the mixing weight, builds the end-to-end model and, with several labels per text,
    chooses the per-label decision thresholds.

    A weight of 0 leaves the n-gram branch out of the saved model.

    Args:
        prepared: The `textclf.training.prepare.Prepared` data.
        recurrent: The `textclf.training.recurrent.RecurrentFit`.
        ngram: The `textclf.training.ngram.NgramFit`, or None.
        log: Progress lines.

    Returns:
        An `Assembled`.
    """
    from textclf.models.build import build_end_to_end
    from textclf.models.wide import mix
    from textclf.pipeline import predict_in_order

    record, wide = {"mode": "none", "kept": False}, None
    recurrent_val = (predict_in_order(recurrent.model, prepared.ids_val)
                     if ngram is not None or prepared.multi_label else None)
    mixed_val = recurrent_val
    if ngram is not None:
        record = choose_mixing(prepared, recurrent_val, ngram, log)
        if record["kept"]:
            wide = (ngram.vectorizer, ngram.model, record["weight"])
            mixed_val = mix(recurrent_val, ngram.val_probabilities, record["weight"])
    model = build_end_to_end(recurrent.model, prepared.vocabulary, prepared.max_length, wide=wide,
                             max_chars=prepared.max_chars)
    # The thresholds see what the assembled model computes: the mixed probabilities.
    thresholds = choose_decision_thresholds(prepared, mixed_val, log) if prepared.multi_label else None
    return Assembled(model=model, ngram=record, thresholds=thresholds)
