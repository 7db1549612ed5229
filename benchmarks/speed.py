#!/usr/bin/env python
"""Speed benchmarks of issue #5, each next to its baseline in one run.

1. Training throughput: the plain keras-io recipe (TextVectorization with its default
   standardization and a fixed output_sequence_length, frozen GloVe Embedding with mask_zero=True,
   Bidirectional(LSTM(64)), softmax, NumPy arrays into fit, batch 64) against textclf's pipeline
   (GloVe tokenizer, vectorized once outside the model, tf.data batches bucketed by length,
   prefetching) with the same head, units, batch size, max length, data and epochs. Samples per
   second over full epochs (the first epoch, which includes tracing, is reported separately) and
   test accuracy after the same number of epochs.
2. Embedding loading: runs benchmarks/embedding_load.py (400,000 x 300 GloVe text file,
   20,000-word vocabulary) against the keras-io dict parse.
3. `textclf --help` and `textclf train --help` wall time (no TensorFlow import), next to
   `python -c "import tensorflow"`.

Usage (from the repository root; takes ~15 minutes on 2 cores):
    .venv/bin/python benchmarks/speed.py                       # everything
    .venv/bin/python benchmarks/speed.py --only training --datasets sst2 --epochs 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LENGTHS = {"sst2": 64, "imdb": 200, "trec": 64, "sms_spam": 64, "20newsgroups": 200}


def _load(dataset, seed=0):
    """Train (90%), validation (10%) and test texts/labels, the same for both sides."""
    import numpy as np
    import pandas as pd

    train = pd.read_csv(DATA / dataset / "train.csv.gz", dtype=str, keep_default_na=False)
    test = pd.read_csv(DATA / dataset / "test.csv.gz", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train))  # the files are sorted by label: shuffle once
    n_val = len(train) // 10
    val, train = train.iloc[order[:n_val]], train.iloc[order[n_val:]]
    classes = sorted(train.label.unique())
    enc = lambda frame: (frame.text.tolist(), np.array([classes.index(v) for v in frame.label]))  # noqa: E731
    return enc(train), enc(val), enc(test), classes


class _EpochTimer:
    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.seconds = []

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self._start)

        return Timer()


def _glove_matrix(vocabulary):
    from textclf.embeddings import build_embedding_matrix

    return build_embedding_matrix("glove-6b-50d", vocabulary, oov="zeros").matrix


def run_plain(dataset, epochs, seed):
    """The keras-io recipe (examples/nlp/pretrained_word_embeddings.py), BiLSTM(64) head."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test), classes = _load(dataset, seed)
    length = LENGTHS[dataset]
    vectorizer = keras.layers.TextVectorization(max_tokens=20000, output_sequence_length=length)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(x_train).batch(128))
    vocabulary = vectorizer.get_vocabulary()
    matrix = _glove_matrix(vocabulary)
    to_ids = lambda texts: vectorizer(np.array([[s] for s in texts])).numpy()  # noqa: E731
    a_train, a_val, a_test = to_ids(x_train), to_ids(x_val), to_ids(x_test)
    inputs = keras.Input(shape=(None,), dtype="int64")
    embedding = keras.layers.Embedding(len(vocabulary), matrix.shape[1], trainable=False, mask_zero=True)
    x = embedding(inputs)
    embedding.embeddings.assign(matrix)
    x = keras.layers.Bidirectional(keras.layers.LSTM(64))(x)
    outputs = keras.layers.Dense(len(classes), activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["acc"])
    timer = _EpochTimer()
    model.fit(a_train, y_train, batch_size=64, epochs=epochs, validation_data=(a_val, y_val), callbacks=[timer],
              verbose=0)
    accuracy = float((model.predict(a_test, batch_size=256, verbose=0).argmax(1) == y_test).mean())
    return {"epoch_seconds": timer.seconds, "train_rows": len(x_train), "test_accuracy": accuracy}


