"""Ensembles: the auto rule, member 1 is the single model, averaging, saving, info, resuming."""

import json

import numpy as np
import pytest

from conftest import FAST_OPTIONS, predict_with_plain_keras
from textclf.models.ensemble import (
    AUTO_MAX_TOKENS, AUTO_MEMBERS, MEMBER_UNITS, SINGLE_UNITS, resolve_members, resolve_units,
)


def test_auto_members_follow_the_training_size():
    assert resolve_members(None, AUTO_MAX_TOKENS)[0] == AUTO_MEMBERS == 3
    assert resolve_members(None, AUTO_MAX_TOKENS + 1)[0] == 1
    assert resolve_members(2, 10**9) == (2, "--ensemble")
    assert resolve_members(None, 5)[1].startswith("auto: 3 when the training rows hold at most 1,000,000 tokens")


def test_averaged_members_are_smaller_by_default_and_units_given_are_obeyed():
    assert (resolve_units(None, 1), resolve_units(None, 3)) == (SINGLE_UNITS, MEMBER_UNITS) == (64, 32)
    assert resolve_units(16, 1) == resolve_units(16, 3) == 16


def test_default_members_train_and_save_at_member_units(tmp_path):
    import keras

    import textclf
    from conftest import make_texts, write_csv
    from textclf.commands.info import describe
    from textclf.models.build import CLASSIFIER_NAME

    train = write_csv(tmp_path / "train.csv", make_texts(90, seed=4))
    options = {key: value for key, value in FAST_OPTIONS.items() if key != "units"}
    out = tmp_path / "m"
    textclf.train(train, output=str(out), **{**options, "epochs": 1, "wide": "none", "ensemble": 2})
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["requested"]["units"] is None
    assert [member["units"] for member in meta["fitted"]["members"]] == [MEMBER_UNITS] * 2
    saved = keras.saving.load_model(out / "model.keras").get_layer(CLASSIFIER_NAME)
    for name in ("member_1", "member_2"):  # each direction's recurrent kernel: units x (3 gates x units)
        shapes = [tuple(w.shape) for w in saved.get_layer(name).weights if "recurrent_kernel" in w.path]
        assert shapes == [(MEMBER_UNITS, 3 * MEMBER_UNITS)] * 2, shapes
    assert any(f"units {MEMBER_UNITS}, the default" in line for line in describe(meta, out))


@pytest.fixture(scope="module")
def single_and_ensemble(tmp_path_factory, request):
    import textclf
    from conftest import make_texts, write_csv

    root = tmp_path_factory.mktemp("ensemble")
    train = write_csv(root / "train.csv", make_texts(150, seed=4))
    options = {**FAST_OPTIONS, "wide": "none", "embedding_mode": "two-phase", "seed": 5,
               "member_start": "scratch", "ensemble_combine": "probabilities"}
    single = textclf.train(train, output=str(root / "single"), **options)
    ensemble = textclf.train(train, output=str(root / "ensemble"), **{**options, "ensemble": 2})
    return root, single, ensemble


def test_member_one_is_the_single_model_and_the_output_is_the_mean(single_and_ensemble):
    from textclf.models.build import CLASSIFIER_NAME
    from textclf.text.pipeline import SortedBatches

    root, single, ensemble = single_and_ensemble
    inner = ensemble.model.get_layer(CLASSIFIER_NAME)
    assert [layer.name for layer in inner.layers] == ["token_ids", "member_1", "member_2", "mean_probabilities"]
    first, second = inner.get_layer("member_1"), inner.get_layer("member_2")
    # Same seed, same data: member 1 is bit for bit the model a single run trains (so --ensemble 1 and the
    # default on large data are unchanged), and member 2 differs.
    for a, b in zip(first.get_weights(), single.model.get_layer(CLASSIFIER_NAME).get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first.get_weights(), second.get_weights()))
    texts = ["i like my dog", "pizza and cheese today", "we see tennis and golf"]
    ids = ensemble.vectorize(texts)
    expected = (SortedBatches(ids).predict(first) + SortedBatches(ids).predict(second)) / 2
    np.testing.assert_allclose(ensemble.predict_proba(texts), expected, atol=1e-6)


def test_a_member_trained_in_reused_models_equals_one_trained_alone(tmp_path):
    """Members train in compiled models reused across members (traced once); the numbers are a fresh model's."""
    import dataclasses

    from conftest import make_texts, write_csv
    from textclf.config import TrainConfig
    from textclf.training.distribute import Runtime
    from textclf.training.prepare import prepare, read_tables
    from textclf.training.phases import fit_member
    from textclf.training.recurrent import set_determinism
    from textclf.training.trainers import Trainers
    from textclf.training.state import NoProgress

    train = write_csv(tmp_path / "train.csv", make_texts(120, seed=4))
    options = {**FAST_OPTIONS, "wide": "none", "embedding_mode": "two-phase", "ensemble": 1,
               "learning_rate": 2e-3}  # fit_member takes a resolved config (run_training resolves it)
    config = TrainConfig(train=str(train), output=str(tmp_path / "unused"), seed=5, **options).validate()
    prepared = prepare(config, read_tables(config), lambda message: None)
    runtime, quiet = Runtime("none"), (lambda message: None)

    def member(seed, trainers):
        set_determinism(seed)
        model, _ = fit_member(dataclasses.replace(config, seed=seed), prepared, runtime, NoProgress(), quiet, 0,
                              f"seed_{seed}", trainers=trainers)
        return model.get_weights()

    alone = member(6, Trainers(prepared, runtime))
    shared = Trainers(prepared, runtime)
    first = member(5, shared)
    after_another = member(6, shared)
    for a, b in zip(alone, after_another):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, after_another))


