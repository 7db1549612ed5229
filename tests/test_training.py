"""Training end to end through the library API."""

import json
from pathlib import Path

import numpy as np

import pytest

from conftest import FAST_OPTIONS, FILLER, TOPIC_WORDS, make_texts, predict_with_plain_keras, run_python, write_csv


def test_overfit_then_reload(tmp_path, tiny_train):
    import textclf

    out = tmp_path / "model"
    clf = textclf.train(tiny_train, output=str(out), head="bigru", units=16, epochs=40, batch_size=16,
                        learning_rate=0.01, patience=40, dropout=0.0, embedding_dropout=0.0,
                        embedding_mode="finetune", validation_split=0.2, ensemble=2)
    from textclf.data.tables import read_labeled

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
    assert sorted(p.name for p in out.iterdir()) == [".textclf-output.json", "metadata.json", "model.keras", "reports"]
    assert sorted(p.name for p in (out / "reports").iterdir()) == [
        "calibration.json", "classification_report.json", "classification_report.txt", "confused_pairs.csv",
        "confusion_matrix.csv", "confusion_matrix.png", "data_summary.json", "errors.csv", "history.csv",
        "reliability_diagram.png", "report.html", "training_curves.png",
    ]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["schema_version"] == 2
    assert meta["labels"] == ["animals", "food", "sports"]
    requested, fitted = meta["requested"], meta["fitted"]
    assert requested["head"] == "bigru" and requested["units"] == 8 and requested["min_delta"] == 1e-3
    assert requested["wide_weighting"] == "auto" and requested["finetune_learning_rate"] is None  # as given
    assert fitted["members"][0]["head"] == "bigru" and fitted["members"][0]["seed"] == 42
    assert fitted["embeddings"]["source"] == "glove-6b-50d" and fitted["embeddings"]["dim"] == 50
    assert fitted["embeddings"]["token_coverage"] > 0.95
    assert fitted["ngram"]["weighting"] in ("idf", "nb") and fitted["ngram"]["C"] > 0
    split = fitted["split"]
    assert (split["train_rows"], split["validation_rows"], split["test_rows"]) == (108, 12, 30)
    assert split["grouped_rows"] == 0 and split["fraction"] == 0.1 and split["by"] == "documents"
    assert fitted["metrics"]["evaluated_on"].startswith("test")
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
    assert runs[0].metadata["fitted"]["metrics"] == runs[1].metadata["fitted"]["metrics"]


def _write_vectors(path, dim=8, seed=0):
    """A GloVe-format text file with a vector for every word `make_texts` writes; returns {word: vector}."""
    rng = np.random.default_rng(seed)
    words = sorted({w for ws in TOPIC_WORDS.values() for w in ws} | set(FILLER))
    vectors = {w: rng.normal(size=dim).astype(np.float32) for w in words}
    path.write_text("".join(w + " " + " ".join(f"{x:.6f}" for x in v) + "\n" for w, v in vectors.items()))
    return {w: np.array([float(f"{x:.6f}") for x in v], dtype=np.float32) for w, v in vectors.items()}


def _saved_embedding_rows(model_dir):
    """{word: row} of the saved end-to-end model's embedding layer(s), read with plain Keras."""
    import keras

    import textclf  # noqa: F401 - registers the saved model's custom objects

    model = keras.saving.load_model(Path(model_dir) / "model.keras", safe_mode=True)

    def layers(layer):
        yield layer
        for inner in getattr(layer, "layers", []):
            yield from layers(inner)

    found = list(layers(model))
    vocabulary = next(x for x in found if isinstance(x, keras.layers.TextVectorization)).get_vocabulary()
    tables = [x.get_weights()[0] for x in found if isinstance(x, keras.layers.Embedding)]
    assert tables, "no embedding layer in the saved model"
    return [{word: table[i] for i, word in enumerate(vocabulary)} for table in tables]


