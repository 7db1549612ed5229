"""Keras graphs: the token-id classifier and the end-to-end string model.

Training runs the *classifier* (token ids in, probabilities out) on batches
vectorized outside the model, so batches can be bucketed by length. What is
saved is the *end-to-end* model: GloVe standardization, a `TextVectorization`
layer holding the vocabulary, that same classifier and, with the n-gram
branch, its own vectorization, scoring and mixing layers, so the saved file
takes raw strings. It is the one prediction path: `TextClassifier`, the CLI,
evaluation and export all call it.
"""

from __future__ import annotations

from textclf.models.heads import check_pooling, get_head

CLASSIFIER_NAME = "classifier"
VECTORIZER_NAME = "text_vectorization"
EMBEDDING_NAME = "embedding"
TRUNCATION_NAME = "first_tokens"


def build_classifier(
    *,
    embedding_matrix,
    num_classes,
    head,
    units=64,
    layers=1,
    dropout=0.3,
    pooling="max",
    embedding_dropout=0.1,
    trainable_embeddings=False,
    activation="softmax",
    name=CLASSIFIER_NAME,
):
    """Builds the classifier from token ids to class probabilities.

    Args:
        embedding_matrix: float32 array `(vocabulary_size, dim)`; row 0 is padding.
        num_classes: Number of output classes.
        head: Registered head name (see `textclf.models.HEADS`).
        units: Units of each recurrent layer (per direction).
        layers: Number of stacked recurrent layers.
        dropout: Dropout rate between recurrent layers and before the output.
        pooling: How time steps are reduced, one of `POOLINGS`.
        embedding_dropout: Rate of `SpatialDropout1D` on the embedded tokens.
        trainable_embeddings: Whether the embedding matrix is updated in training.
        activation: Of the output layer: the task's (`Task.activation`: "softmax", or
            "sigmoid" for one independent probability per label).
        name: Model name ("classifier"; ensemble members get their own).

    Returns:
        A `keras.Model` named `name`, input `(batch, time)` int ids.
    """
    import keras

    spec = get_head(head)
    check_pooling(head, pooling)
    vocabulary_size, dim = embedding_matrix.shape
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    embedding = keras.layers.Embedding(
        vocabulary_size,
        dim,
        mask_zero=True,
        trainable=trainable_embeddings,
        name=EMBEDDING_NAME,
    )
    x = embedding(token_ids)
    # Assigned after building so the matrix is stored as a weight, never
    # inlined into the JSON config as an initializer value.
    embedding.embeddings.assign(embedding_matrix)
    if embedding_dropout > 0:
        x = keras.layers.SpatialDropout1D(embedding_dropout, name="embedding_dropout")(x)
    x = spec.build(x, token_ids, units=units, layers=layers, dropout=dropout, pooling=pooling)
    if dropout > 0:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    probabilities = keras.layers.Dense(num_classes, activation=activation, name="probabilities")(x)
    return keras.Model(token_ids, probabilities, name=name)


def make_vectorizer(vocabulary, *, max_length=None, ragged=False, standardize=True, name=VECTORIZER_NAME):
    """A `TextVectorization` layer with the GloVe tokenizer and a fixed vocabulary.

    Args:
        vocabulary: Tokens, either without the reserved entries or as returned by
            `get_vocabulary()` (starting with "" and "[UNK]").
        max_length: Pad or truncate to this many tokens; None pads a batch to
            its longest row (or keeps lengths with `ragged`).
        ragged: Return a `tf.RaggedTensor` (only with `max_length=None`).
        standardize: Apply `glove_standardize` first; False for texts already
            standardized (by a `GloveStandardize` layer).
        name: Layer name.

    Returns:
        A `keras.layers.TextVectorization`.
    """
    import keras

    from textclf.models.keras_objects import register_keras_objects

    glove = register_keras_objects()
    tokens = list(vocabulary)
    if tokens[:2] == ["", "[UNK]"]:
        tokens = tokens[2:]
    return keras.layers.TextVectorization(
        standardize=glove if standardize else None,
        split="whitespace",
        output_mode="int",
        output_sequence_length=max_length,
        ragged=ragged,
        vocabulary=tokens,
        name=name,
    )


def build_end_to_end(classifier, vocabulary, max_length, wide=None, max_chars=None):
    """Wraps `classifier` (and the n-gram branch) into the saved model, which takes raw strings.

    text -> GloveStandardize (first `max_chars` characters) -> TextVectorization (padded to the batch's longest
    text) -> FirstTokens(max_length) -> classifier; with `wide`, also
    TextVectorization (n-gram ids) -> NgramLogisticRegression, and
    MixProbabilities over the two.

    Args:
        classifier: The model returned by `build_classifier` or `build_ensemble` (trained).
        vocabulary: The vocabulary as `get_vocabulary()` returns it.
        max_length: Texts are truncated to this many tokens.
        wide: None, or `(ngram_vectorizer, ngram_classifier, weight)` from
            `textclf.models.wide` (as fitted): the output is then
            `weight * wide + (1 - weight) * deep`.
        max_chars: Characters of each text read, as training cut them (`textclf.text.vocabulary.cut_texts`);
            None reads texts whole.

    Returns:
        A `TextModel` with a 1-D string input and probabilities as output.
    """
    import keras

    from textclf.models.layers import FirstTokens, GloveStandardize, MixProbabilities
    from textclf.models.text_model import TextModel

    text = keras.Input(shape=(), dtype="string", name="text")
    standardized = GloveStandardize(max_chars, name="glove_standardize")(text)
    ids = make_vectorizer(vocabulary, standardize=False)(standardized)
    probabilities = inference_copy(classifier)(FirstTokens(max_length, name=TRUNCATION_NAME)(ids))
    if wide is not None:
        from textclf.models.ngram_layers import ngram_branch

        vectorizer, scores = ngram_branch(*wide[:2])
        probabilities = MixProbabilities(wide[2], name="mix")([probabilities, scores(vectorizer(standardized))])
    return TextModel(text, probabilities, name="textclf")


def inference_copy(model):
    """An uncompiled copy with the same weights: saved files carry no optimizer state."""
    import keras

    if getattr(model, "optimizer", None) is None:
        return model
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy
