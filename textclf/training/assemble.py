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
            whether it was kept, and the validation accuracy of each branch.
    """

    model: object
    ngram: dict


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
    from textclf.models.wide import choose_weight, mix

    scored, y_val = prepared.split.val_documents, prepared.y_val
    weight, _ = choose_weight(recurrent_val[scored], ngram.val_probabilities[scored], y_val[scored])
    mixed = mix(recurrent_val, ngram.val_probabilities, weight)

    def accuracy(probabilities):
        return float((probabilities[scored].argmax(axis=1) == y_val[scored]).mean())

    branches = {"recurrent": accuracy(recurrent_val), "ngram": accuracy(ngram.val_probabilities),
                "mixed": accuracy(mixed)}
    over = "" if scored.all() else f" over the {int(scored.sum())} documents"
    log(f"validation accuracy{over}: recurrent {branches['recurrent']:.4f}, n-gram {branches['ngram']:.4f}, "
        f"mixed {branches['mixed']:.4f} (n-gram weight {weight:g}, chosen on validation log loss)")
    return {**ngram.summary, "weight": weight, "kept": weight > 0, "validation_rows_scored": int(np.sum(scored)),
            "validation_accuracy": branches}


def assemble(prepared, recurrent, ngram, log):
    """Stage 4: chooses the mixing weight and builds the end-to-end model.

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
    from textclf.pipeline import predict_in_order

    record, wide = {"mode": "none", "kept": False}, None
    if ngram is not None:
        record = choose_mixing(prepared, predict_in_order(recurrent.model, prepared.ids_val), ngram, log)
        wide = (ngram.vectorizer, ngram.model, record["weight"]) if record["kept"] else None
    model = build_end_to_end(recurrent.model, prepared.vocabulary, prepared.max_length, wide=wide)
    return Assembled(model=model, ngram=record)
