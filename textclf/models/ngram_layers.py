"""The n-gram branch's Keras layers: its vectorizer, the classifier it is fitted as, and the saved model's layers.

Fitted, the branch is `TextVectorization(multi_hot) [-> Normalization (x weights)]
-> UnitNormalization -> Dense`; in the saved model it is n-gram ids and one
`textclf.models.layers.NgramLogisticRegression` computing the same function
(`ngram_branch`). Overview: `textclf.models.wide`.
"""

from __future__ import annotations

import numpy as np

from textclf.artifacts import compat

VECTORIZER_NAME = "ngram_vectorization"
MODEL_NAME = "ngram_classifier"
SCALE_LAYER_NAME = "ngram_feature_weights"


def make_ngram_vectorizer(vocabulary, order, *, output_mode="multi_hot", standardize=True, name=VECTORIZER_NAME):
    """The n-gram `TextVectorization` layer (GloVe tokenizer).

    Args:
        vocabulary: The n-grams, without reserved entries.
        order: 1 for words, 2 for words and word pairs.
        output_mode: "multi_hot" (fitting: column 0 is out-of-vocabulary) or "int"
            (the saved model: ids padded with 0 to the batch's longest row, 1 out-of-vocabulary).
        standardize: Apply `glove_standardize` first; False for texts already standardized.
        name: Layer name.
    """
    import keras

    from textclf.models.keras_objects import register_keras_objects

    glove = register_keras_objects()
    return keras.layers.TextVectorization(
        standardize=glove if standardize else None,
        split="whitespace",
        ngrams=order if order > 1 else None,
        output_mode=output_mode,
        vocabulary=list(vocabulary),
        name=name,
    )



def build_ngram_classifier(num_features, num_classes, feature_weights=None, activation="softmax"):
    """Multi-hot n-grams [-> x weights] -> L2 normalization -> `activation` (a logistic regression).

    Args:
        num_features: Size of the multi-hot vectors (the vectorizer's vocabulary size).
        num_classes: Output classes.
        feature_weights: Optional `(num_features,)` positive weights (`idf_weights`,
            `nb_weights`); None keeps binary features.
        activation: The task's output activation (`Task.activation`): "softmax" (one multinomial
            regression) or "sigmoid" (one regression per label).

    Returns:
        The uncompiled `keras.Model` (features in, probabilities out).
    """
    import keras

    ngrams = keras.Input(shape=(num_features,), dtype="float32", name="ngrams")
    x = ngrams
    if feature_weights is not None:
        weights = np.asarray(feature_weights, dtype=np.float32)
        if weights.shape != (num_features,) or not np.all(weights > 0):
            raise ValueError(f"feature_weights must hold {num_features} positive weights. "
                             f"Received: shape={weights.shape}, non-positive entries={int(np.sum(~(weights > 0)))}")
        # Normalization computes (x - mean) / sqrt(variance): mean 0 and variance
        # 1 / weights**2 multiply by the weights, saved as the layer's state.
        scale = keras.layers.Normalization(axis=-1, name=SCALE_LAYER_NAME)
        scale.build((None, num_features))
        compat.set_feature_scale(scale, weights)
        x = scale(x)
    x = keras.layers.UnitNormalization(axis=-1, name="ngram_l2_normalization")(x)
    probabilities = keras.layers.Dense(num_classes, activation=activation, name="ngram_probabilities")(x)
    return keras.Model(ngrams, probabilities, name=MODEL_NAME)



def feature_weights(model):
    """The per-feature weights of an n-gram classifier (`build_ngram_classifier`): its scaling, or ones.

    Returns:
        float32 array `(features,)`.
    """
    import keras

    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    if kinds not in (["UnitNormalization", "Dense"], ["Normalization", "UnitNormalization", "Dense"]):
        raise ValueError(f"the n-gram branch needs an n-gram model of [Normalization,] UnitNormalization "
                         f"and Dense layers. Received: layers={kinds}")
    size = int(model.input_shape[-1])
    if kinds[0] != "Normalization":
        return np.ones(size, dtype=np.float32)
    normalization = model.layers[1]
    mean = np.asarray(normalization.mean).reshape(-1)
    if np.any(mean != 0) or normalization.invert:
        raise ValueError("the n-gram branch needs a Normalization layer with mean 0 (a pure scaling). "
                         f"Received: nonzero mean entries={int(np.sum(mean != 0))}, invert={normalization.invert}")
    std = np.maximum(np.sqrt(np.asarray(normalization.variance).reshape(-1)), keras.config.epsilon())
    return np.broadcast_to(1.0 / std, (size,)).astype(np.float32)



def ngram_branch(vectorizer, model):
    """The fitted n-gram branch as the saved model's layers: n-gram ids, then a sparse logistic regression.

    Args:
        vectorizer: The branch's multi-hot `TextVectorization` (`make_ngram_vectorizer`).
        model: The branch's fitted classifier (`build_ngram_classifier`).

    Returns:
        `(ids, scores)`: a `TextVectorization` of standardized texts to n-gram
        ids (padded to the batch's longest row) and a `NgramLogisticRegression`
        computing `model(vectorizer(texts))` from them.
    """
    from textclf.models.layers import NgramLogisticRegression

    if vectorizer.get_config().get("output_mode") != "multi_hot":
        raise ValueError(f"the n-gram branch needs a multi_hot vectorizer. "
                         f"Received: output_mode={vectorizer.get_config().get('output_mode')!r}")
    weights = feature_weights(model)
    dense = model.layers[-1]
    activation = dense.get_config().get("activation")
    if activation not in NgramLogisticRegression.ACTIVATIONS:
        raise ValueError(f"the n-gram branch needs a softmax or sigmoid output. Received: activation={activation!r}")
    ids = make_ngram_vectorizer(vectorizer.get_vocabulary()[1:], max(ngram_widths(vectorizer)), output_mode="int",
                                standardize=False)
    scores = NgramLogisticRegression(len(weights), dense.units, activation=activation, name=MODEL_NAME)
    scores.build((None, None))
    kernel, bias = dense.get_weights()
    scores.feature_weights.assign(weights)
    scores.kernel.assign(np.asarray(kernel, dtype=np.float32))
    scores.bias.assign(np.asarray(bias, dtype=np.float32))
    return ids, scores



def ngram_widths(vectorizer):
    """The n-gram widths an n-gram `TextVectorization` produces, e.g. `(1, 2)`."""
    ngrams = vectorizer.get_config().get("ngrams")
    if ngrams is None:
        return (1,)
    if isinstance(ngrams, int):
        return tuple(range(1, ngrams + 1))
    return tuple(int(n) for n in ngrams)

