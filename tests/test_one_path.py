"""One prediction path: the saved graph, predict_proba, `textclf predict`, the SavedModel and the test
metrics training reports agree."""

import csv
import json

import numpy as np
import pytest

from conftest import FAST_OPTIONS, make_texts, write_csv
from textclf.models import HEADS

ALL_HEADS = ",".join(sorted(HEADS))
# Every head alone without the n-gram branch, and in an ensemble of every head; the n-gram branch with one
# model and with an ensemble.
CASES = ([(head, "none", 1) for head in sorted(HEADS)]
         + [(sorted(HEADS)[0], "bigrams", 1), ("bigru,cnn", "none", 2), (ALL_HEADS, "bigrams", len(HEADS))])


def cli(*argv):
    from textclf.cli import main

    return main([str(a) for a in argv])


@pytest.mark.parametrize("head,wide,members", CASES, ids=[f"{h}-{w}-{m}" for h, w, m in CASES])
def test_every_consumer_computes_the_saved_graph(head, wide, members, tmp_path):
    import keras
    import tensorflow as tf

    import textclf

    train = write_csv(tmp_path / "train.csv", make_texts(90, seed=1))
    rows = make_texts(24, seed=2) + [("Cheese, the DOG and golf!!", "food"), ("zzzz unknown words only", "sports")]
    rows[3] = (" ".join(text for text, _ in rows[:12]), rows[3][1])  # one long text: batches of different widths
    test = write_csv(tmp_path / "test.csv", rows)
    texts, labels = [t for t, _ in rows], np.array([y for _, y in rows], dtype=object)
    options = {**FAST_OPTIONS, "epochs": 1, "units": 4, "head": head, "wide": wide, "ensemble": members}
    textclf.train(str(train), test=str(test), output=str(tmp_path / "model"), **options)

    graph = keras.saving.load_model(tmp_path / "model" / "model.keras", safe_mode=True)
    expected = graph.predict(texts, batch_size=5, verbose=0)
    classifier = textclf.load(tmp_path / "model")
    np.testing.assert_allclose(classifier.predict_proba(texts, batch_size=7), expected, atol=1e-5)

    assert cli("predict", "--model", tmp_path / "model", "--input", test, "--output", tmp_path / "out.csv", "--probabilities",
               "--batch-size", "3", "--quiet") == 0
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as handle:
        out = list(csv.DictReader(handle))
    written = np.array([[float(row[f"proba_{label}"]) for label in classifier.classes_] for row in out])
    np.testing.assert_allclose(written, expected, atol=1e-5)  # (written with 6 decimals)

    assert cli("export", "--model", tmp_path / "model", "--saved-model", tmp_path / "exported") == 0
    served = tf.saved_model.load(str(tmp_path / "exported")).signatures["serve"](tf.constant(texts))
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)

    metrics = json.loads((tmp_path / "model" / "metadata.json").read_text())["fitted"]["metrics"]
    predicted = classifier.classes_[expected.argmax(axis=1)]
    assert metrics["accuracy"] == pytest.approx(float(np.mean(predicted == labels)), abs=1e-5)
    names = {layer.name for layer in graph.layers}
    assert ("ngram_classifier" in names) == (wide != "none" and classifier.metadata["fitted"]["ngram"].get("weight", 0) > 0)
