"""The wide branch: an n-gram logistic regression beside the recurrent model.

A GloVe recurrent model reads word order and meaning; a linear model over
word and word-pair indicators remembers which exact phrases matter. They fail
on different texts, so their average beats either one, and on long documents
(IMDB, 20 Newsgroups) the linear part is what TF-IDF + logistic regression
owes its strength to. Built from Keras layers only:

    text -> TextVectorization(GloVe tokens, ngrams, multi_hot) [-> Normalization (x weights)]
         -> UnitNormalization -> Dense(softmax)

With `weighting="idf"` each present n-gram counts by its
inverse document frequency, `ln((1 + n) / (1 + df)) + 1` as scikit-learn's
TfidfVectorizer computes it, applied by a `Normalization` layer whose variance
is `1 / idf**2` (it divides by the standard deviation). Measured with logistic
regression on 20 Newsgroups, binary-times-idf features score 0.842 on test
against 0.789 for binary ones and 0.790 for counts-times-idf (what
TextVectorization's own `tf_idf` mode computes), close to sublinear TF-IDF's 0.846.

With `weighting="nb"` each present n-gram counts by the magnitude of its
naive-Bayes log-count ratio, `|ln((p / |p|_1) / (q / |q|_1))|` with `p` and
`q` the (add-one smoothed) numbers of texts holding it in one class and in
the others (Wang & Manning 2012, NBSVM; with more than two classes the
largest one-vs-rest ratio): words that separate the classes count more, which
suits sentiment. On two-class data the default, `auto`, fits both idf and nb
features and keeps the ones with the lower validation log loss (measured:
benchmarks/RESULTS.md); with more classes it is idf.

It is fitted on its own by scikit-learn's LogisticRegression (the solved
coefficients are copied into the Dense layer) and mixed with the
recurrent model's probabilities as `weight * wide + (1 - weight) * deep`, the
weight chosen on the validation split (see `choose_weight`). The saved model
holds the fitted branch as `ngram_branch` layers: n-gram ids, then the same
regression computed on each text's distinct n-grams (`NgramLogisticRegression`).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from textclf import compat

WIDE_CHOICES = ("none", "unigrams", "bigrams")
WEIGHTINGS = ("auto", "idf", "nb", "binary")
NGRAM_ORDER = {"unigrams": 1, "bigrams": 2}
VECTORIZER_NAME = "ngram_vectorization"
MODEL_NAME = "ngram_classifier"
SCALE_LAYER_NAME = "ngram_feature_weights"
# Logistic regression's inverse L2 strengths. The search starts at C_START and
# walks the grid up, or down when the first step up does not help, until the
# validation log loss rises (it is about convex in log C): long documents and
# keyword-driven tasks (20 Newsgroups, SMS spam) want weak regularization,
# short phrases (SST-2) strong.
C_GRID = (0.25, 1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0)
C_START = 4.0
WEIGHT_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def ngram_statistics(texts, order, max_tokens, min_count=2, batch_size=4096):
    """The most frequent n-grams (by number of texts containing them) and those numbers, deterministic.

    Args:
        texts: Training texts.
        order: 1 for words, 2 for words and word pairs.
        max_tokens: Vocabulary size including the out-of-vocabulary entry.
        min_count: N-grams in fewer texts are dropped (as TfidfVectorizer's min_df).
        batch_size: Texts tokenized per TensorFlow call.

    Returns:
        `(vocabulary, document_frequencies)`: n-grams ("word" or "word word"),
        most frequent first, ties alphabetical, and the number of texts holding each.
    """
    import tensorflow as tf

    from textclf.tokenize import glove_standardize

    counts = Counter()
    for start in range(0, len(texts), batch_size):
        batch = tf.constant(list(texts[start : start + batch_size]), dtype=tf.string)
        tokens = tf.strings.split(glove_standardize(batch))
        grams = tf.strings.ngrams(tokens, ngram_width=tuple(range(1, order + 1)), separator=" ")
        for row in grams.to_list():
            counts.update(set(row))
    ranked = sorted((g for g, n in counts.items() if n >= min_count), key=lambda g: (-counts[g], g))
    ranked = ranked[: max(1, max_tokens - 1)]
    return [g.decode("utf-8") for g in ranked], np.array([counts[g] for g in ranked], dtype=np.int64)


def ngram_vocabulary(texts, order, max_tokens, min_count=2, batch_size=4096):
    """The vocabulary of `ngram_statistics` alone."""
    return ngram_statistics(texts, order, max_tokens, min_count, batch_size)[0]


def idf_weights(document_frequencies, num_texts):
    """Inverse document frequencies, `ln((1 + n) / (1 + df)) + 1` (scikit-learn's smooth idf).

    Returns:
        float32 array with one more entry than `document_frequencies`: first the
        out-of-vocabulary entry's, 1.0 (the weight of an n-gram found in every
        text; some n-gram of almost every text is out of vocabulary).
    """
    df = np.asarray(document_frequencies, dtype=np.float64)
    idf = np.log((1.0 + num_texts) / (1.0 + df)) + 1.0
    return np.concatenate([[1.0], idf]).astype(np.float32)


def nb_weights(presence, y, num_classes, alpha=1.0, floor=1e-3):
    """Naive-Bayes log-count ratio magnitudes of each feature (NBSVM's `r`), as positive weights.

    Args:
        presence: `(texts, features)` SciPy sparse matrix, nonzero where a text holds the n-gram.
        y: Class index of each text, or a `(texts, labels)` 0/1 matrix (several labels per text).
        num_classes: Number of classes; with more than two (or several labels
            per text), each feature's largest one-vs-rest ratio is kept.
        alpha: Add-alpha smoothing of the counts.
        floor: Smallest weight (features with a ratio of 0 still keep a trace,
            as the scaling layer needs positive weights).

    Returns:
        float32 array `(features,)` of weights >= `floor`.
    """
    presence = (presence != 0).astype(np.float64).tocsr()
    y = np.asarray(y)
    ratios = np.zeros(presence.shape[1])
    for c in range(num_classes if num_classes > 2 or y.ndim == 2 else 1):
        members = y[:, c] == 1 if y.ndim == 2 else y == c
        inside = np.asarray(presence[members].sum(axis=0)).ravel() + alpha
        outside = np.asarray(presence[~members].sum(axis=0)).ravel() + alpha
        ratios = np.maximum(ratios, np.abs(np.log((inside / inside.sum()) / (outside / outside.sum()))))
    return np.maximum(ratios, floor).astype(np.float32)


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

    from textclf.keras_objects import register_keras_objects

    glove = register_keras_objects()
    return keras.layers.TextVectorization(
        standardize=glove if standardize else None,
        split="whitespace",
        ngrams=order if order > 1 else None,
        output_mode=output_mode,
        vocabulary=list(vocabulary),
        name=name,
    )


def build_ngram_classifier(num_features, num_classes, feature_weights=None, multi_label=False):
    """Multi-hot n-grams [-> x weights] -> L2 normalization -> softmax (multinomial logistic regression).

    Args:
        num_features: Size of the multi-hot vectors (the vectorizer's vocabulary size).
        num_classes: Output classes.
        feature_weights: Optional `(num_features,)` positive weights (`idf_weights`,
            `nb_weights`); None keeps binary features.
        multi_label: Sigmoid outputs (one-vs-rest logistic regressions) instead of a softmax.
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
    activation = "sigmoid" if multi_label else "softmax"
    probabilities = keras.layers.Dense(num_classes, activation=activation, name="ngram_probabilities")(x)
    return keras.Model(ngrams, probabilities, name=MODEL_NAME)


def fit_ngram_classifier(train_texts, y_train, val_texts, y_val, *, num_classes, order, max_tokens,
                         weighting="auto", c_grid=C_GRID, sample_weights=None, label_weights=None, log=print):
    """Trains the wide branch: scikit-learn's logistic regression, its C chosen on validation log loss.

    C starts at `C_START` and walks `c_grid` up while the validation log loss
    falls, or down if the first step up does not lower it; the C with the
    lowest loss is kept.
    With `weighting="auto"` this is done for idf and, on two-class data, nb
    features, and the weighting with the lower validation log loss is kept.

    The features are computed sparsely with the model's own tokenizer and
    vocabulary (`ngram_features`), the regression is solved to convergence by
    L-BFGS (deterministic), and its coefficients become the `Dense` layer of
    the Keras model, which computes the same function on raw strings.

    Args:
        train_texts, y_train: Training texts and class indices, or `(texts, labels)` 0/1
            matrices for several labels per text: one-vs-rest regressions with
            sigmoid outputs, C chosen on the mean binary log loss.
        val_texts, y_val: Validation texts and labels, the same way (choose C and the weighting).
        num_classes: Number of classes of the whole model.
        order: 1 for words, 2 for words and word pairs.
        max_tokens: N-gram vocabulary size.
        weighting: One of `WEIGHTINGS`.
        c_grid: Inverse regularization strengths tried.
        sample_weights: Optional per-example weights (class balancing).
        label_weights: Optional per-label weights of the positives (several labels per text).
        log: Progress messages.

    Returns:
        `(vectorizer, model, summary, val_probabilities)`: `summary` has the
        vocabulary size, the weighting used and the chosen C; `val_probabilities`
        are the fitted branch's on `val_texts` (float32, as the model computes them).
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}. Received: weighting={weighting!r}")
    vocabulary, frequencies = ngram_statistics(train_texts, order, max_tokens)
    vectorizer = make_ngram_vectorizer(vocabulary, order)
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    multi_label = y_train.ndim == 2
    candidates = {"auto": ["idf", "nb"] if num_classes == 2 and not multi_label else ["idf"]}.get(weighting,
                                                                                                 [weighting])
    kind = "one-vs-rest logistic regressions" if multi_label else "logistic regression"
    log(f"n-gram branch: {len(vocabulary)} {'words and word pairs' if order > 1 else 'words'}, "
        f"{' or '.join(candidates)} features; {kind}, C from {C_START:g} along {list(c_grid)}")
    fits, presence = {}, None
    weights_of_examples = label_weights if multi_label else sample_weights
    for name in candidates:
        if name == "idf":
            weights = idf_weights(frequencies, len(train_texts))
        elif name == "nb":
            if presence is None:
                presence = ngram_features(vectorizer, build_ngram_classifier(vectorizer.vocabulary_size(), 1),
                                          train_texts)
            weights = nb_weights(presence, y_train, num_classes)
        else:
            weights = None
        model = build_ngram_classifier(vectorizer.vocabulary_size(), num_classes, feature_weights=weights,
                                       multi_label=multi_label)
        x_train = ngram_features(vectorizer, model, train_texts)
        if presence is None:
            presence = x_train  # every weight is positive: the same nonzero pattern
        fits[name] = (model, *_fit_regression(x_train, y_train, ngram_features(vectorizer, model, val_texts), y_val,
                                              num_classes, c_grid, weights_of_examples, log))
    chosen = min(fits, key=lambda name: fits[name][2][fits[name][1][0]])
    model, best, losses = fits[chosen]
    model.get_layer("ngram_probabilities").set_weights([best[1], best[2]])
    summary = {"vocabulary_size": int(vectorizer.vocabulary_size()), "weighting": chosen, "C": best[0],
               "validation_log_loss": {str(c): loss for c, loss in losses.items()}}
    if len(fits) > 1:
        summary["weighting_validation_log_loss"] = {name: fits[name][2][fits[name][1][0]] for name in fits}
        log("n-gram branch: " + ", ".join(f"{name} features validation log loss {loss:.4f}"
                                          for name, loss in summary["weighting_validation_log_loss"].items())
            + f"; kept {chosen}")
    return vectorizer, model, summary, best[3]


def _fit_regression(x_train, y_train, x_val, y_val, num_classes, c_grid, weights, log):
    """Logistic regression along `c_grid` from `C_START`, up (or down) while validation log loss falls.

    Args:
        weights: Per-example weights (class indices), or per-label weights of
            the positives (a `(rows, labels)` 0/1 `y_train`), or None.

    Returns:
        `(best, losses)`: `best` is `(C, kernel, bias, val_probabilities)` of the
        C with the lowest loss; `losses` maps each C tried to its loss.
    """
    from sklearn import metrics

    grid = sorted(c_grid)
    fits = {}
    multi_label = np.ndim(y_train) == 2
    solve = _solve_one_vs_rest if multi_label else _solve_multinomial

    def fit(c):
        kernel, bias, probabilities = solve(x_train, y_train, x_val, num_classes, c, weights, log)
        loss = (log_loss(probabilities, y_val) if multi_label
                else float(metrics.log_loss(y_val, probabilities, labels=list(range(num_classes)))))
        fits[c] = (loss, kernel, bias, probabilities)
        return fits[c][0]

    start = grid.index(C_START) if C_START in grid else 0
    fit(grid[start])
    for direction in (1, -1):
        index = start + direction
        while 0 <= index < len(grid) and fit(grid[index]) < fits[grid[index - direction]][0]:
            index += direction
        if index > start + 1:
            break  # the walk up lowered the loss: no need to look down
    best = min(fits, key=lambda c: fits[c][0])
    loss, kernel, bias, probabilities = fits[best]
    return (best, kernel, bias, probabilities), {c: fits[c][0] for c in sorted(fits)}


def _logistic_regression(x, y, c, sample_weight, log):
    """scikit-learn's L-BFGS logistic regression at `C=c`; stopping at max_iter is one log line."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    regression = LogisticRegression(C=c, max_iter=1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        regression.fit(x, y, sample_weight=sample_weight)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        # The iterate is still a good model; say so in one line rather than a warning block.
        log(f"n-gram branch: logistic regression with C={c:g} stopped at {regression.max_iter} iterations")
    return regression


def _solve_multinomial(x_train, y_train, x_val, num_classes, c, sample_weights, log):
    """`(kernel, bias, val_probabilities)` of one multinomial regression."""
    regression = _logistic_regression(x_train, y_train, c, sample_weights, log)
    kernel, bias = _dense_weights(regression, x_train.shape[1], num_classes)
    return kernel, bias, _softmax(x_val @ kernel + bias).astype(np.float32)


def _solve_one_vs_rest(x_train, y_train, x_val, num_classes, c, label_weights, log):
    """`(kernel, bias, val_probabilities)` of one binary regression per label (sigmoid outputs).

    A label without positives (or without negatives) in training gets zero
    weights and a bias of -30 (or +30): never (or always) predicted.
    """
    kernel = np.zeros((x_train.shape[1], num_classes), dtype=np.float32)
    bias = np.zeros(num_classes, dtype=np.float32)
    for label in range(num_classes):
        y = np.asarray(y_train[:, label]).astype(int)
        if y.min() == y.max():
            bias[label] = 30.0 if y[0] else -30.0
            continue
        weight = None if label_weights is None else np.where(y == 1, label_weights[label], 1.0)
        regression = _logistic_regression(x_train, y, c, weight, log)
        kernel[:, label], bias[label] = regression.coef_[0], regression.intercept_[0]
    return kernel, bias, _sigmoid(x_val @ kernel + bias).astype(np.float32)


def log_loss(probabilities, y):
    """Mean log loss: of the true class (class indices), or binary over every label (a 0/1 matrix)."""
    p, y = np.asarray(probabilities, dtype=np.float64), np.asarray(y)
    if y.ndim == 2:
        p = np.clip(p, 1e-7, 1.0 - 1e-7)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0))))