@pytest.mark.parametrize("mode, changed", [("frozen", False), ("two-phase", True)])
def test_embedding_mode_decides_whether_the_pretrained_vectors_change(tmp_path, tiny_train, mode, changed):
    """Frozen keeps every pretrained vector as the file gives it; two-phase fine-tunes them."""
    import textclf

    vectors = _write_vectors(tmp_path / "vectors.txt")
    out = tmp_path / "m"
    textclf.train(tiny_train, output=str(out), embeddings=str(tmp_path / "vectors.txt"),
                  **{**FAST_OPTIONS, "embedding_mode": mode, "wide": "none", "epochs": 4, "learning_rate": 0.01})
    for rows in _saved_embedding_rows(out):
        known = [w for w in rows if w in vectors]
        assert len(known) >= 20
        moved = [w for w in known if not np.array_equal(rows[w], vectors[w])]
        if changed:
            assert len(moved) >= len(known) // 2, (len(moved), len(known))
        else:
            assert moved == []


def test_balanced_class_weight_favours_the_rare_class(tmp_path):
    """On a set with few examples of one class, balanced weights raise its probability over unweighted training."""
    import textclf

    rows = make_texts(150, seed=4)
    rare = [r for r in rows if r[1] == "sports"][:8]
    train = write_csv(tmp_path / "train.tsv", [r for r in rows if r[1] != "sports"] + rare, delimiter="\t")
    sports = [t for t, y in make_texts(60, seed=7) if y == "sports"]
    options = {**FAST_OPTIONS, "wide": "none", "epochs": 3, "seed": 3}
    rare_probability = {}
    for weighting in ("none", "balanced"):
        clf = textclf.train(train, output=str(tmp_path / weighting), class_weight=weighting, **options)
        rare_probability[weighting] = clf.predict_proba(sports)[:, list(clf.classes_).index("sports")].mean()
    assert rare_probability["balanced"] > rare_probability["none"], rare_probability


def test_explicit_validation_file_is_what_training_reports_on(tmp_path, tiny_train):
    """With --validation FILE, the reported validation accuracy is the saved model's accuracy on that file."""
    import textclf

    val_rows = make_texts(30, seed=6)
    val = write_csv(tmp_path / "val.csv", val_rows)
    out = tmp_path / "m"
    textclf.train(tiny_train, validation=str(val), output=str(out), **FAST_OPTIONS)
    texts, labels = [t for t, _ in val_rows], np.array([y for _, y in val_rows])
    probabilities = predict_with_plain_keras(out / "model.keras", texts)
    metadata = json.loads((out / "metadata.json").read_text())
    accuracy = float(np.mean(np.array(metadata["labels"])[probabilities.argmax(axis=1)] == labels))
    assert metadata["fitted"]["metrics"]["validation_accuracy"] == pytest.approx(accuracy)


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
    assert json.loads((out / "metadata.json").read_text())["requested"]["seed"] == 7


def test_validation_metrics_come_from_the_saved_model(tmp_path, tiny_train):
    """Training's validation metrics are what the saved end-to-end model predicts on the validation rows."""
    import textclf
    from textclf.data.tables import read_labeled
    from textclf.data.split import split_validation

    out = tmp_path / "m"
    textclf.train(tiny_train, output=str(out), **FAST_OPTIONS)
    data = read_labeled(tiny_train)
    rows = split_validation(data.texts, data.labels, 0.1, 42, str(tiny_train)).validation_rows
    texts, labels = [data.texts[i] for i in rows], [data.labels[i] for i in rows]
    probabilities = predict_with_plain_keras(out / "model.keras", texts)
    classes = json.loads((out / "metadata.json").read_text())["labels"]
    accuracy = float(np.mean(np.array(classes)[probabilities.argmax(axis=1)] == np.array(labels)))
    metrics = json.loads((out / "metadata.json").read_text())["fitted"]["metrics"]
    assert metrics["validation_accuracy"] == pytest.approx(accuracy)
    assert metrics["evaluated_on"].startswith("validation") and metrics["accuracy"] == pytest.approx(accuracy)


