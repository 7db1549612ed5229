"""The n-gram (wide) branch: vocabulary, mixing weight, and its place in saved models."""

import json

import numpy as np
import pytest

from conftest import FAST_OPTIONS, make_texts
from textclf.models.mixing import WEIGHT_GRID, choose_weight, mix
from textclf.models.ngram_features import ngram_vocabulary
from textclf.tasks.single_label import SingleLabel


def test_ngram_vocabulary_counts_texts_and_breaks_ties_alphabetically():
    texts = ["b a a", "a b", "c d", "d c"]
    vocab = ngram_vocabulary(texts, order=2, max_tokens=100, min_count=2)
    # "a" and "b" are in 2 texts, as are "c" and "d"; "a a" or "b a" only in one.
    assert vocab == ["a", "b", "c", "d"]
    assert ngram_vocabulary(texts, order=2, max_tokens=3, min_count=1) == ["a", "b"]
    assert "do n't" in ngram_vocabulary(["I don't know", "we don't care"], order=2, max_tokens=50)


def test_choose_weight_prefers_the_better_model():
    y = np.array([0, 1, 0, 1])
    good = np.eye(2, dtype=np.float32)[y] * 0.9 + 0.05
    bad = np.full((4, 2), 0.5, dtype=np.float32)
    loss = SingleLabel(["a", "b"]).log_loss
    assert choose_weight(good, bad, y, loss)[0] == 0.0
    assert choose_weight(bad, good, y, loss)[0] == 1.0
    weight, losses = choose_weight(good, good, y, loss)
    assert weight == 0.0 and len(losses) == len(WEIGHT_GRID)  # ties: the smaller weight
    np.testing.assert_allclose(mix(good, bad, 0.25), 0.75 * good + 0.25 * bad)


@pytest.fixture(scope="module")
def wide_model(trained_model_dir):
    import textclf

    return trained_model_dir, textclf.load(trained_model_dir)


def test_metadata_and_layers(wide_model):
    out, clf = wide_model
    meta = json.loads((out / "metadata.json").read_text())
    wide = meta["fitted"]["ngram"]
    assert wide["mode"] == "bigrams" and 0 <= wide["weight"] <= 1
    assert set(wide["validation_accuracy"]) == {"recurrent", "ngram", "mixed"}
    names = {layer.name for layer in clf.model.layers}
    assert ("ngram_classifier" in names) == (wide["weight"] > 0)


@pytest.fixture(scope="module")
def mixed_model(wide_model, tmp_path_factory):
    """A model directory whose n-gram branch has weight 0.5, whatever the tiny data chose, and that branch."""
    from textclf.inference.classifier import TextClassifier
    from textclf.models.build import CLASSIFIER_NAME, build_end_to_end
    from textclf.models.ngram_layers import build_ngram_classifier, make_ngram_vectorizer

    out, clf = wide_model
    texts = [t for t, _ in make_texts(60, seed=13)]
    vectorizer = make_ngram_vectorizer(ngram_vocabulary(texts, 2, 500), 2)
    ngram_model = build_ngram_classifier(vectorizer.vocabulary_size(), len(clf.classes_))
    model = build_end_to_end(clf.model.get_layer(CLASSIFIER_NAME), clf.vocabulary, clf.max_length,
                             wide=(vectorizer, ngram_model, 0.5))
    fitted = clf.metadata["fitted"]
    metadata = {**clf.metadata, "fitted": {**fitted, "ngram": {**fitted["ngram"], "weight": 0.5, "kept": True}}}
    directory = tmp_path_factory.mktemp("mixed")
    TextClassifier(model, metadata).save(directory)
    return directory, vectorizer, ngram_model


@pytest.fixture(scope="module")
def mixed_model_dir(mixed_model):
    return mixed_model[0]


