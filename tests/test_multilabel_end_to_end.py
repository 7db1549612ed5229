"""Multi-label models end to end: training (every head), thresholds, reports, predict, evaluate, export, info."""

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from conftest import FAST_OPTIONS, FILLER, TOPIC_WORDS, predict_with_plain_keras, run_python, write_csv
from textclf.models import HEADS

LABELS = sorted(TOPIC_WORDS)


def make_multilabel_texts(n, seed=0):
    """`n` (text, "a|b") rows: every row holds one topic's words, every fourth row a second topic's too."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        chosen = [LABELS[i % 3]]
        if i % 4 == 0 and LABELS[(i + 1) % 3] not in chosen:
            chosen.append(LABELS[(i + 1) % 3])
        words = rng.choices(FILLER, k=rng.randint(2, 5))
        for label in chosen:
            words += rng.choices(TOPIC_WORDS[label], k=rng.randint(1, 2))
        rng.shuffle(words)
        rows.append((" ".join(words) + ".", "|".join(sorted(chosen))))
    return rows


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "textclf", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def multilabel_model(tmp_path_factory):
    """A tiny multi-label model (FAST_OPTIONS, test file given) trained once for this module. Read-only."""
    import textclf

    root = tmp_path_factory.mktemp("multilabel")
    train = write_csv(root / "train.csv", make_multilabel_texts(150, seed=1))
    test = write_csv(root / "test.csv", make_multilabel_texts(40, seed=2))
    classifier = textclf.train(str(train), test=str(test), output=str(root / "model"), multi_label=True,
                               **FAST_OPTIONS)
    return root, classifier


TEXTS = ["the cat and the dog", "pizza and tennis today", "i see a golf ball"]


def test_training_records_multilabel_choices(multilabel_model):
    root, classifier = multilabel_model
    metadata = json.loads((root / "model" / "metadata.json").read_text())
    assert metadata["requested"]["multi_label"] is True and metadata["requested"]["label_separator"] == "|"
    assert metadata["task"]["name"] == "multi_label" and metadata["task"]["separator"] == "|"
    thresholds = metadata["task"]["thresholds"]
    assert list(thresholds) == LABELS and all(0.05 <= t <= 0.95 for t in thresholds.values())
    assert metadata["task"]["at_least_one"] is False
    metrics = metadata["fitted"]["metrics"]
    assert metrics["evaluated_on"].startswith("test") and metrics["micro_f1"] > 0.5, metrics
    for name in ("macro_f1", "weighted_f1", "samples_f1", "subset_accuracy", "hamming_loss", "validation_macro_f1"):
        assert 0.0 <= metrics[name] <= 1.0
    probabilities = classifier.predict_proba(TEXTS)
    assert probabilities.shape == (3, 3) and not np.allclose(probabilities.sum(axis=1), 1.0)


def test_predict_applies_the_stored_thresholds(multilabel_model):
    _, classifier = multilabel_model
    probabilities = classifier.predict_proba(TEXTS)
    expected = [tuple(label for label, p, t in zip(LABELS, row, classifier.thresholds) if p >= t)
                for row in probabilities]
    assert classifier.predict(TEXTS) == expected
    assert classifier.predict(TEXTS, threshold=1.0) == [(), (), ()]
    forced = classifier.predict(TEXTS, threshold=1.0, at_least_one=True)
    assert forced == [(LABELS[int(np.argmax(row))],) for row in probabilities]


def test_round_trip_in_a_fresh_process_and_plain_keras(multilabel_model):
    root, classifier = multilabel_model
    code = (f"import json, textclf\nc = textclf.load({str(root / 'model')!r})\n"
            f"print(json.dumps([c.multi_label, [list(s) for s in c.predict({TEXTS!r})], "
            f"c.predict_proba({TEXTS!r}).tolist()]))")
    multi, predicted, probabilities = json.loads(run_python(code).strip().splitlines()[-1])
    assert multi is True
    assert predicted == [list(s) for s in classifier.predict(TEXTS)]
    np.testing.assert_allclose(probabilities, classifier.predict_proba(TEXTS), atol=1e-6)
    plain = predict_with_plain_keras(root / "model" / "model.keras", TEXTS)
    np.testing.assert_allclose(plain, classifier.predict_proba(TEXTS), atol=1e-5)


def test_reports_are_the_multilabel_ones(multilabel_model):
    import pandas as pd

    root, _ = multilabel_model
    reports = root / "model" / "reports"
    for name in ("classification_report.json", "classification_report.txt", "multilabel_confusion.csv",
                 "multilabel_confusion.png", "label_cooccurrence.csv", "label_cooccurrence.png", "errors.csv",
                 "report.html", "history.csv", "training_curves.png", "reliability_diagram.png"):
        assert (reports / name).is_file(), name
    confusion = pd.read_csv(reports / "multilabel_confusion.csv")
    assert list(confusion["label"]) == LABELS
    assert (confusion.drop(columns="label").sum(axis=1) == 40).all()  # every test row counted once per label
    truth = pd.read_csv(root / "test.csv")["label"]
    support = json.loads((reports / "classification_report.json").read_text())
    assert {label: support[label]["support"] for label in LABELS} == {
        label: int(truth.str.split("|").apply(lambda names, x=label: x in names).sum()) for label in LABELS}
    errors = pd.read_csv(reports / "errors.csv", keep_default_na=False)
    assert list(errors.columns) == ["text", "true_labels", "predicted_labels", "confidence"]
    assert (errors["true_labels"] != errors["predicted_labels"]).all()
    assert "Per-label confusion" in (reports / "report.html").read_text()


def test_write_multilabel_reports_metrics(tmp_path):
    from sklearn.metrics import f1_score, hamming_loss

    from textclf.evaluation.reports import write_reports
    from textclf.tasks.multi_label import MultiLabel

    task = MultiLabel(["a", "b", "c"])
    y_true = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0]])
    y_pred = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1], [1, 1, 0]])
    probabilities = np.array([[0.9, 0.1, 0.2], [0.8, 0.4, 0.1], [0.1, 0.2, 0.7], [0.6, 0.9, 0.1]])
    metrics = write_reports(tmp_path, task, y_true, y_pred, probabilities, evaluated_on="unit",
                            texts=["w", "x", "y", "z"])
    assert metrics["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert metrics["samples_f1"] == pytest.approx(f1_score(y_true, y_pred, average="samples"))
    assert metrics["hamming_loss"] == pytest.approx(hamming_loss(y_true, y_pred))
    assert metrics["subset_accuracy"] == pytest.approx(0.5)
    errors = (tmp_path / "errors.csv").read_text().splitlines()
    assert errors[1:] == ["z,b,a|b,0.600000", "x,a|b,a,0.600000"] or errors[1:] == ["x,a|b,a,0.600000",
                                                                                    "z,b,a|b,0.600000"]
    np.testing.assert_allclose(task.confidence(probabilities, y_pred), [0.8, 0.6, 0.7, 0.6])
    cooccurrence = (tmp_path / "label_cooccurrence.csv").read_text().splitlines()
    assert cooccurrence[1:3] == ["a,2,1,0", "b,1,2,0"]


def test_cli_predict_evaluate_info_export(multilabel_model, tmp_path):
    import pandas as pd
    import tensorflow as tf

    root, classifier = multilabel_model
    model = root / "model"
    write_csv(tmp_path / "in.csv", [(text,) for text in TEXTS], header=("text",))
    result = _cli("predict", "--input", tmp_path / "in.csv", "--model", model, "-o", tmp_path / "out.csv", "--probabilities",
                  "--top-k", "2", "-q")
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert list(out.columns) == ["text", "predicted_labels"] + [f"proba_{label}" for label in LABELS] + [
        "top1_label", "top1_proba", "top2_label", "top2_proba"]
    assert list(out["predicted_labels"]) == ["|".join(s) for s in classifier.predict(TEXTS)]
    result = _cli("predict", "--input", tmp_path / "in.csv", "--model", model, "-o", tmp_path / "none.csv", "--threshold", "1",
                  "-q")
    assert result.returncode == 0 and set(pd.read_csv(tmp_path / "none.csv", keep_default_na=False)
                                          ["predicted_labels"]) == {""}
    result = _cli("evaluate", "--input", root / "test.csv", "--model", model, "--output", tmp_path / "reports", "-q")
    assert result.returncode == 0, result.stderr
    assert "micro F1" in result.stdout and (tmp_path / "reports" / "multilabel_confusion.csv").is_file()
    result = _cli("compare", tmp_path / "reports", model, "--output", tmp_path / "compare.html")
    assert result.returncode == 0, result.stderr
    assert "subset accuracy" in (tmp_path / "compare.html").read_text()
    info = _cli("info", "--model", model)
    assert "multi-label" in info.stdout and "decision thresholds" in info.stdout
    result = _cli("export", "--model", model, "--output", tmp_path / "saved")
    assert result.returncode == 0, result.stderr
    serve = tf.saved_model.load(str(tmp_path / "saved")).signatures["serve"]
    outputs = serve(tf.constant(TEXTS))
    assert [v.decode() for v in outputs["labels"].numpy()] == ["|".join(s) for s in classifier.predict(TEXTS)]
    np.testing.assert_allclose(outputs["probabilities"].numpy(), classifier.predict_proba(TEXTS), atol=1e-5)


@pytest.mark.parametrize("head", sorted(HEADS) + ["bigru,cnn"])
def test_every_head_trains_multilabel(head, tmp_path):
    import textclf

    train = write_csv(tmp_path / "train.csv", make_multilabel_texts(90, seed=4))
    options = {**FAST_OPTIONS, "epochs": 1, "wide": "none"}
    if head == "bigru,cnn":
        options.update(ensemble=2, class_weight="balanced")
    classifier = textclf.train(str(train), output=str(tmp_path / "m"), multi_label=True, head=head, **options)
    probabilities = classifier.predict_proba(TEXTS)
    assert probabilities.shape == (3, 3) and ((probabilities >= 0) & (probabilities <= 1)).all()
    probabilities_layer = classifier.model.get_layer("classifier")
    assert any(getattr(layer, "activation", None) is not None and layer.activation.__name__ == "sigmoid"
               for layer in _all_layers(probabilities_layer))
    assert len(classifier.metadata["task"]["thresholds"]) == 3


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def test_ngram_layer_sigmoid_round_trips():
    import keras

    from textclf.models.layers import NgramLogisticRegression

    layer = NgramLogisticRegression(6, 2, activation="sigmoid", name="scores")
    layer.build((None, None))
    layer.kernel.assign(np.arange(12, dtype=np.float32).reshape(6, 2) / 10)
    ids = np.array([[2, 3, 0], [4, 0, 0]], dtype=np.int64)
    out = np.asarray(layer(ids))
    assert not np.allclose(out.sum(axis=1), 1.0)
    copy = NgramLogisticRegression.from_config(layer.get_config())
    copy.build((None, None))
    copy.set_weights(layer.get_weights())
    assert copy.activation == "sigmoid"
    np.testing.assert_allclose(np.asarray(copy(ids)), out, atol=1e-6)
    with pytest.raises(ValueError, match="activation"):
        NgramLogisticRegression(6, 2, activation="relu")
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer)).activation == "sigmoid"


def _read(tmp_path, rows, **options):
    from textclf.config import TrainConfig
    from textclf.training.prepare import read_tables

    lines = []
    config = TrainConfig(train=str(write_csv(tmp_path / "t.csv", rows)), **options).validate()
    return read_tables(config, lines.append), lines


def test_label_format_notes(tmp_path):
    joined = [(f"text {i}", "a|b" if i % 2 else "a") for i in range(10)]
    tables, lines = _read(tmp_path, joined)
    assert tables.labels == ["a", "a|b"] and len(lines) == 1 and "--multi-label" in lines[0]
    tables, lines = _read(tmp_path, joined, multi_label=True)
    assert tables.labels == ["a", "b"] and tables.train.labels[1] == ("a", "b") and not lines
    tables, lines = _read(tmp_path, [(f"text {i}", "ab"[i % 2]) for i in range(10)], multi_label=True)
    assert len(lines) == 1 and "single-label data" in lines[0]


@pytest.mark.parametrize("cell, message", [("", "label is empty"), ("a||b", "empty label between separators"),
                                           ("a|", "empty label between separators")])
def test_bad_label_cells_fail_in_one_line(tmp_path, cell, message):
    rows = make_multilabel_texts(20) + [("one more text", cell)]
    write_csv(tmp_path / "bad.csv", rows)
    result = _cli("train", "--input", tmp_path / "bad.csv", "--multi-label", "--output", tmp_path / "m")
    assert result.returncode == 2
    assert message in result.stderr and "row 22" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_evaluation_refuses_labels_the_model_never_saw(multilabel_model, tmp_path):
    root, _ = multilabel_model
    write_csv(tmp_path / "eval.csv", [("the cat", "animals"), ("the car", "animals|vehicles")])
    result = _cli("evaluate", "--input", tmp_path / "eval.csv", "--model", root / "model", "--output", tmp_path / "r")
    assert result.returncode == 2 and "'vehicles' is not one of the model's 3 labels" in result.stderr
    assert "row 3" in result.stderr and not (tmp_path / "r").exists()


def test_threshold_options_are_refused_for_single_label_models(trained_model_dir, tmp_path):
    write_csv(tmp_path / "in.csv", [("a cat",)], header=("text",))
    result = _cli("predict", "--input", tmp_path / "in.csv", "--model", trained_model_dir, "-o", tmp_path / "o.csv",
                  "--threshold", "0.3")
    assert result.returncode == 2 and "multi-label" in result.stderr and not (tmp_path / "o.csv").exists()


def test_weighted_binary_crossentropy():
    import keras

    from textclf.training.losses import WeightedBinaryCrossentropy

    y_true = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    y_pred = np.array([[0.8, 0.3], [0.4, 0.6]], dtype=np.float32)
    plain = float(keras.losses.BinaryCrossentropy()(y_true, y_pred))
    assert float(WeightedBinaryCrossentropy([1.0, 1.0])(y_true, y_pred)) == pytest.approx(plain, rel=1e-5)
    expected = -np.mean([[3 * np.log(0.8), np.log(0.7)], [np.log(0.6), 3 * np.log(0.6)]])
    assert float(WeightedBinaryCrossentropy([3.0, 3.0])(y_true, y_pred)) == pytest.approx(expected, rel=1e-5)
    config = WeightedBinaryCrossentropy([2.0, 1.0]).get_config()
    assert WeightedBinaryCrossentropy.from_config(config).positive_weights == [2.0, 1.0]


GOEMOTIONS_MACRO_F1_FLOOR = 0.30  # measured 0.3358 (test macro-F1, 157 s on a shared 2-core machine)


@pytest.mark.slow
def test_goemotions_subset_reaches_its_floor(tmp_path):
    """4,000 training rows of GoEmotions, the official validation and test splits, one member (a few minutes)."""
    import pandas as pd

    import textclf
    from conftest import SHARED_DATA

    data = SHARED_DATA / "goemotions"
    train = pd.read_csv(data / "train.csv.gz", dtype=str, keep_default_na=False).iloc[:4000]
    train.to_csv(tmp_path / "train.csv", index=False)
    classifier = textclf.train(str(tmp_path / "train.csv"), validation=str(data / "validation.csv.gz"),
                               test=str(data / "test.csv.gz"), label_column="labels", multi_label=True, ensemble=1,
                               output=str(tmp_path / "model"))
    metrics = classifier.metadata["fitted"]["metrics"]
    assert metrics["evaluated_on"].startswith("test")
    assert metrics["macro_f1"] >= GOEMOTIONS_MACRO_F1_FLOOR, metrics


def test_a_tuned_mean_of_multi_label_trials_fits_its_own_thresholds_and_reports(tmp_path):
    """`textclf tune`'s averaged model (textclf.tuning.ensemble) on several labels per text: the thresholds are
    chosen again on the mean's validation probabilities, and the reports are the multi-label ones."""
    import textclf
    from textclf.config import TrainConfig
    from textclf.tuning.ensemble import validation_rows, write_ensemble

    pytest.importorskip("optuna")
    train = write_csv(tmp_path / "train.csv", make_multilabel_texts(150, seed=1))
    test = write_csv(tmp_path / "test.csv", make_multilabel_texts(40, seed=2))
    options = {**FAST_OPTIONS, "multi_label": True}
    for name, member_seed in (("a", None), ("b", 45)):
        textclf.train(str(train), output=str(tmp_path / name), member_seed=member_seed, **options)
    validation = validation_rows(TrainConfig(train=str(train), test=str(test), **options))
    (tmp_path / "mean").mkdir()
    write_ensemble(tmp_path / "mean", {0: 1, 1: 1}, {0: tmp_path / "a", 1: tmp_path / "b"}, validation,
                   {0: "a", 1: "b"}, str(test))
    kept = textclf.load(tmp_path / "mean")
    a, b = textclf.load(tmp_path / "a"), textclf.load(tmp_path / "b")
    mean = (a.predict_proba(TEXTS) + b.predict_proba(TEXTS)) / 2
    np.testing.assert_allclose(kept.predict_proba(TEXTS), mean, atol=1e-5)
    thresholds = kept.metadata["task"]["thresholds"]
    assert sorted(thresholds) == LABELS and all(0.0 < t < 1.0 for t in thresholds.values())
    assert kept.metadata["fitted"].get("thresholds", thresholds) == thresholds  # one set, wherever it is kept
    decided = kept.task.decide(mean)
    assert [tuple(labels) for labels in kept.predict(TEXTS)] == [
        tuple(label for label, on in zip(LABELS, row) if on) for row in decided]
    metrics = kept.metadata["fitted"]["metrics"]
    assert {"micro_f1", "macro_f1", "validation_micro_f1"} <= set(metrics)
    assert (tmp_path / "mean" / "reports" / "report.html").is_file()