def test_epoch_batches_depend_only_on_seed_and_epoch():
    """Epoch 2 of a dataset holding epochs 0..2 is the dataset that starts at epoch 2: resuming replays nothing."""
    import tensorflow as tf

    from textclf.text.pipeline import batches_per_epoch, training_dataset

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, size=90)
    ids = tf.ragged.constant([list(range(1, n + 1)) for n in lengths], dtype=tf.int64)
    labels = np.arange(90) % 3

    def batches(first, stop):
        ds = training_dataset(ids, labels, batch_size=16, max_length=24, shuffle=True, seed=5, epochs=(first, stop))
        return [y.numpy().tolist() for _, y in ds]

    steps = batches_per_epoch(lengths, 16, 24)
    whole = batches(0, 3)
    assert len(whole) == 3 * steps
    assert whole[2 * steps:] == batches(2, 3)
    assert whole[:steps] != whole[steps : 2 * steps]  # each epoch has its own order
    assert sorted(sum(whole[:steps], [])) == sorted(labels.tolist())  # every row once per epoch


def test_min_delta_stops_a_converged_phase():
    """A loss still falling by 1e-5 an epoch stops after `patience` epochs; the lowest loss is kept."""
    from textclf.training.state import StoppingState
    from textclf.training.stopping import update

    state, kept = StoppingState(), []
    losses = [0.9, 0.5, 0.4, 0.39999, 0.39998, 0.39997, 0.39996]
    for epoch, loss in enumerate(losses, start=1):
        if update(state, loss, epoch=epoch, patience=2, min_delta=1e-3):
            kept.append(epoch)
        if state.stopped:
            break
    assert epoch == 5 and state.best_epoch == 5 and kept == [1, 2, 3, 4, 5]
    # Without a minimum improvement it would run on.
    state = StoppingState()
    for epoch, loss in enumerate(losses, start=1):
        update(state, loss, epoch=epoch, patience=2, min_delta=0.0)
    assert not state.stopped and state.best_epoch == 7
    # Small steps that add up to more than min_delta count (against the last reference, not the last epoch).
    state = StoppingState()
    for epoch, loss in enumerate([0.5, 0.4994, 0.4988, 0.4982], start=1):
        update(state, loss, epoch=epoch, patience=2, min_delta=1e-3)
    assert not state.stopped and state.reference == pytest.approx(0.4988)
    assert StoppingState.from_json(json.loads(json.dumps(state.to_json()))) == state


def test_min_delta_is_validated_and_recorded():
    from textclf.config import TrainConfig
    from textclf.errors import ConfigError

    with pytest.raises(ConfigError, match=r"min_delta must be a number >= 0\. Received: min_delta=-0\.1"):
        TrainConfig(train="x.csv", min_delta=-0.1).validate()
    assert TrainConfig(train="x.csv").to_dict()["min_delta"] == 1e-3


@pytest.mark.parametrize("stop_on", ["mixed", "recurrent"])
def test_early_stopping_follows_the_saved_models_validation_loss(tmp_path, tiny_train, stop_on):
    """With `stop_on="mixed"` each epoch logs the mix's validation loss, the phase keeps its lowest, and
    assembling, which mixes the kept weights anew, finds that same loss and weight: stopping saw the saved model."""
    import pandas as pd

    import textclf

    out = tmp_path / "m"
    options = {**FAST_OPTIONS, "epochs": 4, "embedding_mode": "two-phase", "validation_split": 0.3}
    textclf.train(tiny_train, output=str(out), stop_on=stop_on, **options)
    fitted = json.loads((out / "metadata.json").read_text())["fitted"]
    history = pd.read_csv(out / "reports" / "history.csv")
    phases = fitted["members"][0]["phases"]
    kept = [phase for phase in phases if phase["kept"]][-1]
    best = history.iloc[kept["best_epoch"] - 1]
    if stop_on == "recurrent":  # the mix's loss is logged, but not followed
        assert "val_mixed_loss" in history.columns
        assert {phase["monitor"] for phase in phases} == {"val_loss"}
        assert kept["best_loss"] == pytest.approx(history["val_loss"][: sum(p["epochs"] for p in phases)].min())
        return
    assert {phase["monitor"] for phase in phases} == {"val_mixed_loss"}
    assert kept["best_loss"] == pytest.approx(history["val_mixed_loss"].min())
    assert kept["best_val_loss"] == pytest.approx(best["val_loss"])
    ngram = fitted["ngram"]
    assert ngram["validation_log_loss"]["mixed"] == pytest.approx(best["val_mixed_loss"], abs=1e-5)
    assert ngram["weight"] == pytest.approx(best["val_mixed_weight"])