def test_ensemble_metadata_history_and_info(single_and_ensemble):
    from textclf.commands.info import describe

    root, single, ensemble = single_and_ensemble
    meta = json.loads((root / "ensemble" / "metadata.json").read_text())
    assert [member["seed"] for member in meta["fitted"]["members"]] == [5, 6]
    assert meta["fitted"]["ensemble_rule"] == "--ensemble"
    assert meta["requested"]["ensemble"] == 2
    assert [len(member["phases"]) for member in meta["fitted"]["members"]] == [2, 2]
    history = (root / "ensemble" / "reports" / "history.csv").read_text().splitlines()
    assert history[0].split(",")[0] == "member" and {row.split(",")[0] for row in history[1:]} == {"1", "2"}
    assert (root / "ensemble" / "reports" / "training_curves.png").stat().st_size > 0
    assert "ensemble: 2 models averaged (seeds 5, 6), by --ensemble" in describe(meta, root / "ensemble")
    single_meta = json.loads((root / "single" / "metadata.json").read_text())
    assert len(single_meta["fitted"]["members"]) == 1
    assert "member" not in (root / "single" / "reports" / "history.csv").read_text().splitlines()[0]
    assert not any(line.startswith("ensemble") for line in describe(single_meta, root / "single"))


def test_saved_ensemble_loads_in_plain_keras(single_and_ensemble):
    root, _, ensemble = single_and_ensemble
    texts = ["i like my dog", "pizza and cheese today"]
    there = predict_with_plain_keras(root / "ensemble" / "model.keras", texts)
    np.testing.assert_allclose(there, ensemble.predict_proba(texts), atol=1e-6)


def test_cli_ensemble_option(tmp_path, capsys):
    from textclf.cli import main

    assert main(["train", "--input", "x.csv", "--ensemble", "none"]) == 2
    err = capsys.readouterr().err
    assert "argument --ensemble: expected 'auto' or an integer. Received: 'none'" in err
    from textclf.commands.train import config_from_args
    from textclf.cli import build_parser

    parser = build_parser()
    for value, expected in (("auto", None), ("3", 3)):
        args = parser.parse_args(["train", "--input", "x.csv", "--ensemble", value])
        assert config_from_args(args).ensemble == expected
    from textclf.config import TrainConfig
    from textclf.errors import ConfigError

    with pytest.raises(ConfigError, match=r"ensemble must be an integer > 0\. Received: ensemble=0"):
        TrainConfig(train="x.csv", ensemble=0).validate()


def test_ensemble_exports_to_a_saved_model(single_and_ensemble, tmp_path):
    import tensorflow as tf

    from textclf.cli import main

    root, _, ensemble = single_and_ensemble
    assert main(["export", "--model", str(root / "ensemble"), "--output", str(tmp_path / "exported")]) == 0
    texts = ["i like my dog", "pizza and cheese today"]
    out = tf.saved_model.load(str(tmp_path / "exported")).signatures["serve"](tf.constant(texts))
    np.testing.assert_allclose(out["probabilities"].numpy(), ensemble.predict_proba(texts), atol=1e-6)


def test_members_take_the_listed_heads_in_turn(tmp_path):
    """--head bigru,cnn: members alternate heads; member 1 is still the single bigru model; plain Keras loads it."""
    import textclf
    from conftest import make_texts, write_csv
    from textclf.commands.info import describe

    train = write_csv(tmp_path / "train.csv", make_texts(150, seed=4))
    options = {**FAST_OPTIONS, "wide": "none", "embedding_mode": "two-phase", "seed": 5, "member_start": "scratch",
               "ensemble_combine": "probabilities"}
    single = textclf.train(train, output=str(tmp_path / "single"), **options)
    mixed = textclf.train(train, output=str(tmp_path / "mixed"), **{**options, "ensemble": 3, "head": "bigru,cnn"})
    inner = mixed.model.get_layer("classifier")
    kinds = [{type(layer).__name__ for layer in inner.get_layer(f"member_{i}").layers} for i in (1, 2, 3)]
    assert "Bidirectional" in kinds[0] and "Conv1D" not in kinds[0]
    assert "Conv1D" in kinds[1] and "Bidirectional" not in kinds[1]
    assert "Bidirectional" in kinds[2]
    for a, b in zip(inner.get_layer("member_1").get_weights(), single.model.get_layer("classifier").get_weights()):
        np.testing.assert_array_equal(a, b)
    meta = json.loads((tmp_path / "mixed" / "metadata.json").read_text())
    assert [member["head"] for member in meta["fitted"]["members"]] == ["bigru", "cnn", "bigru"]
    assert meta["requested"]["head"] == "bigru,cnn"
    assert "ensemble: 3 models averaged (seeds 5, 6, 7; heads bigru, cnn, bigru), by --ensemble" in describe(
        meta, tmp_path / "mixed")
    texts = ["i like my dog", "pizza and cheese today"]
    there = predict_with_plain_keras(tmp_path / "mixed" / "model.keras", texts)
    np.testing.assert_allclose(there, mixed.predict_proba(texts), atol=1e-6)