def test_library_and_saved_model_agree(wide_model, mixed_model):
    import tensorflow as tf

    import textclf
    from textclf.models.build import CLASSIFIER_NAME
    from textclf.text.pipeline import SortedBatches

    out, clf = wide_model
    mixed_model_dir, vectorizer, ngram_model = mixed_model
    texts = [t for t, _ in make_texts(12, seed=12)] + ["?!", "zzzz unknown words only"]  # no token; no known token
    for directory in (out, mixed_model_dir):
        reloaded = textclf.load(directory)
        np.testing.assert_allclose(reloaded.model.predict(texts, verbose=0), reloaded.predict_proba(texts), atol=1e-5)
    np.testing.assert_allclose(clf.predict_proba(texts), textclf.load(out).predict_proba(texts), atol=1e-6)
    # The saved graph mixes the recurrent model and the sparse n-gram layer as the fitted (dense) branch computes.
    mixed = textclf.load(mixed_model_dir)
    deep = SortedBatches(mixed.vectorize(texts)).predict(mixed.model.get_layer(CLASSIFIER_NAME))
    wide = ngram_model(vectorizer(tf.constant(texts)), training=False).numpy()
    np.testing.assert_allclose(mixed.predict_proba(texts), 0.5 * deep + 0.5 * wide, atol=1e-6)


def test_wide_none_leaves_no_ngram_layers(tmp_path, tiny_train):
    import textclf

    clf = textclf.train(tiny_train, output=str(tmp_path / "m"), wide="none", **FAST_OPTIONS)
    assert clf.metadata["fitted"]["ngram"] == {"mode": "none", "kept": False}
    assert not any(layer.name.startswith("ngram") for layer in clf.model.layers)


def test_the_weight_is_the_graphs_not_the_metadatas(mixed_model_dir, tmp_path):
    """metadata.json records the weight; the saved graph holds the one that counts."""
    import shutil

    import textclf

    copy = tmp_path / "copy"
    shutil.copytree(mixed_model_dir, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    del meta["fitted"]["ngram"]["weight"]
    (copy / "metadata.json").write_text(json.dumps(meta))
    texts = [t for t, _ in make_texts(6, seed=14)]
    np.testing.assert_array_equal(textclf.load(copy).predict_proba(texts),
                                  textclf.load(mixed_model_dir).predict_proba(texts))


def test_info_describes_the_branch(mixed_model_dir, capsys):
    from textclf.cli import main

    assert main(["info", "--model", str(mixed_model_dir)]) == 0
    out = capsys.readouterr().out
    assert "n-gram branch: bigrams" in out and "weight 0.5" in out and "mixed" in out


@pytest.mark.parametrize("order,weighting", [(1, "binary"), (2, "binary"), (1, "idf"), (2, "idf"), (2, "nb")])
def test_sparse_layer_equals_dense_multi_hot_model(order, weighting):
    """The saved model's sparse n-gram layer gives what the fitted dense multi-hot layers give."""
    import keras
    import tensorflow as tf

    from textclf.models.ngram_features import idf_weights, nb_weights, ngram_features, ngram_statistics
    from textclf.models.ngram_layers import build_ngram_classifier, make_ngram_vectorizer, ngram_branch
    from textclf.text.tokenize import glove_standardize

    rows = make_texts(80, seed=21)
    train = [t for t, _ in rows]
    vocabulary, frequencies = ngram_statistics(train, order, 300)
    vectorizer = make_ngram_vectorizer(vocabulary, order)
    keras.utils.set_random_seed(3)
    weights = {"binary": lambda: None, "idf": lambda: idf_weights(frequencies, len(train)),
               "nb": lambda: nb_weights(ngram_features(vectorizer, build_ngram_classifier(len(vocabulary) + 1, 1), train),
                                        [np.array([label == rows[0][1] for _, label in rows])])}[weighting]()
    model = build_ngram_classifier(vectorizer.vocabulary_size(), 3, feature_weights=weights)
    model.layers[-1].bias.assign([0.3, -0.2, 0.1])
    texts = [t for t, _ in make_texts(20, seed=22)] + [
        "", "zzzz unknown words only", "good good good good", " ".join(train[:5]), "\u200b\t"]
    expected = model(vectorizer(tf.constant(texts)), training=False).numpy()
    ids, scores = ngram_branch(vectorizer, model)
    np.testing.assert_allclose(scores(ids(glove_standardize(tf.constant(texts)))).numpy(), expected, atol=1e-6)


def test_ngram_branch_refuses_other_models():
    import keras

    from textclf.models.ngram_layers import make_ngram_vectorizer, ngram_branch

    vectorizer = make_ngram_vectorizer(["a", "b"], 1)
    inputs = keras.Input(shape=(3,))
    other = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    with pytest.raises(ValueError, match=r"UnitNormalization and Dense layers. Received: layers=\['Dense'\]"):
        ngram_branch(vectorizer, other)


def test_nb_weights_are_log_count_ratios():
    """NBSVM's |log((p / |p|) / (q / |q|))| with add-one counts; the largest one-vs-rest ratio with more classes."""
    import scipy.sparse

    from textclf.models.ngram_features import nb_weights

    presence = scipy.sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [0.5, 0, 2.0]]))
    y = np.array([0, 0, 1, 1])
    p, q = np.array([3.0, 2.0, 1.0]), np.array([3.0, 1.0, 3.0])  # add-one counts in class 0 and class 1
    expected = np.abs(np.log((p / p.sum()) / (q / q.sum())))
    two = SingleLabel(["0", "1"]).one_vs_rest(y)
    np.testing.assert_allclose(nb_weights(presence, two), np.maximum(expected, 1e-3), rtol=1e-6)
    y3 = np.array([0, 1, 2, 2])
    ratios = []
    for c in range(3):
        inside = np.asarray((presence[y3 == c] != 0).sum(axis=0)).ravel() + 1.0
        outside = np.asarray((presence[y3 != c] != 0).sum(axis=0)).ravel() + 1.0
        ratios.append(np.abs(np.log((inside / inside.sum()) / (outside / outside.sum()))))
    three = SingleLabel(["0", "1", "2"]).one_vs_rest(y3)
    np.testing.assert_allclose(nb_weights(presence, three), np.maximum(np.max(ratios, axis=0), 1e-3), rtol=1e-6)
    assert nb_weights(presence, two).min() > 0  # every weight positive: the scaling layer divides by it


