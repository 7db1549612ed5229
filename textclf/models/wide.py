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
weight chosen on the validation split (`mixing.choose_weight`). The saved model
holds the fitted branch as `ngram_branch` layers: n-gram ids, then the same
regression computed on each text's distinct n-grams (`NgramLogisticRegression`).

The branch lives in four modules, one concern each:

    ngram_features   vocabulary and document frequencies, idf and nb weights, sparse inputs
    ngram_layers     the vectorizer, the classifier it is fitted as, the saved model's layers
    ngram_fit        scikit-learn's regressions (the task's activation picks which), C and weighting
    mixing           the mix with the recurrent model and its weight

This module holds the options every stage shares (the CLI and `TrainConfig` import them without TensorFlow).
"""

from __future__ import annotations

WIDE_CHOICES = ("none", "unigrams", "bigrams")
WEIGHTINGS = ("auto", "idf", "nb", "binary")
NGRAM_ORDER = {"unigrams": 1, "bigrams": 2}
