"""Training end to end through the library API."""

import json
from pathlib import Path

import numpy as np

import pytest

from conftest import FAST_OPTIONS, make_texts, predict_with_plain_keras, write_csv


def test_overfit_then_reload(tmp_path, tiny_train):
    import textclf

    out = tmp_path / "model"
    clf = textclf.train(tiny_train, output=str(out), head="bigru", units=16, epochs=40, batch_size=16,
                        learning_rate=0.01, patience=40, dropout=0.0, embedding_dropout=0.0,
                        embedding_mode="finetune", validation_split=0.2, ensemble=2)
    from textclf.data import read_labeled

    data = read_labeled(tiny_train)
    assert (clf.predict(data.texts) == np.array(data.labels)).mean() >= 0.95
    assert list(clf.classes_) == ["animals", "food", "sports"]

    reloaded = textclf.load(out)
    np.testing.assert_allclose(clf.predict_proba(data.texts), reloaded.predict_proba(data.texts), atol=1e-6)
    # The saved model alone, in a fresh process, agrees with the library.
    there = predict_with_plain_keras(out / "model.keras", data.texts[:8])
    np.testing.assert_allclose(clf.predict_proba(data.texts[:8]), there, atol=1e-5)


def test_output_directory_contents(tmp_path, tiny_train, tiny_test):
    import textclf

    out = tmp_path / "run"
    textclf.train(tiny_train, test=str(tiny_test), output=str(out), **FAST_OPTIONS)
    assert sorted(p.name for p in out.iterdir()) == ["metadata.json", "model.keras", "reports"]
    assert sorted(p.name for p in (out / "reports").iterdir()) == [
        "calibration.json", "classification_report.json", "classification_report.txt", "confused_pairs.csv",
        "confusion_matrix.csv", "confusion_matrix.png", "data_summary.json", "errors.csv", "history.csv",
        "reliability_diagram.png", "report.html", "training_curves.png",
    ]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["schema_version"] == 1
    assert meta["labels"] == ["animals", "food", "sports"]
    assert meta["config"]["head"] == "bigru" and meta["config"]["units"] == 8
    assert meta["head"]["name"] == "bigru"
    assert meta["embeddings"]["source"] == "glove-6b-50d" and meta["embeddings"]["dim"] == 50
    assert meta["embeddings"]["token_coverage"] > 0.95
    assert meta["metrics"]["evaluated_on"].startswith("test")
    assert {"keras_version", "tensorflow_version", "textclf_version"} <= set(meta)
    cm = (out / "reports" / "confusion_matrix.csv").read_text().splitlines()
    assert cm[0].split(",")[1:] == ["animals", "food", "sports"]
    report = json.loads((out / "reports" / "classification_report.json").read_text())
    assert {"animals", "food", "sports", "accuracy", "macro avg", "weighted avg"} <= set(report)
    assert report["evaluated_on"].startswith("test")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary directories left behind"


def test_same_seed_same_metrics(tmp_path, tiny_train):
    import textclf

    runs = [textclf.train(tiny_train, output=str(tmp_path / f"r{i}"), seed=7, **FAST_OPTIONS) for i in range(2)]
    texts = [t for t, _ in make_texts(20, seed=9)]
    np.testing.assert_array_equal(runs[0].predict_proba(texts), runs[1].predict_proba(texts))
    assert runs[0].metadata["metrics"]["accuracy"] == runs[1].metadata["metrics"]["accuracy"]


def test_two_phase_unfreezes_embeddings(tmp_path, tiny_train):
    import textclf

    clf = textclf.train(tiny_train, output=str(tmp_path / "m"), **{**FAST_OPTIONS, "embedding_mode": "two-phase"})
    phases = clf.metadata["training"]["phases"]
    assert [p["embeddings"] for p in phases] == ["frozen", "finetune"]
    assert phases[1]["learning_rate"] == pytest.approx(phases[0]["learning_rate"] / 4)


def test_class_weight_and_explicit_validation(tmp_path):
    import textclf

    rows = make_texts(90, seed=4)
    rows += [(t, "animals") for t, y in make_texts(60, seed=5) if y == "animals"]
    train = write_csv(tmp_path / "train.tsv", rows, delimiter="\t")
    val = write_csv(tmp_path / "val.csv", make_texts(30, seed=6))
    clf = textclf.train(train, validation=str(val), output=str(tmp_path / "m"), class_weight="balanced",
                        **FAST_OPTIONS)
    assert clf.metadata["data"]["validation"] == str(val)
    assert clf.metadata["metrics"]["evaluated_on"].startswith("validation")


def test_replaces_previous_output_only_on_success(tmp_path, tiny_train):
    """A failed run leaves the previous model byte for byte; a successful one replaces it."""
    import textclf
    from textclf.errors import InputDataError

    out = tmp_path / "m"
    textclf.train(tiny_train, output=str(out), **FAST_OPTIONS)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = write_csv(tmp_path / "bad.csv", [("fine", "a"), ("  ", "b")])
    with pytest.raises(InputDataError, match=r"row 3, column 'text': text is empty"):
        textclf.train(bad, output=str(out), **FAST_OPTIONS)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    textclf.train(tiny_train, output=str(out), seed=7, **FAST_OPTIONS)
    assert json.loads((out / "metadata.json").read_text())["config"]["seed"] == 7