def run_textclf(dataset, epochs, seed):
    """textclf's pipeline with the same head, units, batch size, max length and epochs."""
    import keras

    from textclf.models.build import build_classifier
    from textclf.text.pipeline import SortedBatches, training_dataset, vectorize
    from textclf.text.vocabulary import build_vocabulary, count_tokens

    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test), classes = _load(dataset, seed)
    length = LENGTHS[dataset]
    vocabulary = build_vocabulary(count_tokens(x_train).counts, 20000)
    matrix = _glove_matrix(vocabulary)
    ids_train, ids_val, ids_test = (vectorize(t, vocabulary, length) for t in (x_train, x_val, x_test))
    train_ds = training_dataset(ids_train, y_train, batch_size=64, max_length=length, shuffle=True, seed=seed)
    val_ds = training_dataset(ids_val, y_val, batch_size=256, max_length=length, shuffle=False, seed=seed)
    model = build_classifier(embedding_matrix=matrix, num_classes=len(classes), head="bilstm", units=64,
                             pooling="last", dropout=0.0, embedding_dropout=0.0, trainable_embeddings=False)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["acc"])
    timer = _EpochTimer()
    model.fit(train_ds, epochs=epochs, validation_data=val_ds, callbacks=[timer], verbose=0, shuffle=False)
    accuracy = float((SortedBatches(ids_test).predict(model).argmax(1) == y_test).mean())
    return {"epoch_seconds": timer.seconds, "train_rows": len(x_train), "test_accuracy": accuracy}


def _child(side, dataset, epochs, seed):
    result = (run_plain if side == "plain" else run_textclf)(dataset, epochs, seed)
    print("RESULT " + json.dumps(result), flush=True)


def _run_child(side, dataset, epochs, seed):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, __file__, "--child", side, "--datasets", dataset, "--epochs", str(epochs),
                           "--seed", str(seed)], capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{side} on {dataset} failed:\n{proc.stderr[-3000:]}")


def bench_training(datasets, epochs, seed):
    print(f"## Training throughput (BiLSTM(64), frozen glove-6b-50d, batch 64, {epochs} epochs)\n")
    print("| dataset | max length | recipe samples/s | textclf samples/s | speedup | recipe 1st epoch s | "
          "textclf 1st epoch s | recipe test acc | textclf test acc |")
    print("|---|---|---|---|---|---|---|---|---|")
    for dataset in datasets:
        plain = _run_child("plain", dataset, epochs, seed)
        ours = _run_child("textclf", dataset, epochs, seed)

        def rate(r):  # epochs after the first: tracing excluded
            rest = r["epoch_seconds"][1:] or r["epoch_seconds"]
            return r["train_rows"] / statistics.mean(rest)

        print(f"| {dataset} | {LENGTHS[dataset]} | {rate(plain):.0f} | {rate(ours):.0f} | "
              f"{rate(ours) / rate(plain):.2f}x | {plain['epoch_seconds'][0]:.1f} | {ours['epoch_seconds'][0]:.1f} | "
              f"{plain['test_accuracy']:.4f} | {ours['test_accuracy']:.4f} |", flush=True)
    print()


def bench_help(repeats=7):
    print("## Start-up time (median of %d runs)\n" % repeats)
    exe = str(Path(sys.executable).parent / "textclf")
    cases = {
        "textclf --help": [exe, "--help"],
        "textclf train --help": [exe, "train", "--help"],
        'python -c "import tensorflow" (baseline)': [sys.executable, "-c", "import tensorflow"],
    }
    print("| command | seconds |")
    print("|---|---|")
    for name, cmd in cases.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            times.append(time.perf_counter() - start)
        print(f"| `{name}` | {statistics.median(times):.3f} |", flush=True)
    print()


def bench_embeddings(extra):
    print("## Embedding loading (benchmarks/embedding_load.py)\n")
    print("```", flush=True)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "embedding_load.py"), *extra], check=True)
    print("```\n", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("training", "embeddings", "help"), action="append")
    parser.add_argument("--datasets", nargs="+", default=["sst2", "imdb"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embedding-args", nargs=argparse.REMAINDER, default=[],
                        help="passed to embedding_load.py (e.g. --rows 20000 --dim 100)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, args.datasets[0], args.epochs, args.seed)
    only = set(args.only or ("help", "training", "embeddings"))
    if "help" in only:
        bench_help()
    if "training" in only:
        bench_training(args.datasets, args.epochs, args.seed)
    if "embeddings" in only:
        bench_embeddings(args.embedding_args)


if __name__ == "__main__":
    main()