@pytest.mark.parametrize("weighting,num_classes,tried", [
    ("auto", 2, {"idf", "nb"}), ("auto", 3, None), ("nb", 2, None), ("binary", 2, None)])
def test_weighting_choice(weighting, num_classes, tried):
    """auto fits idf and nb features on two classes and keeps the lower validation log loss; idf with more."""
    from textclf.models.ngram_fit import fit_ngram_classifier

    rows = make_texts(120, seed=33)
    texts = [t for t, _ in rows]
    y = np.array([int(label == rows[0][1]) for _, label in rows]) if num_classes == 2 else np.arange(120) % 3
    task = SingleLabel([str(c) for c in range(num_classes)])
    _, model, summary, _ = fit_ngram_classifier(texts[:90], y[:90], texts[90:], y[90:], task=task,
                                                order=2, max_tokens=500, weighting=weighting, log=lambda *_: None)
    losses = summary.get("weighting_validation_log_loss")
    if tried is None:
        assert losses is None
        assert summary["weighting"] == {"auto": "idf"}.get(weighting, weighting)
    else:
        assert set(losses) == tried and summary["weighting"] == min(losses, key=losses.get)
        assert summary["validation_log_loss"][str(summary["C"])] == losses[summary["weighting"]]
    assert [type(layer).__name__ for layer in model.layers[1:]][0] == (
        "UnitNormalization" if summary["weighting"] == "binary" else "Normalization")


def test_idf_weights_are_scikit_learns():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from textclf.models.ngram_features import idf_weights, ngram_statistics

    texts = ["a b c", "a b", "a", "b d", "d d a"]
    vocabulary, frequencies = ngram_statistics(texts, order=1, max_tokens=10, min_count=1)
    reference = TfidfVectorizer(token_pattern=r"\S+", smooth_idf=True).fit(texts)
    expected = [reference.idf_[reference.vocabulary_[word]] for word in vocabulary]
    np.testing.assert_allclose(idf_weights(frequencies, len(texts)), [1.0, *expected], rtol=1e-6)


