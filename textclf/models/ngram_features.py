"""The n-gram branch's features: vocabulary and document frequencies, idf and naive-Bayes weights, sparse inputs.

Overview of the branch: `textclf.models.wide`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from textclf.models.ngram_layers import feature_weights, make_ngram_vectorizer, ngram_widths


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

    from textclf.text.tokenize import glove_standardize

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



def nb_weights(presence, contrasts, alpha=1.0, floor=1e-3):
    """Naive-Bayes log-count ratio magnitudes of each feature (NBSVM's `r`), as positive weights.

    Args:
        presence: `(texts, features)` SciPy sparse matrix, nonzero where a text holds the n-gram.
        contrasts: Boolean masks `(texts,)` of the texts inside each one-vs-rest
            split (`Task.one_vs_rest`); with several, each feature's largest ratio is kept.
        alpha: Add-alpha smoothing of the counts.
        floor: Smallest weight (features with a ratio of 0 still keep a trace,
            as the scaling layer needs positive weights).

    Returns:
        float32 array `(features,)` of weights >= `floor`.
    """
    presence = (presence != 0).astype(np.float64).tocsr()
    ratios = np.zeros(presence.shape[1])
    for members in contrasts:
        members = np.asarray(members, dtype=bool)
        inside = np.asarray(presence[members].sum(axis=0)).ravel() + alpha
        outside = np.asarray(presence[~members].sum(axis=0)).ravel() + alpha
        ratios = np.maximum(ratios, np.abs(np.log((inside / inside.sum()) / (outside / outside.sum()))))
    return np.maximum(ratios, floor).astype(np.float32)



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

    from textclf.models.layers import normalized_ngram_features

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

