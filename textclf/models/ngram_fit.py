"""Fitting the n-gram branch: scikit-learn's logistic regression, C and the feature weighting chosen on validation.

The task decides the regression through its output activation: a softmax is
one multinomial regression (`Multinomial`), sigmoids are one binary regression
per label (`OneVsRest`). The solved coefficients are copied into the branch's
`Dense` layer. Overview of the branch: `textclf.models.wide`.
"""

from __future__ import annotations

import numpy as np

from textclf.models.ngram_features import idf_weights, nb_weights, ngram_features, ngram_statistics
from textclf.models.ngram_layers import build_ngram_classifier, make_ngram_vectorizer
from textclf.models.wide import WEIGHTINGS

# Logistic regression's inverse L2 strengths. The search starts at C_START and
# walks the grid up, or down when the first step up does not help, until the
# validation log loss rises (it is about convex in log C): long documents and
# keyword-driven tasks (20 Newsgroups, SMS spam) want weak regularization,
# short phrases (SST-2) strong.
C_GRID = (0.25, 1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0)
C_START = 4.0


def fit_ngram_classifier(train_texts, y_train, val_texts, y_val, *, task, order, max_tokens, weighting="auto",
                         c_grid=C_GRID, sample_weights=None, label_weights=None, log=print):
    """Trains the wide branch: scikit-learn's logistic regression, its C chosen on validation log loss.

    C starts at `C_START` and walks `c_grid` up while the validation log loss
    falls, or down if the first step up does not lower it; the C with the
    lowest loss is kept. With `weighting="auto"` this is done for idf and, when
    one contrast separates the classes (two classes), nb features, and the
    weighting with the lower validation log loss is kept.

    The features are computed sparsely with the model's own tokenizer and
    vocabulary (`ngram_features`), the regression is solved to convergence by
    L-BFGS (deterministic), and its coefficients become the `Dense` layer of
    the Keras model, which computes the same function on raw strings.

    Args:
        train_texts, y_train: Training texts and their targets (`task.encode`).
        val_texts, y_val: Validation texts and targets, the same way (choose C and the weighting).
        task: The `textclf.tasks.Task`: the labels (outputs), the activation
            (which regression) and the one-vs-rest contrasts (nb weights).
        order: 1 for words, 2 for words and word pairs.
        max_tokens: N-gram vocabulary size.
        weighting: One of `WEIGHTINGS`.
        c_grid: Inverse regularization strengths tried.
        sample_weights: Optional per-example weights (`Task.sample_weights`).
        label_weights: Optional per-label weights of the positives (`Task.label_weights`).
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
    weigh = _FeatureWeights(vectorizer, train_texts, frequencies, task.one_vs_rest(y_train))
    candidates = weigh.candidates(weighting)
    solver = SOLVERS[task.activation](task, sample_weights=sample_weights, label_weights=label_weights, log=log)
    log(f"n-gram branch: {len(vocabulary)} {'words and word pairs' if order > 1 else 'words'}, "
        f"{' or '.join(candidates)} features; {solver.description}, C from {C_START:g} along {list(c_grid)}")
    fits = {}
    for name in candidates:
        model = build_ngram_classifier(vectorizer.vocabulary_size(), len(task.labels), feature_weights=weigh(name),
                                       activation=task.activation)
        x_train = ngram_features(vectorizer, model, train_texts)
        weigh.saw(x_train)
        fits[name] = (model, *_fit_regression(x_train, y_train, ngram_features(vectorizer, model, val_texts), y_val,
                                              solver, c_grid))
    return _keep_lowest(vectorizer, fits, log)


class _FeatureWeights:
    """The per-feature weights of each weighting, computed on the training texts (`weigh(name)`).

    nb weights need each text's n-gram presence: the features of the fit before
    (`saw`), else those of an unweighted classifier.
    """

    def __init__(self, vectorizer, texts, frequencies, contrasts):
        self.vectorizer, self.texts, self.frequencies, self.contrasts = vectorizer, texts, frequencies, contrasts
        self.presence = None

    def candidates(self, weighting):
        """The weightings `weighting` tries: "auto" is idf, and nb where one contrast separates the classes
        (NBSVM's setting; with several contrasts its largest ratio is only a heuristic)."""
        if weighting != "auto":
            return [weighting]
        return ["idf", "nb"] if len(self.contrasts) == 1 else ["idf"]

    def __call__(self, name):
        if name == "idf":
            return idf_weights(self.frequencies, len(self.texts))
        if name == "nb":
            if self.presence is None:
                self.presence = ngram_features(
                    self.vectorizer, build_ngram_classifier(self.vectorizer.vocabulary_size(), 1), self.texts)
            return nb_weights(self.presence, self.contrasts)
        return None

    def saw(self, features):
        """Keeps the training features of a fit as the presence matrix: every weight is positive, so they
        have its nonzero pattern."""
        if self.presence is None:
            self.presence = features


def _keep_lowest(vectorizer, fits, log):
    """`fit_ngram_classifier`'s result: the weighting of the lowest validation log loss, its coefficients set."""
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


def _fit_regression(x_train, y_train, x_val, y_val, solver, c_grid):
    """Logistic regression along `c_grid` from `C_START`, up (or down) while validation log loss falls.

    Args:
        solver: A `Multinomial` or `OneVsRest` (its `solve` and validation `loss`).

    Returns:
        `(best, losses)`: `best` is `(C, kernel, bias, val_probabilities)` of the
        C with the lowest loss; `losses` maps each C tried to its loss.
    """
    grid = sorted(c_grid)
    fits = {}

    def fit(c):
        kernel, bias, probabilities = solver.solve(x_train, y_train, x_val, c)
        fits[c] = (solver.loss(probabilities, y_val), kernel, bias, probabilities)
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


class Multinomial:
    """One multinomial regression (softmax outputs), each example weighted by `sample_weights`.

    Args:
        task: The task (its labels are the outputs).
        sample_weights: Per-example weights, or None; label_weights: unused (a softmax has no per-label positives).
        log: Progress lines.
    """

    description = "logistic regression"

    def __init__(self, task, *, sample_weights=None, label_weights=None, log=print):
        self.num_classes, self.weights, self.log = len(task.labels), sample_weights, log

    def solve(self, x_train, y_train, x_val, c):
        """`(kernel, bias, val_probabilities)` at `C=c`."""
        regression = _logistic_regression(x_train, y_train, c, self.weights, self.log)
        kernel, bias = _dense_weights(regression, x_train.shape[1], self.num_classes)
        return kernel, bias, _softmax(x_val @ kernel + bias).astype(np.float32)

    def loss(self, probabilities, y):
        """scikit-learn's log loss over every class (classes absent from `y` included)."""
        from sklearn import metrics

        return float(metrics.log_loss(y, probabilities, labels=list(range(self.num_classes))))


class OneVsRest:
    """One binary regression per label (sigmoid outputs), each label's positives weighted by `label_weights`.

    Args:
        task: The task (its labels are the outputs, its `log_loss` the mean binary log loss).
        sample_weights: Unused (weights come per label); label_weights: Per-label weights of the positives, or None.
        log: Progress lines.
    """

    description = "one-vs-rest logistic regressions"

    def __init__(self, task, *, sample_weights=None, label_weights=None, log=print):
        self.num_classes, self.weights, self.log, self.loss = len(task.labels), label_weights, log, task.log_loss

    def solve(self, x_train, y_train, x_val, c):
        """`(kernel, bias, val_probabilities)` at `C=c`.

        A label without positives (or without negatives) in training gets zero
        weights and a bias of -30 (or +30): never (or always) predicted.
        """
        kernel = np.zeros((x_train.shape[1], self.num_classes), dtype=np.float32)
        bias = np.zeros(self.num_classes, dtype=np.float32)
        for label in range(self.num_classes):
            y = np.asarray(y_train[:, label]).astype(int)
            if y.min() == y.max():
                bias[label] = 30.0 if y[0] else -30.0
                continue
            weight = None if self.weights is None else np.where(y == 1, self.weights[label], 1.0)
            regression = _logistic_regression(x_train, y, c, weight, self.log)
            kernel[:, label], bias[label] = regression.coef_[0], regression.intercept_[0]
        return kernel, bias, _sigmoid(x_val @ kernel + bias).astype(np.float32)


# The regression of each output activation (`Task.activation`).
SOLVERS = {"softmax": Multinomial, "sigmoid": OneVsRest}


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

