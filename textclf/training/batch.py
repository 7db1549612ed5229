"""The batch size and learning rate of the recurrent members, by the size of the training set.

Free of TensorFlow: `textclf train --help` shows these defaults.
"""

from __future__ import annotations

from textclf.models.ensemble import AUTO_MAX_TOKENS

BATCH_SIZE, LEARNING_RATE = 64, 2e-3
# benchmarks/RESULTS.md, "Batches of 128 at twice the learning rate": on long documents the same validation
# accuracy in 0.58 of the time (imdb, 20newsgroups); on short texts trec's test accuracy fell below its floor.
LARGE_BATCH_SIZE, LARGE_LEARNING_RATE = 128, 4e-3


def resolve_batch(batch_size, learning_rate, training_tokens):
    """The batch size and learning rate to train with, by the size of the training set.

    Above `textclf.models.ensemble.AUTO_MAX_TOKENS` training tokens (where
    `--ensemble auto` trains one model) batches of `LARGE_BATCH_SIZE` at
    `LARGE_LEARNING_RATE`: twice the rows per step at twice the rate (the
    linear scaling rule), so an epoch teaches about what it did in half the
    steps, and a recurrent step on a CPU costs little more at 128 rows than
    at 64. At most that many tokens, `BATCH_SIZE` at `LEARNING_RATE`. A value
    given is kept; the other one still follows the size.

    Args:
        batch_size: `TrainConfig.batch_size`, or None for the default.
        learning_rate: `TrainConfig.learning_rate`, or None for the default.
        training_tokens: Tokens of the training rows after truncation.

    Returns:
        `(batch_size, learning_rate, rule)`: the values and how the defaults were decided (for `metadata.json`).
    """
    large = training_tokens > AUTO_MAX_TOKENS
    rule = (f"auto: batch {LARGE_BATCH_SIZE} at learning rate {LARGE_LEARNING_RATE:g} when the training rows hold "
            f"more than {AUTO_MAX_TOKENS:,} tokens, else batch {BATCH_SIZE} at {LEARNING_RATE:g}")
    return (batch_size or (LARGE_BATCH_SIZE if large else BATCH_SIZE),
            learning_rate or (LARGE_LEARNING_RATE if large else LEARNING_RATE), rule)