@pytest.mark.parametrize("multi_label", [False, True])
def test_validation_scores_are_what_keras_evaluate_computes(tmp_path, multi_label):
    """`fit` runs without `validation_data`: the callback's val_loss and val_accuracy must be Keras' own."""
    import keras

    from textclf.config import TrainConfig
    from textclf.training.distribute import Runtime
    from textclf.models.build import build_classifier
    from textclf.text.pipeline import training_dataset
    from textclf.training.prepare import prepare, read_tables
    from textclf.training.trainers import Trainers, training_loss
    from textclf.training.stopping import ValidationScores

    rows = make_texts(90, seed=3)
    if multi_label:  # some texts with a second label; balanced class weights give the weighted loss
        rows = [(text, label if i % 3 else f"{label}|food") for i, (text, label) in enumerate(rows)]
    train = write_csv(tmp_path / "train.csv", rows)
    config = TrainConfig(train=str(train), output=str(tmp_path / "unused"), validation_split=0.3,
                         multi_label=multi_label, class_weight="balanced" if multi_label else "none",
                         **FAST_OPTIONS).validate()
    prepared = prepare(config, read_tables(config), lambda message: None)
    member = build_classifier(embedding_matrix=prepared.embedding.matrix, num_classes=len(prepared.labels),
                              head="bigru", units=8, activation=prepared.task.activation)
    runtime = Runtime("none")
    model = Trainers(prepared, runtime).take(config, "frozen", 0.01, member)
    keras.utils.set_random_seed(0)
    model.fit(training_dataset(prepared.ids_train, prepared.y_train, batch_size=16, max_length=12, shuffle=True,
                               seed=0), epochs=1, verbose=0, shuffle=False)
    scores, logs = ValidationScores(prepared, None, runtime.local_copy, training_loss(prepared)), {}
    scores.set_model(model)
    scores.on_epoch_end(0, logs)
    val = training_dataset(prepared.ids_val, prepared.y_val, batch_size=256, max_length=12, shuffle=False, seed=0)
    expected = model.evaluate(val, verbose=0, return_dict=True)
    assert logs["val_loss"] == pytest.approx(expected["loss"], abs=1e-5)
    assert logs["val_accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)


def test_stop_on_is_validated_and_without_a_branch_follows_the_recurrent_loss(tmp_path, tiny_train):
    from textclf.config import TrainConfig
    from textclf.errors import ConfigError

    with pytest.raises(ConfigError, match=r"stop_on must be one of .*mixed.*recurrent.*Received: stop_on='ngram'"):
        TrainConfig(train="x.csv", stop_on="ngram").validate()
    import textclf

    out = tmp_path / "m"
    textclf.train(tiny_train, output=str(out), wide="none", **FAST_OPTIONS)
    phases = json.loads((out / "metadata.json").read_text())["fitted"]["members"][0]["phases"]
    assert [phase["monitor"] for phase in phases] == ["val_loss"]


def test_mixed_stopping_waits_for_the_recurrent_model_to_enter_the_mix():
    """While the mix is the n-gram branch alone (weight 1) its flat loss is no sign of convergence."""
    from textclf.training.stopping import MIXED_LOSS, MIXED_WEIGHT, EarlyStopping

    class Model:
        stop_training, weights = False, 0

        def get_weights(self):
            return [self.weights]

    stopper, model = EarlyStopping(patience=1, min_delta=0.0, monitor=MIXED_LOSS), Model()
    stopper.set_model(model)
    for epoch, (loss, weight) in enumerate([(0.389, 1.0)] * 4 + [(0.38, 0.9), (0.385, 0.9)]):
        model.weights = epoch
        stopper.on_epoch_end(epoch, {MIXED_LOSS: loss, MIXED_WEIGHT: weight, "val_loss": 1.0})
        assert model.stop_training == (epoch == 5), epoch
    assert stopper.state.best_epoch == 5 and stopper.best_weights == [4]


def test_steps_per_execution_divides_each_epoch():
    from textclf.training.trainers import MOST_STEPS_PER_EXECUTION, steps_per_execution

    assert [steps_per_execution(n, "none") for n in (78, 954, 31, 37, 1, 0)] == [26, 18, 31, 1, 1, 1]
    assert all(n % steps_per_execution(n, "none") == 0 for n in range(1, 200))
    assert max(steps_per_execution(n, "none") for n in range(1, 200)) == MOST_STEPS_PER_EXECUTION
    assert steps_per_execution(78, "mirrored") == steps_per_execution(78, "multi-worker") == 1


def test_several_steps_per_call_train_the_same_weights(tmp_path, monkeypatch):
    """Steps per call of the train function change the cost, not one number: across epoch boundaries too."""
    import dataclasses

    from textclf.config import TrainConfig
    from textclf.training.distribute import Runtime
    from textclf.training import phases, recurrent, trainers
    from textclf.training.prepare import prepare, read_tables
    from textclf.training.state import NoProgress

    train = write_csv(tmp_path / "train.csv", make_texts(150, seed=4))
    options = {**FAST_OPTIONS, "wide": "none", "embedding_mode": "two-phase", "epochs": 3, "batch_size": 8,
               "patience": 3, "learning_rate": 2e-3}  # fit_member takes a resolved config
    config = TrainConfig(train=str(train), output=str(tmp_path / "unused"), seed=5, **options).validate()
    prepared = prepare(config, read_tables(config), lambda message: None)
    steps = Runtime("none").steps_per_epoch(prepared.ids_train.row_lengths().numpy(), batch_size=config.batch_size,
                                            max_length=prepared.max_length)
    assert trainers.steps_per_execution(steps, "none") > 1, steps  # the case under test

    def fit(most):
        monkeypatch.setattr(trainers, "MOST_STEPS_PER_EXECUTION", most)
        recurrent.set_determinism(config.seed)
        model, state = phases.fit_member(dataclasses.replace(config), prepared, Runtime("none"), NoProgress(),
                                         lambda message: None, 0, "member")
        return model.get_weights(), state.history

    (several, history), (one, one_history) = fit(32), fit(1)
    assert len(history) == 6 and history == one_history
    for a, b in zip(several, one):
        np.testing.assert_array_equal(a, b)


def test_sorted_batches_predict_in_input_order_as_keras_does():
    import keras
    import tensorflow as tf

    from textclf.text.pipeline import SortedBatches

    ids = tf.ragged.constant([[1, 2, 3], [4], [5, 6], [3], [7, 8, 9, 10]], dtype=tf.int64)
    inputs = keras.Input(shape=(None,), dtype="int64")
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(
        keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(11, 4, mask_zero=True)(inputs))))
    rows = SortedBatches(ids, batch_size=2)
    expected = np.concatenate([model.predict(tf.constant([row + [0] * (4 - len(row))]), verbose=0)
                               for row in ids.to_list()])
    np.testing.assert_allclose(rows.predict(model), expected, atol=1e-6)
    assert rows.predict(model).shape == (5, 3) and SortedBatches(ids[:0]).predict(model).shape == (0, 3)


