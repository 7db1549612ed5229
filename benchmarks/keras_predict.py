"""Benchmark: the saved model in plain Keras against `textclf predict`, now and in a baseline checkout.

Every figure is a whole process (start, read the CSV, load the model,
predict, write the predictions), timed in a wrapper process, on the same
IMDB test rows (../shared/data/imdb/test.csv.gz, relative to the repository
root, repeated to each size):

  * plain Keras: `keras.saving.load_model(...).predict(texts, batch_size=256)`
    on the CSV's text column, then the predicted label and confidence
    written with pandas;
  * `textclf predict --model M --input in.csv --output out.csv`;

each with this checkout's code and model format, and with a baseline
checkout's (`--baseline-src`, run through PYTHONPATH; its plain Keras run
passes `tf.constant(texts)`, the one input its saved model took).

The model: `--baseline-model`, a model directory saved by the baseline code
(e.g. the default model trained on 3,000 IMDB reviews); the script rebuilds
the same trained layers into this checkout's format (`build_end_to_end`), so
both sides run the same weights. The target: plain Keras reaches at least
0.8x the rows/s of `textclf predict`, and `textclf predict` is no slower than
the baseline's.

    python benchmarks/keras_predict.py --baseline-src ../textclf-main --baseline-model models/imdb3000 \
        --sizes 20000,100000

Without a baseline, `--model M` (a model saved by this checkout) times only
this checkout's two sides, e.g. at sizes where the baseline was already
measured:

    python benchmarks/keras_predict.py --model models/imdb3000 --sizes 100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from predict_speed import IMDB, build_csv, measure, read_imdb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

PLAIN = r"""
import json, sys
import keras, pandas as pd, tensorflow as tf, textclf
model_dir, inp, out, as_tensor = sys.argv[1:5]
frame = pd.read_csv(inp, dtype=str, keep_default_na=False)
model = keras.saving.load_model(f"{model_dir}/model.keras")
texts = frame["text"].tolist()
probabilities = model.predict(tf.constant(texts) if as_tensor == "1" else texts, batch_size=256, verbose=0)
labels = json.load(open(f"{model_dir}/metadata.json"))["labels"]
frame["predicted_label"] = [labels[i] for i in probabilities.argmax(axis=1)]
frame["confidence"] = probabilities.max(axis=1)
frame.to_csv(out, index=False)
"""

CONVERT = r"""
import sys
import textclf
from textclf.inference.classifier import TextClassifier
from textclf.models.build import build_end_to_end
old = textclf.load(sys.argv[1])
layers = {layer.name: layer for layer in old.model.layers}
wide = None
if "ngram_classifier" in layers:
    wide = (layers["ngram_vectorization"], layers["ngram_classifier"], old.metadata["wide"]["weight"])
model = build_end_to_end(layers["classifier"], old.vocabulary, old.max_length, wide=wide)
TextClassifier(model, old.metadata).save(sys.argv[2])
"""


def run_env(src):
    return {**os.environ, "PYTHONPATH": str(src), "TF_CPP_MIN_LOG_LEVEL": "3"}


def timed(command, src):
    """`measure` with `src` first on PYTHONPATH (the wrapper passes its environment on), run in `src`.

    `python -m` puts the working directory before PYTHONPATH, so a child started
    in this checkout would import this checkout's textclf whatever PYTHONPATH
    says; it runs in `src`, and which textclf it imports there is checked first.
    """
    locate = "import importlib.util; print(importlib.util.find_spec('textclf').origin)"  # finds it, imports no TF
    probe = subprocess.run([sys.executable, "-c", locate], cwd=src,
                           env=run_env(src), capture_output=True, text=True, check=True).stdout.strip()
    if not Path(probe).resolve().is_relative_to(Path(src).resolve()):
        raise SystemExit(f"{src}: a child would import textclf from {probe}, not from this source tree")
    saved = dict(os.environ)
    os.environ.update(run_env(src))
    try:
        return measure(command, cwd=src)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-src", help="a checkout of the baseline textclf")
    parser.add_argument("--baseline-model", help="a model directory saved by the baseline code")
    parser.add_argument("--model", help="instead of a baseline: a model saved by this checkout (this side only)")
    parser.add_argument("--sizes", default="20000", help="comma-separated row counts")
    args = parser.parse_args(argv)
    if bool(args.model) == bool(args.baseline_src and args.baseline_model):
        parser.error("give either --baseline-src and --baseline-model, or --model")
    tmp = Path(tempfile.mkdtemp(prefix="textclf-keras-predict-"))
    if args.model:
        return compare(args.sizes, {"now": (ROOT, Path(args.model).resolve(), "0")}, tmp)
    baseline_src, baseline_model = Path(args.baseline_src).resolve(), Path(args.baseline_model).resolve()
    model = tmp / "model"
    model.mkdir()
    subprocess.run([sys.executable, "-c", CONVERT, str(baseline_model), str(model)], check=True, env=run_env(ROOT),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    meta = json.loads((model / "metadata.json").read_text())
    print(f"model: {baseline_model} ({meta['ensemble']['members']} members, n-gram weight "
          f"{meta['wide'].get('weight')}, max_length {meta['max_length']}); rebuilt in this checkout's format",
          flush=True)
    compare(args.sizes, {"now": (ROOT, model, "0"), "baseline": (baseline_src, baseline_model, "1")}, tmp)


def compare(sizes, sides, tmp):
    """Times plain Keras and `textclf predict` for each side `{name: (src, model_dir, as_tensor)}` and size."""
    reviews = read_imdb(IMDB / "test.csv.gz")
    for rows in (int(s) for s in sizes.split(",")):
        big = build_csv(tmp / f"imdb_{rows}.csv", reviews, rows)
        figures = {}
        for side, (src, model_dir, as_tensor) in sides.items():
            keras_run = timed([sys.executable, "-c", PLAIN, str(model_dir), str(big), str(tmp / "plain.csv"),
                               as_tensor], src)
            cli_run = timed([sys.executable, "-m", "textclf", "predict", "--model", str(model_dir), "--input", str(big),
                             "--output", str(tmp / "cli.csv"), "--quiet"], src)
            figures[side] = {"keras": rows / keras_run["seconds"], "textclf": rows / cli_run["seconds"]}
            ratio = figures[side]["keras"] / figures[side]["textclf"]
            print(f"{rows:>9,} rows, {side:>8}: plain Keras {figures[side]['keras']:6.1f} rows/s "
                  f"({keras_run['seconds']:.0f}s, peak RSS {keras_run['peak_rss_mb']:,.0f} MB), textclf predict "
                  f"{figures[side]['textclf']:6.1f} rows/s ({cli_run['seconds']:.0f}s, peak RSS "
                  f"{cli_run['peak_rss_mb']:,.0f} MB); Keras/textclf {ratio:.2f}x", flush=True)
        now, before = figures["now"], figures.get("baseline")
        print(f"{rows:>9,} rows: plain Keras now {now['keras'] / now['textclf']:.2f}x textclf predict (target >= 0.8x)",
              flush=True)
        if before is None:
            continue
        print(f"{rows:>9,} rows: textclf predict now {now['textclf'] / before['textclf']:.2f}x the baseline's "
              "(target >= 1.0x)", flush=True)


if __name__ == "__main__":
    main()
