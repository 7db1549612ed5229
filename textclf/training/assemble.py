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
        task: The run's `textclf.tasks.Task` with its decision fitted on
            validation (`Task.fit_decision`: per-label thresholds with several labels per text).
    """

    model: object
    ngram: dict
    task: object = None


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
    from textclf.models.mixing import choose_weight, mix

    scored, y_val = prepared.split.val_documents, prepared.y_val
    weight, _ = choose_weight(recurrent_val[scored], ngram.val_probabilities[scored], y_val[scored],
                              prepared.task.log_loss)
    mixed = mix(recurrent_val, ngram.val_probabilities, weight)

    task = prepared.task
    scores = {name: task.branch_scores(y_val[scored], probabilities[scored]) for name, probabilities in
              (("recurrent", recurrent_val), ("ngram", ngram.val_probabilities), ("mixed", mixed))}
    branches = {key: {name: values[key] for name, values in scores.items()} for key in scores["recurrent"]}
    shown = branches[next(iter(branches))]
    over = "" if scored.all() else f" over the {int(scored.sum())} documents"
    log(f"validation {task.branch_score_name}{over}: recurrent {shown['recurrent']:.4f}, n-gram {shown['ngram']:.4f}, "
        f"mixed {shown['mixed']:.4f} (n-gram weight {weight:g}, chosen on validation log loss)")
    return {**ngram.summary, "weight": weight, "kept": weight > 0, "validation_rows_scored": int(np.sum(scored)),
            **branches}


def assemble(prepared, recurrent, ngram, log):
    """Stage 4: chooses the mixing weight, builds the end-to-end model and fits the task's decision
    (per-label thresholds with several labels per text) on what that model computes on validation.

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
    from textclf.models.mixing import mix
    from textclf.text.pipeline import SortedBatches

    record, wide = {"mode": "none", "kept": False}, None
    validation = SortedBatches(prepared.ids_val)
    recurrent_val = validation.predict(recurrent.model) if ngram is not None else None

    def mixed_val():  # what the assembled model computes on validation (only predicted when asked)
        probabilities = validation.predict(recurrent.model) if recurrent_val is None else recurrent_val
        return mix(probabilities, ngram.val_probabilities, record["weight"]) if wide else probabilities

    if ngram is not None:
        record = choose_mixing(prepared, recurrent_val, ngram, log)
        if record["kept"]:
            wide = (ngram.vectorizer, ngram.model, record["weight"])
    model = build_end_to_end(recurrent.model, prepared.vocabulary, prepared.max_length, wide=wide,
                             max_chars=prepared.max_chars)
    scored = prepared.split.val_documents
    task = prepared.task.fit_decision(prepared.y_val[scored], lambda: mixed_val()[scored], log)
    return Assembled(model=model, ngram=record, task=task)
