"""metadata.json schema 2 (requested / fitted), its version check, and schema-1 directories."""

import json
import shutil

import numpy as np
import pytest

from conftest import make_texts


def _as_schema_1(meta):
    """The metadata.json textclf wrote before schema 2, for the same run."""
    requested, fitted = meta["requested"], meta["fitted"]
    member = fitted["members"][0]
    return {
        "schema_version": 1, "textclf_version": "0.1.0", "keras_version": meta["keras_version"],
        "tensorflow_version": meta["tensorflow_version"], "created": meta["created"], "labels": meta["labels"],
        "text_column": "text", "label_column": "label", "config": requested, "max_length": fitted["max_length"],
        "embeddings": {**fitted["embeddings"], "mode": requested["embedding_mode"], "oov": requested["oov"]},
        "head": {"name": requested["head"], "units": requested["units"], "layers": requested["layers"],
                 "dropout": requested["dropout"], "embedding_dropout": requested["embedding_dropout"],
                 "pooling": requested["pooling"]},
        "data": {"train_rows": fitted["split"]["train_rows"], "validation_rows": fitted["split"]["validation_rows"],
                 "test_rows": None, "validation": fitted["split"]["description"]},
        "training": {"seconds": 1.0, "epochs": member["epochs"],
                     "phases": [{k: v for k, v in p.items() if k != "kept"} for p in member["phases"]]},
        "distribute": fitted["distribute"],
        "ensemble": {"members": 1, "rule": "--ensemble", "training_tokens": 900, "heads": [member["head"]],
                     "seeds": [member["seed"]]},
        "wide": {k: v for k, v in fitted["ngram"].items() if k != "kept"},
        "metrics": fitted["metrics"],
    }


@pytest.fixture
def schema_1_dir(trained_model_dir, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(trained_model_dir, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    (copy / "metadata.json").write_text(json.dumps(_as_schema_1(meta)))
    return copy


def test_schema_1_directory_loads_and_predicts_the_same(trained_model_dir, schema_1_dir):
    import textclf

    texts = [t for t, _ in make_texts(10, seed=21)]
    new, old = textclf.load(trained_model_dir), textclf.load(schema_1_dir)
    np.testing.assert_array_equal(old.predict_proba(texts), new.predict_proba(texts))
    assert list(old.classes_) == list(new.classes_)
    # Read as schema 2: the same fitted choices where schema 1 recorded them.
    assert old.metadata["schema_version"] == 2 and old.metadata["upgraded_from"] == 1
    for key in ("max_length", "metrics", "distribute"):
        assert old.metadata["fitted"][key] == new.metadata["fitted"][key], key
    assert old.metadata["fitted"]["members"] == new.metadata["fitted"]["members"]
    assert old.metadata["fitted"]["ngram"] == {k: v for k, v in new.metadata["fitted"]["ngram"].items()}
    assert old.metadata["requested"] == new.metadata["requested"]


def test_info_describes_both_schemas_alike(trained_model_dir, schema_1_dir, capsys):
    from textclf.cli import main

    described = []
    for directory in (trained_model_dir, schema_1_dir):
        assert main(["info", "--model", str(directory)]) == 0
        described.append(capsys.readouterr().out.splitlines()[1:])  # past the "model: DIR" line
    new, old = described
    # Schema 1 did not record the vocabulary size, the max_length rule, the character cap (its models read texts
    # whole), the grouping numbers or peak memory.
    same = [line for line in new
            if not line.startswith(("training:", "trained with", "data:", "embeddings:", "max_length:",
                                    "max_chars:"))]
    assert [line for line in old if line in same] == same and "max_length: 12 tokens" in "\n".join(old)
    text = "\n".join(new)
    for expected in ("model: bigru, seed 42: frozen embeddings, 2 epochs, best epoch", "max_length: 12 tokens",
                     "max_chars: 200,000 characters per text (the default)", "n-gram branch: bigrams", "features, C ",
                     "early stopping: patience 1 epochs, minimum improvement 0.001",
                     "data: 135 train, 15 validation, 0 test rows", "vocabulary 49 entries"):
        assert expected in text, expected


@pytest.mark.parametrize("version", [3, "2", None, True])
def test_unknown_schema_version_is_refused(trained_model_dir, tmp_path, capsys, version):
    import textclf
    from textclf.cli import main
    from textclf.errors import ModelFileError

    copy = tmp_path / "future"
    shutil.copytree(trained_model_dir, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    (copy / "metadata.json").write_text(json.dumps({**meta, "schema_version": version}))
    with pytest.raises(ModelFileError, match=rf"schema_version {version!r} is not one textclf .* reads \(1, 2\)"):
        textclf.load(copy)
    assert main(["info", "--model", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "upgrade textclf" in err[0]


def test_metadata_without_schema_version_is_schema_1(tmp_path):
    from textclf.artifacts import metadata

    (tmp_path / "metadata.json").write_text(json.dumps({"labels": ["a", "b"], "wide": {"mode": "bigrams",
                                                                                       "weight": 0.25}}))
    upgraded = metadata.load(tmp_path)
    assert upgraded["upgraded_from"] == 1 and upgraded["labels"] == ["a", "b"]
    assert metadata.ngram_weight(upgraded) == metadata.ngram_weight(metadata.read(tmp_path)) == 0.25
    assert upgraded["fitted"]["ngram"]["kept"] is True
