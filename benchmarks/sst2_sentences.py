#!/usr/bin/env python
"""SST-2 options compared on whole sentences held out from train (no test split involved).

SST-2's train file holds phrases of every length from the treebank, and each sentence's sub-phrases are
separate rows. A random validation split of it is therefore leaky: most validation phrases have a longer or
shorter overlapping phrase in train, so validation rewards memorizing phrases, while the test split (GLUE dev)
holds unseen whole sentences. To choose defaults on evidence that resembles the test without looking at it,
this script builds, from train.csv.gz only:

- a "sentence" validation set: 1,500 random distinct train texts of at least 15 whitespace tokens;
- a training file without them and without every train text that contains one of them or is contained in one
  (so no held-out sentence shares a phrase annotation with training), duplicates dropped;

then runs `textclf train --input <that file> --test <sentences>` once per option set given (each set is one
quoted string of `textclf train` options; "" is the defaults), in a temporary directory, and prints accuracy
on the held-out sentences, with each branch alone (recurrent model, n-gram branch) and mixed.

Usage (from the repository root; on 2 cores ~3.5 minutes per recurrent model, so ~17 minutes for the default
5-model ensemble):
    .venv/bin/python benchmarks/sst2_sentences.py "" "--pooling max" "--pooling last"
"""

from __future__ import annotations

import argparse
import bisect
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sst2"


def split_sentences(workdir, n_sentences=1500, min_tokens=15, seed=0):
    """Writes `train.csv` and `sentences.csv` into `workdir`; returns their paths and row counts."""
    import numpy as np
    import pandas as pd

    train = pd.read_csv(DATA / "train.csv.gz", dtype=str, keep_default_na=False)
    train["text"] = train.text.str.strip()
    train = train.drop_duplicates("text").reset_index(drop=True)
    long_rows = np.flatnonzero(train.text.str.split().str.len() >= min_tokens)
    held = np.random.default_rng(seed).choice(long_rows, n_sentences, replace=False)
    sentences = train.iloc[held]
    texts = train.text.tolist()
    drop = set(held.tolist())
    # Rows contained in a held-out sentence ("\n" never occurs inside a text, so no match spans two).
    joined_held = "\n".join(sentences.text)
    drop.update(i for i, text in enumerate(texts) if text in joined_held)
    # Rows containing a held-out sentence: find each in all texts joined, map offsets back to rows.
    joined = "\n".join(texts)
    starts = np.cumsum([0] + [len(text) + 1 for text in texts[:-1]])
    for sentence in sentences.text:
        position = joined.find(sentence)
        while position != -1:
            drop.add(bisect.bisect_right(starts, position) - 1)
            position = joined.find(sentence, position + 1)
    kept = train.drop(index=sorted(drop))
    paths = Path(workdir) / "train.csv", Path(workdir) / "sentences.csv"
    kept.to_csv(paths[0], index=False)
    sentences.to_csv(paths[1], index=False)
    return paths, len(kept), len(sentences)


def branch_accuracies(model_dir, sentences_path):
    """Accuracy on the held-out sentences of the recurrent model, the n-gram branch and the mix."""
    import keras
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    from textclf.inference.classifier import TextClassifier

    classifier = TextClassifier.load(model_dir)
    frame = pd.read_csv(sentences_path, dtype=str, keep_default_na=False)
    y = np.array([list(classifier.classes_).index(label) for label in frame.label])
    texts = frame.text.tolist()
    accuracy = lambda p: float((p.argmax(axis=1) == y).mean())  # noqa: E731
    model = classifier.model
    result = {"mixed": accuracy(classifier.predict_proba(texts))}
    if "mix" in {layer.name for layer in model.layers}:
        # The branches are the inputs of the saved graph's mixing layer.
        mix = model.get_layer("mix")
        recurrent, ngram = keras.Model(model.inputs, mix.input).predict(tf.constant(texts), batch_size=256, verbose=0)
        result.update(recurrent=accuracy(recurrent), ngram=accuracy(ngram), weight=mix.weight)
    else:
        result["recurrent"] = result["mixed"]
    wide = classifier.metadata["fitted"]["ngram"]
    result["features"] = f"{wide['weighting']}, C {wide['C']:g}" if "weighting" in wide else "-"
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("option_sets", nargs="+", help='quoted `textclf train` options per run; "" = defaults')
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        (train_path, sentences_path), n_train, n_sentences = split_sentences(workdir)
        print(f"train rows {n_train}, held-out sentences {n_sentences}\n")
        print("| options | recurrent | n-gram | mixed | n-gram weight | n-gram features |")
        print("|---|---|---|---|---|---|", flush=True)
        for index, options in enumerate(args.option_sets):
            output = Path(workdir) / f"model{index}"
            command = [str(Path(sys.executable).parent / "textclf"), "train", "--input", str(train_path),
                       "--output", str(output), "--quiet", *shlex.split(options)]
            subprocess.run(command, check=True, capture_output=True)
            r = branch_accuracies(output, sentences_path)
            ngram = f"{r['ngram']:.4f}" if "ngram" in r else "-"  # no n-gram branch in the model
            print(f"| `{options or '(defaults)'}` | {r['recurrent']:.4f} | {ngram} | {r['mixed']:.4f} | "
                  f"{r.get('weight', 0):g} | {r['features']} |", flush=True)


if __name__ == "__main__":
    main()
