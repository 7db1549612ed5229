"""Stage 2, fit the n-gram branch: logistic regression over word (and word-pair) features.

It comes before the recurrent members, whose early stopping follows their mix with it by default (`--stop-on mixed`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class NgramFit:
    """The fitted branch and its validation probabilities (for choosing the mixing weight).

    Attributes:
        vectorizer: Its multi-hot `TextVectorization`.
        model: Its classifier (features in, probabilities out).
        summary: Vocabulary size, feature weighting, C and their validation losses.
        val_probabilities: The branch's probabilities on the validation rows.
    """

    vectorizer: object
    model: object
    summary: dict
    val_probabilities: np.ndarray


def fit_ngram(config, prepared, log):
    """Stage 2: the n-gram branch of `config.wide`, or None for "none".

    Args:
        config: The `TrainConfig`.
        prepared: The `textclf.training.prepare.Prepared` data.
        log: Progress lines.

    Returns:
        An `NgramFit`, or None.
    """
    if config.wide == "none":
        return None
    from textclf.models.ngram_fit import fit_ngram_classifier
    from textclf.models.wide import NGRAM_ORDER

    split = prepared.split
    vectorizer, model, summary, val_probabilities = fit_ngram_classifier(
        split.train_texts, prepared.y_train, split.val_texts, prepared.y_val, task=prepared.task,
        order=NGRAM_ORDER[config.wide], max_tokens=config.wide_max_tokens, weighting=config.wide_weighting,
        sample_weights=prepared.sample_weights, label_weights=prepared.label_weights, log=log,
    )
    return NgramFit(vectorizer=vectorizer, model=model, summary={"mode": config.wide, **summary},
                    val_probabilities=val_probabilities)