@pytest.fixture(scope="module")
def shared_start(tmp_path_factory):
    """The same 3-member run, members 2-3 fine-tuned from member 1's frozen phase: probabilities and weights averaged."""
    import textclf
    from conftest import make_texts, write_csv

    root = tmp_path_factory.mktemp("shared_start")
    train = write_csv(root / "train.csv", make_texts(150, seed=4))
    options = {**FAST_OPTIONS, "embedding_mode": "two-phase", "seed": 5, "ensemble": 3, "member_start": "frozen"}
    by_probabilities = textclf.train(train, output=str(root / "probabilities"),
                                     **options, ensemble_combine="probabilities")
    by_weights = textclf.train(train, output=str(root / "weights"), **options, ensemble_combine="weights")
    return root, by_probabilities, by_weights


def test_members_after_the_first_fine_tune_from_its_frozen_phase(shared_start):
    root, _, _ = shared_start
    meta = json.loads((root / "probabilities" / "metadata.json").read_text())
    first, *others = meta["fitted"]["members"]
    assert first["start"] == "scratch" and [p["embeddings"] for p in first["phases"]] == ["frozen", "finetune"]
    for member in others:
        assert member["start"] == "member 1 after its frozen phase"
        shared, own = member["phases"]
        # Member 1's frozen phase, recorded as shared (no epochs of its own), then its own fine-tuning.
        assert shared == {**first["phases"][0], "epochs": 0, "shared_with_member": 1}
        assert own["embeddings"] == "finetune" and member["epochs"] == own["epochs"] > 0
    rows = (root / "probabilities" / "reports" / "history.csv").read_text().splitlines()
    header = rows[0].split(",")
    phases_of = {}
    for row in rows[1:]:
        values = dict(zip(header, row.split(",")))
        phases_of.setdefault(values["member"], set()).add(values["phase"])
    assert phases_of == {"1": {"frozen", "finetune"}, "2": {"finetune"}, "3": {"finetune"}}


def test_weights_averaged_into_one_model_as_fast_as_a_member(shared_start):
    from textclf.commands.info import describe
    from textclf.models.build import CLASSIFIER_NAME

    root, by_probabilities, by_weights = shared_start
    members = by_probabilities.model.get_layer(CLASSIFIER_NAME)
    soup = by_weights.model.get_layer(CLASSIFIER_NAME)
    # Same seeds, same data: the members are the same; the saved model holds their weights' mean, one member's size.
    assert not any(layer.name.startswith("member_") for layer in soup.layers)
    assert soup.count_params() * 3 == sum(members.get_layer(f"member_{i}").count_params() for i in (1, 2, 3))
    for got, *each in zip(soup.get_weights(), *(members.get_layer(f"member_{i}").get_weights() for i in (1, 2, 3))):
        np.testing.assert_allclose(got, np.mean(each, axis=0), atol=1e-6)
    meta = json.loads((root / "weights" / "metadata.json").read_text())
    assert meta["fitted"]["ensemble_combine"] == "weights" and len(meta["fitted"]["members"]) == 3
    lines = describe(meta, root / "weights")
    assert "ensemble: 3 models weights averaged into one model (seeds 5, 6, 7), by --ensemble" in lines
    assert any(line.startswith("member 2: bigru, seed 6: frozen embeddings, member 1's") for line in lines)
    texts = ["i like my dog", "pizza and cheese today"]
    there = predict_with_plain_keras(root / "weights" / "model.keras", texts)
    np.testing.assert_allclose(there, by_weights.predict_proba(texts), atol=1e-6)


@pytest.mark.parametrize("options, why", [
    ({"member_start": "scratch", "ensemble_combine": "weights"}, "--ensemble-combine weights needs members"),
    ({"member_start": "frozen", "embedding_mode": "frozen"}, "--member-start frozen needs --embedding-mode two-phase"),
])
def test_shared_start_and_weight_average_fall_back_with_a_line(tmp_path, capsys, options, why):
    """Where members cannot share a frozen phase, they train from scratch and their probabilities are averaged."""
    import textclf
    from conftest import make_texts, write_csv

    train = write_csv(tmp_path / "train.csv", make_texts(60, seed=4))
    trained = textclf.train(train, output=str(tmp_path / "m"), **{**FAST_OPTIONS, "wide": "none", "epochs": 1,
                                                                  "ensemble": 2, **options})
    assert why in capsys.readouterr().err
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())["fitted"]
    assert meta["ensemble_combine"] == "probabilities"
    assert [member["start"] for member in meta["members"]] == ["scratch", "scratch"]
    assert trained.model.get_layer("classifier").get_layer("member_2") is not None
