"""Several recurrent classifiers averaged: the default on small training sets.

Members share the data, vocabulary and validation split and differ in their
random seed (initial weights, dropout, batch order) and, when `--head` names
several heads ("bigru,cnn"), in their head, taken in turn. Averaging their
probabilities removes part of the seed-to-seed variance, which is largest
where data is small and where training is cheap, so `auto` trains
`AUTO_MEMBERS` of them when the training set holds at most
`AUTO_MAX_TOKENS` tokens (SST-2, TREC, SMS spam: a few minutes each on
2 CPU cores) and a single model above (IMDB, 20 Newsgroups).

The ensemble is one Keras model built from built-in layers (nested member
models and `keras.layers.Average`), so it saves and loads like one model.
"""

from __future__ import annotations

AUTO_MEMBERS = 3  # benchmarks/RESULTS.md, "How many members on small data": 3 scored as 5 on validation
AUTO_MAX_TOKENS = 1_000_000
SINGLE_UNITS = 64
MEMBER_UNITS = 32  # benchmarks/RESULTS.md, "Member size by training time": 32 trains faster than 16, scores as 64


def resolve_members(requested, training_tokens):
    """How many members to train.

    Args:
        requested: `TrainConfig.ensemble`: a positive int, or None for auto.
        training_tokens: Tokens of the training rows after truncation.

    Returns:
        `(members, rule)`: an int and how it was decided (for `metadata.json`).
    """
    if requested is not None:
        return int(requested), "--ensemble"
    members = AUTO_MEMBERS if training_tokens <= AUTO_MAX_TOKENS else 1
    return members, f"auto: {AUTO_MEMBERS} when the training rows hold at most {AUTO_MAX_TOKENS:,} tokens, else 1"


def resolve_units(requested, members):
    """Units per recurrent layer and direction (filters per width for cnn) of each member.

    Averaged members are smaller than a single model: on small data, where
    ensembles are trained, `MEMBER_UNITS` scored as `SINGLE_UNITS` on
    validation, and prediction cost grows with the members' size. (16 units
    scored as well, but took more epochs to train.)

    Args:
        requested: `TrainConfig.units`: a positive int, or None for the default.
        members: How many members are trained (`resolve_members`).

    Returns:
        `requested` if given, else `SINGLE_UNITS` for one model and `MEMBER_UNITS` for several.
    """
    if requested is not None:
        return int(requested)
    return SINGLE_UNITS if members == 1 else MEMBER_UNITS


def member_heads(head, members):
    """The head of each member: the names in `head` ("bigru" or "bigru,cnn") taken in turn.

    Returns:
        A tuple of `members` registered head names.
    """
    from textclf.models.heads import head_names

    names = head_names(head)
    return tuple(names[index % len(names)] for index in range(members))


def member_name(index):
    """Name of member `index` (0-based) inside the ensemble model."""
    return f"member_{index + 1}"


def build_ensemble(members, name):
    """Averages the probabilities of token-id classifiers that take the same input.

    Args:
        members: Trained models from `build_classifier`, each with a distinct
            name (optimizer state is dropped: saved files carry none).
        name: Name of the returned model.

    Returns:
        A `keras.Model` from token ids to the members' mean probabilities.
    """
    import keras

    from textclf.models.build import inference_copy

    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    outputs = [inference_copy(member)(token_ids) for member in members]
    return keras.Model(token_ids, keras.layers.Average(name="mean_probabilities")(outputs), name=name)


def average_models(models, weights, name="tuned_ensemble"):
    """The weighted mean of end-to-end models' probabilities, as one end-to-end model (raw strings in).

    Built-in layers only (`keras.layers.Rescaling`, `keras.layers.Add`), so it saves and loads like any
    textclf model. `textclf tune` keeps such a mean of its trials (`textclf.tuning.ensemble`).

    Args:
        models: End-to-end Keras models with the same outputs (texts in, probabilities out).
        weights: One positive weight per model (normalised to sum to 1).
        name: Name of the returned model.

    Returns:
        A `keras.Model` from a string tensor `(batch,)` to the weighted mean probabilities.

    Raises:
        ValueError: No model, weights that do not match, or a weight that is not positive.
    """
    import keras

    weights = [float(weight) for weight in weights]
    if not models or len(weights) != len(models) or min(weights) <= 0:
        raise ValueError(f"average_models needs one positive weight per model. Received: {len(models)} models, "
                         f"weights={weights}")
    texts = keras.Input(shape=(), dtype="string", name="text")
    total = sum(weights)
    outputs = []
    for index, (model, weight) in enumerate(zip(models, weights), start=1):
        # Each model renamed: the trials' models share one name, and names are unique within a model.
        renamed = keras.Model(model.input, model.output, name=f"model_{index}")
        outputs.append(keras.layers.Rescaling(weight / total, name=f"weight_{index}")(renamed(texts)))
    mean = outputs[0] if len(outputs) == 1 else keras.layers.Add(name="weighted_mean_probabilities")(outputs)
    return keras.Model(texts, mean, name=name)