def test_batch_and_learning_rate_follow_the_training_set_size():
    from textclf.models.ensemble import AUTO_MAX_TOKENS
    from textclf.training.batch import resolve_batch

    assert resolve_batch(None, None, AUTO_MAX_TOKENS)[:2] == (64, 2e-3)
    assert resolve_batch(None, None, AUTO_MAX_TOKENS + 1)[:2] == (128, 4e-3)
    assert resolve_batch(32, None, AUTO_MAX_TOKENS + 1)[:2] == (32, 4e-3)  # a value given is kept
    assert resolve_batch(None, 1e-2, 10)[:2] == (64, 1e-2)
    assert "1,000,000 tokens" in resolve_batch(None, None, 10)[2]


def test_the_resolved_batch_is_what_trains_and_is_recorded(tmp_path, tiny_train, monkeypatch):
    """Above the size threshold the run trains with the large batch and rate, and metadata says so."""
    import textclf
    from textclf.models import ensemble

    monkeypatch.setattr("textclf.training.batch.AUTO_MAX_TOKENS", 10)  # the tiny set counts as large
    options = {**FAST_OPTIONS, "embedding_mode": "two-phase"}
    del options["batch_size"]
    clf = textclf.train(tiny_train, output=str(tmp_path / "m"), **options)
    fitted = clf.metadata["fitted"]
    assert fitted["training"]["batch_size"] == 128 and fitted["training"]["learning_rate"] == 4e-3
    assert fitted["distribute"]["global_batch_size"] == 128
    phases = fitted["members"][0]["phases"]
    assert [p["learning_rate"] for p in phases] == [4e-3, 1e-3]
    assert clf.metadata["requested"]["batch_size"] is None and clf.metadata["requested"]["learning_rate"] is None
    assert ensemble.AUTO_MAX_TOKENS == 1_000_000  # the members' rule is untouched