def test_idf_layer_scales_and_survives_saving(tmp_path):
    import keras

    from textclf.models.ngram_layers import SCALE_LAYER_NAME, build_ngram_classifier

    idf = np.array([1.0, 2.0, 3.5], dtype=np.float32)
    model = build_ngram_classifier(3, 2, feature_weights=idf)
    scaled = keras.Model(model.inputs, model.get_layer(SCALE_LAYER_NAME).output)
    np.testing.assert_allclose(scaled(np.array([[1.0, 1.0, 0.0]], np.float32)).numpy(), [[1.0, 2.0, 0.0]], rtol=1e-6)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], np.float32)
    np.testing.assert_allclose(reloaded(x).numpy(), model(x).numpy(), atol=1e-7)
    with pytest.raises(ValueError, match="feature_weights must hold 3 positive weights"):
        build_ngram_classifier(3, 2, feature_weights=[1.0, 0.0, 2.0])


@pytest.mark.parametrize("num_classes", [2, 3])
def test_fitted_keras_branch_computes_the_regression(num_classes):
    """The coefficients copied into Keras give scikit-learn's probabilities; features match the dense layers."""
    import keras
    import tensorflow as tf
    from sklearn.linear_model import LogisticRegression

    from textclf.models.ngram_features import ngram_features
    from textclf.models.ngram_fit import C_GRID, fit_ngram_classifier

    rows = make_texts(120, seed=31)
    texts = [t for t, _ in rows]
    y = np.array([int(label == rows[0][1]) for _, label in rows]) if num_classes == 2 else np.arange(120) % 3
    # One more class than the labels hold: a class absent from the training split.
    vectorizer, model, summary, val_probabilities = fit_ngram_classifier(texts[:90], y[:90], texts[90:], y[90:],
                                                      task=SingleLabel([str(c) for c in range(num_classes + 1)]),
                                                      order=2, max_tokens=500,
                                                      log=lambda *_: None)
    assert summary["weighting"] == "idf" and summary["C"] in C_GRID
    features = ngram_features(vectorizer, model, texts)
    normalized = keras.Model(model.inputs, model.get_layer("ngram_l2_normalization").output)
    np.testing.assert_allclose(features.toarray(), normalized(vectorizer(tf.constant(texts))).numpy(), atol=1e-6)
    regression = LogisticRegression(C=summary["C"], max_iter=1000).fit(features[:90], y[:90])
    got = model(vectorizer(tf.constant(texts))).numpy()
    np.testing.assert_allclose(got[:, :num_classes], regression.predict_proba(features), atol=1e-5)
    assert got[:, num_classes].max() < 1e-9
    np.testing.assert_allclose(val_probabilities, got[90:], atol=1e-5)


@pytest.mark.parametrize("best,expected_tried", [
    (16.0, [4.0, 16.0, 64.0]),          # up from the start while the loss falls
    (4.0, [1.0, 4.0, 16.0]),            # the first step up does not help: down until the loss rises
    (1.0, [0.25, 1.0, 4.0, 16.0]),
    (0.25, [0.25, 1.0, 4.0, 16.0]),
    (4096.0, [4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0]),
])
def test_c_walks_from_the_start_towards_the_lowest_validation_loss(monkeypatch, best, expected_tried):
    """The C search on a loss that is convex in log C, minimal at `best`."""
    import math

    from textclf.models import ngram_fit

    tried = []

    def fake_log_loss(y, probabilities, labels):
        c = tried[-1]
        return (math.log(c) - math.log(best)) ** 2 + 0.1

    class FakeRegression:
        def __init__(self, C, max_iter):
            tried.append(C)
            self.max_iter = max_iter

        def fit(self, x, y, sample_weight=None):
            self.classes_ = np.array([0, 1])
            self.coef_, self.intercept_ = np.zeros((1, x.shape[1])), np.zeros(1)
            return self

    import sklearn.linear_model
    import sklearn.metrics

    monkeypatch.setattr(sklearn.linear_model, "LogisticRegression", FakeRegression)
    monkeypatch.setattr(sklearn.metrics, "log_loss", fake_log_loss)
    x = np.ones((4, 3), np.float32)
    solver = ngram_fit.Multinomial(SingleLabel(["a", "b"]), log=lambda *_: None)
    (c, *_), losses = ngram_fit._fit_regression(x, np.array([0, 1, 0, 1]), x, np.array([0, 1, 0, 1]), solver,
                                                ngram_fit.C_GRID)
    assert c == best and sorted(tried) == expected_tried and sorted(losses) == expected_tried