def _sigmoid(logits):
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def _softmax(logits):
    logits = np.asarray(logits, dtype=np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _dense_weights(regression, num_features, num_classes):
    """`(kernel, bias)` of a softmax `Dense` layer computing `regression.predict_proba`.

    A two-class regression has one coefficient row (the logit of its second
    class); classes absent from the training split get zero weights and a bias
    that makes them (practically) never predicted.
    """
    kernel = np.zeros((num_features, num_classes), dtype=np.float32)
    bias = np.full(num_classes, -30.0, dtype=np.float32)
    classes = regression.classes_.astype(int)
    if len(classes) == 2:
        kernel[:, classes[1]] = regression.coef_[0]
        bias[classes] = [0.0, regression.intercept_[0]]
    else:
        kernel[:, classes] = regression.coef_.T
        bias[classes] = regression.intercept_
    return kernel, bias


def ngram_features(vectorizer, model, texts, batch_size=1024):
    """The n-gram branch's input to its `Dense` layer, as a SciPy sparse matrix.

    Equal to what the model's multi-hot [-> weights] -> `UnitNormalization` layers
    compute (and to what the saved `NgramLogisticRegression` layer computes),
    without ever making a dense `(texts, vocabulary)` array.

    Returns:
        float32 `scipy.sparse.csr_matrix` of shape `(len(texts), vocabulary size)`.
    """
    import scipy.sparse
    import tensorflow as tf

    from textclf.layers import normalized_ngram_features

    weights = tf.constant(feature_weights(model))
    ids = make_ngram_vectorizer(vectorizer.get_vocabulary()[1:], max(ngram_widths(vectorizer)), output_mode="int",
                                name="ngram_ids")
    encode = tf.function(lambda texts: normalized_ngram_features(ids(texts), weights),
                         input_signature=[tf.TensorSpec([None], tf.string)])
    size = len(weights)
    parts = []
    for start in range(0, len(texts), batch_size):
        rows, columns, values = (t.numpy() for t in encode(tf.constant(list(texts[start : start + batch_size]),
                                                                        dtype=tf.string)))
        n = min(batch_size, len(texts) - start)
        parts.append(scipy.sparse.csr_matrix((values, (rows, columns)), shape=(n, size), dtype=np.float32))
    if not parts:
        return scipy.sparse.csr_matrix((0, size), dtype=np.float32)
    return scipy.sparse.vstack(parts, format="csr")


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
    from textclf.layers import NgramLogisticRegression

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


def mix(deep, wide, weight):
    """`weight * wide + (1 - weight) * deep` (works on NumPy arrays and tensors)."""
    return weight * wide + (1.0 - weight) * deep


def choose_weight(deep, wide, y):
    """The mixing weight that minimizes validation log loss (ties: the smaller weight).

    Args:
        deep: Validation probabilities of the recurrent model.
        wide: Validation probabilities of the n-gram model.
        y: Validation class indices, or a `(rows, labels)` 0/1 matrix (binary log loss per label).

    Returns:
        `(weight, losses)`: the weight in `WEIGHT_GRID` and the loss at each grid point.
    """
    losses = [log_loss(mix(deep, wide, weight), y) for weight in WEIGHT_GRID]
    return float(WEIGHT_GRID[int(np.argmin(losses))]), losses


def ngram_widths(vectorizer):
    """The n-gram widths an n-gram `TextVectorization` produces, e.g. `(1, 2)`."""
    ngrams = vectorizer.get_config().get("ngrams")
    if ngrams is None:
        return (1,)
    if isinstance(ngrams, int):
        return tuple(range(1, ngrams + 1))
    return tuple(int(n) for n in ngrams)