def test_a_text_longer_than_the_model_reads_is_cut_alike_in_training_and_in_the_saved_model(tmp_path):
    """Training cuts texts to `max_chars` before tokenizing; the saved model cuts the same way in its graph."""
    import textclf
    from textclf.text.vocabulary import MAX_CHARS

    head = ("the dog and the cat see a horse . " * 7000)[:MAX_CHARS]
    # Past the cut: a word found nowhere else but in one short text, and food words the n-gram branch knows.
    tail = "kangaroo pizza soup cheese " * 2000
    rows = make_texts(150, seed=1) + [("kangaroo and the horse.", "animals"), (head + tail, "animals")]
    out = tmp_path / "model"
    validation = write_csv(tmp_path / "validation.csv", make_texts(30, seed=2))  # every row above trains
    clf = textclf.train(write_csv(tmp_path / "train.csv", rows), validation=str(validation), output=str(out),
                        wide="bigrams", **FAST_OPTIONS)
    meta = json.loads((out / "metadata.json").read_text())
    assert (meta["fitted"]["max_chars"], meta["fitted"]["max_chars_rule"]) == (MAX_CHARS, "the default")
    # Read whole, the long text would put "kangaroo" in two texts: in the n-gram vocabulary (2 texts at least).
    assert "kangaroo" not in clf.model.get_layer("ngram_vectorization").get_vocabulary()
    assert meta["fitted"]["ngram"]["weight"] > 0  # the n-gram branch, which reads texts whole, counts
    texts = [head + tail, head, head[: MAX_CHARS // 2] + tail]
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    code = ("import json, keras, textclf\n"
            f"model = keras.saving.load_model({str(out / 'model.keras')!r}, safe_mode=True)\n"
            f"texts = json.load(open({str(tmp_path / 'texts.json')!r}))\n"
            "print(json.dumps(model.predict(texts, verbose=0).tolist()))\n")
    there = np.array(json.loads(run_python(code).strip().splitlines()[-1]))
    np.testing.assert_allclose(there[0], there[1], atol=1e-6)
    assert np.abs(there[2] - there[1]).max() > 1e-3  # food words within the cut are read
    np.testing.assert_allclose(clf.predict_proba(texts), there, atol=1e-5)
