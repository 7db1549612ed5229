"""textclf's Keras layers and model class: save/load round trips in a fresh process, inputs Keras users pass,
and models saved by earlier versions."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import run_python

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS = ["Heavy rain tonight, don't go out!", "the dog and the cat", "", "golf golf golf", "zzzz"]
CUT_TEXTS = TEXTS + ["Überraschung: 日本語のテキスト, très longue"]  # several bytes per character


def _layer_models():
    """One tiny model per textclf layer (name -> `(model, input)`); weights are not all zero."""
    import keras
    import tensorflow as tf

    from textclf.models.layers import FirstTokens, GloveStandardize, MixProbabilities, NgramLogisticRegression

    texts = keras.Input(shape=(), dtype="string")
    ids = keras.Input(shape=(None,), dtype="int64")
    pair = [keras.Input(shape=(3,)), keras.Input(shape=(3,))]
    scores = NgramLogisticRegression(6, 3)
    scores.build((None, None))
    scores.feature_weights.assign(np.arange(1, 7, dtype=np.float32))
    scores.kernel.assign(np.arange(18, dtype=np.float32).reshape(6, 3) / 10 - 0.8)
    scores.bias.assign([0.1, -0.2, 0.3])
    id_batch = tf.constant([[2, 3, 3, 0, 0], [1, 5, 4, 2, 6], [1, 0, 0, 0, 0]], dtype=tf.int64)
    return {
        "GloveStandardize": (keras.Model(texts, GloveStandardize()(texts)), tf.constant(TEXTS)),
        "GloveStandardizeCut": (keras.Model(texts, GloveStandardize(max_chars=16)(texts)), tf.constant(CUT_TEXTS)),
        "FirstTokens": (keras.Model(ids, FirstTokens(3)(ids)), id_batch),
        "NgramLogisticRegression": (keras.Model(ids, scores(ids)), id_batch),
        "MixProbabilities": (keras.Model(pair, MixProbabilities(0.25)(pair)),
                             [tf.constant(np.eye(3, dtype=np.float32)), tf.fill([3, 3], 1.0 / 3)]),
    }


def test_each_layer_round_trips_in_a_fresh_process(tmp_path):
    expected = {}
    for name, (model, inputs) in _layer_models().items():
        model.save(tmp_path / f"{name}.keras")
        outputs = model(inputs)
        expected[name] = outputs.numpy().tolist() if outputs.dtype != "string" else [
            t.decode() for t in outputs.numpy()]
        (tmp_path / f"{name}.json").write_text(json.dumps(
            [np.asarray(x).tolist() for x in inputs] if isinstance(inputs, list) else np.asarray(inputs).tolist(),
            default=lambda b: b.decode()))
    code = (
        "import json, keras, numpy as np, tensorflow as tf, textclf\n"
        f"root = {str(tmp_path)!r}\n"
        "out = {}\n"
        f"for name in {sorted(expected)!r}:\n"
        "    model = keras.saving.load_model(f'{root}/{name}.keras', safe_mode=True)\n"
        "    x = json.load(open(f'{root}/{name}.json'))\n"
        "    x = [tf.constant(v, tf.float32) for v in x] if name == 'MixProbabilities' else tf.constant(x)\n"
        "    y = model(x).numpy()\n"
        "    out[name] = [t.decode() for t in y] if y.dtype == object else y.tolist()\n"
        "print(json.dumps(out))\n"
    )
    there = json.loads(run_python(code).strip().splitlines()[-1])
    assert there["GloveStandardize"] == expected["GloveStandardize"]
    assert there["GloveStandardize"][0].split() == "heavy rain tonight , do n't go out !".split()
    assert there["FirstTokens"] == [[2, 3, 3], [1, 5, 4], [1, 0, 0]]
    assert there["GloveStandardizeCut"] == _standardized_after_cut(CUT_TEXTS, 16)
    assert there["GloveStandardizeCut"][-1].split() == ["überraschung", ":", "日本"]
    for name in ("NgramLogisticRegression", "MixProbabilities"):
        np.testing.assert_allclose(there[name], expected[name], atol=1e-6)


def _standardized_after_cut(texts, max_chars):
    """What training feeds both branches: the texts cut in Python (`cut_texts`), then standardized."""
    import tensorflow as tf

    from textclf.text.tokenize import glove_standardize
    from textclf.text.vocabulary import cut_texts

    cut, count = cut_texts(texts, max_chars)
    assert count == 3
    return [t.decode() for t in glove_standardize(tf.constant(cut)).numpy()]


def test_standardize_of_models_saved_before_the_cut_reads_texts_whole():
    """A `GloveStandardize` config without `max_chars` (saved before it existed) cuts nothing."""
    import tensorflow as tf

    from textclf.models.layers import GloveStandardize
    from textclf.text.tokenize import glove_standardize

    config = GloveStandardize(max_chars=16).get_config()
    del config["max_chars"]
    text = tf.constant(["word " * 50_000])
    assert GloveStandardize.from_config(config)(text).numpy()[0] == glove_standardize(text).numpy()[0]
    with pytest.raises(ValueError, match="max_chars must be a positive integer"):
        GloveStandardize(max_chars=0)


def test_ngram_layer_is_the_dense_formula():
    """softmax(normalize(multi_hot(ids) * weights) @ kernel + bias), padding and repeats counted as multi-hot does."""
    model, ids = _layer_models()["NgramLogisticRegression"]
    layer = model.layers[-1]
    weights, kernel, bias = (np.asarray(v) for v in (layer.feature_weights, layer.kernel, layer.bias))
    multi_hot = np.zeros((3, 6), np.float32)
    for row, values in enumerate(ids.numpy()):
        multi_hot[row, [v - 1 for v in values if v > 0]] = 1.0
    x = multi_hot * weights
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    logits = x @ kernel + bias
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model(ids).numpy(), expected, rtol=1e-5)


@pytest.fixture(scope="module")
def saved_model_path(trained_model_dir):
    return trained_model_dir / "model.keras"


def test_saved_model_takes_what_keras_users_pass(saved_model_path):
    """A list, NumPy and pandas string arrays and tf.string tensors, in predict and when called, in a fresh process."""
    code = (
        "import json, keras, numpy as np, pandas as pd, tensorflow as tf, textclf\n"
        f"m = keras.saving.load_model({str(saved_model_path)!r})\n"
        f"texts = {TEXTS!r}\n"
        "forms = {'list': texts, 'tuple': tuple(texts), 'numpy': np.array(texts), 'object': np.array(texts, object),\n"
        "         'column': np.array(texts)[:, None], 'pandas': pd.Series(texts), 'tf': tf.constant(texts)}\n"
        "out = {f'predict {k}': m.predict(v, verbose=0).tolist() for k, v in forms.items()}\n"
        "out.update({f'call {k}': m(v).numpy().tolist() for k, v in forms.items()})\n"
        "out['batched'] = m.predict(texts, batch_size=2, verbose=0).tolist()\n"
        "out['type'] = type(m).__name__\n"
        "print(json.dumps(out))\n"
    )
    out = json.loads(run_python(code).strip().splitlines()[-1])
    assert out.pop("type") == "TextModel"
    reference = np.array(out["predict tf"])
    assert reference.shape == (len(TEXTS), 3)
    for form, probabilities in out.items():
        np.testing.assert_allclose(probabilities, reference, atol=1e-6, err_msg=form)


def test_saved_model_refuses_other_inputs(trained_model_dir):
    import textclf
    from textclf.errors import InputDataError, InputTypeError

    model = textclf.load(trained_model_dir).model
    with pytest.raises(InputTypeError, match="not a single str"):
        model.predict("one text")
    with pytest.raises(InputDataError, match=r"texts\[1\] is nan \(a missing text\)"):
        model.predict(["a text", float("nan")])
    with pytest.raises(InputDataError, match=r"one text per row: a 1-D array, or 2-D with one column \(n, 1\). Received: an array of shape \(1, 2\)"):
        model(np.array([["a", "b"]]))


def test_model_saved_by_version_0_1_still_loads_and_agrees(tmp_path):
    """tests/fixtures/legacy_model was saved by the code before the textclf layers (make_legacy_model.py)."""
    import textclf

    shutil.copytree(FIXTURES / "legacy_model", tmp_path / "legacy")
    expected = json.loads((tmp_path / "legacy" / "expected.json").read_text())
    classifier = textclf.load(tmp_path / "legacy")
    np.testing.assert_allclose(classifier.predict_proba(expected["texts"], batch_size=4, validate=False),
                               expected["probabilities"], atol=1e-6)
    assert classifier.max_length == 12
    assert {"member_1", "member_2"} <= {layer.name for layer in classifier.model.get_layer("classifier").layers}
    assert "ngram_classifier" in {layer.name for layer in classifier.model.layers}
