"""Shared fixtures: tiny synthetic data the tests write themselves."""

import csv
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Three classes, each signalled by its own everyday words (all in glove.6B).
TOPIC_WORDS = {
    "animals": ["dog", "cat", "horse", "bird", "fish", "cow", "lion", "tiger", "mouse", "rabbit"],
    "food": ["bread", "cheese", "apple", "soup", "rice", "pasta", "cake", "salad", "pizza", "butter"],
    "sports": ["football", "tennis", "golf", "hockey", "soccer", "rugby", "boxing", "cricket", "baseball", "skiing"],
}
FILLER = ["the", "a", "i", "like", "my", "see", "this", "is", "very", "good", "we", "have", "and", "today"]


def make_texts(n, seed=0):
    """`n` (text, label) pairs; labels cycle so every class appears."""
    rng = random.Random(seed)
    labels = sorted(TOPIC_WORDS)
    rows = []
    for i in range(n):
        label = labels[i % len(labels)]
        words = rng.choices(FILLER, k=rng.randint(2, 6)) + rng.choices(TOPIC_WORDS[label], k=rng.randint(1, 3))
        rng.shuffle(words)
        rows.append((" ".join(words).capitalize() + rng.choice([".", "!", "?"]), label))
    return rows


def write_csv(path, rows, header=("text", "label"), delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TEXTCLF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def tiny_train(tmp_path):
    return write_csv(tmp_path / "train.csv", make_texts(120, seed=1))


@pytest.fixture
def tiny_test(tmp_path):
    return write_csv(tmp_path / "test.csv", make_texts(30, seed=2))


FAST_OPTIONS = dict(units=8, epochs=2, batch_size=16, max_length=12, patience=1, embedding_mode="frozen", ensemble=1)


def run_python(code, timeout=300):
    """Runs `code` in a fresh interpreter; returns stdout (raises on failure)."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def predict_with_plain_keras(path, texts):
    """Probabilities of the saved model at `path` for `texts`, from `keras.saving.load_model` in a fresh process."""
    import json

    import numpy as np

    code = (
        "import json, keras, tensorflow as tf, textclf\n"
        f"m = keras.saving.load_model({str(path)!r}, safe_mode=True)\n"
        f"print(json.dumps(m.predict(tf.constant({list(texts)!r}), verbose=0).tolist()))\n"
    )
    return np.array(json.loads(run_python(code).strip().splitlines()[-1]))


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory):
    """A tiny model (3 classes, FAST_OPTIONS) trained once per test session. Read-only: copy before changing."""
    import textclf

    root = tmp_path_factory.mktemp("shared_model")
    train = write_csv(root / "train.csv", make_texts(150, seed=1))
    textclf.train(str(train), output=str(root / "model"), **FAST_OPTIONS)
    return root / "model"
