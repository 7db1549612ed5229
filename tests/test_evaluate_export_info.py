"""`textclf evaluate`, `textclf export` (SavedModel without textclf/Keras) and `textclf info`."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import make_texts, write_csv


@pytest.fixture(scope="module")
def model_dir(trained_model_dir):
    return trained_model_dir


def cli(*argv):
    from textclf.cli import main

    return main([str(a) for a in argv])


def test_commands_do_not_import_tensorflow():
    code = ("import sys, textclf.cli\n"
            "textclf.cli.build_parser()\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TensorFlow'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_evaluate_reports_and_unseen_labels(tmp_path, model_dir, capsys):
    import textclf

    rows = make_texts(90, seed=11)
    rows[4] = (rows[4][0], "vehicles")
    rows[7] = (rows[7][0], "vehicles")
    inp = write_csv(tmp_path / "eval.csv", rows)
    reports = tmp_path / "reports"
    assert cli("evaluate", "--model", model_dir, "--input", inp, "--output", reports, "--chunk-size", "25") == 0
    out = capsys.readouterr().out
    clf = textclf.load(model_dir)
    predicted = clf.predict([t for t, _ in rows])
    accuracy = float(np.mean(predicted == np.array([label for _, label in rows])))
    assert f"eval.csv: accuracy {accuracy:.4f}, macro F1" in out
    assert "labels the model never saw (counted as errors): 'vehicles' (2 rows)" in out
    assert sorted(p.name for p in reports.iterdir()) == [
        ".textclf-output.json", "calibration.json", "classification_report.json", "classification_report.txt", "confused_pairs.csv",
        "confusion_matrix.csv", "confusion_matrix.png", "data_summary.json", "errors.csv", "reliability_diagram.png",
        "report.html"]
    wrong = [(t, label) for (t, label), p in zip(rows, predicted) if label != p]  # across chunks of 25 rows
    errors = pd.read_csv(reports / "errors.csv")
    assert sorted(zip(errors["text"], errors["true_label"])) == sorted(wrong)
    report = json.loads((reports / "classification_report.json").read_text())
    assert report["labels_unknown_to_model"] == ["vehicles"]
    assert report["accuracy"] == pytest.approx(accuracy)
    assert (reports / "confusion_matrix.csv").read_text().splitlines()[0].endswith("animals,food,sports,vehicles")

    # Bad rows: an error naming the row by default, left out with --on-bad-rows skip.
    rows[10] = (rows[10][0], " ")
    bad = write_csv(tmp_path / "bad.csv", rows)
    assert cli("evaluate", "--model", model_dir, "--input", bad, "--output", reports) == 2
    assert "bad.csv, row 12, column 'label': label is empty" in capsys.readouterr().err
    assert cli("evaluate", "--model", model_dir, "--input", bad, "--output", reports, "--on-bad-rows", "skip") == 0
    assert "1 rows skipped" in capsys.readouterr().out
    assert json.loads((reports / "classification_report.json").read_text())["macro avg"]["support"] == 89
    assert cli("evaluate", "--model", model_dir, "--input", inp, "--output", reports, "--label-column", "nope") == 2
    assert "no column 'nope'" in capsys.readouterr().err


def test_export_saved_model_runs_without_textclf_or_keras(tmp_path, model_dir, capsys):
    import textclf

    saved = tmp_path / "exported"
    assert cli("export", "--model", model_dir, "--output", saved) == 0
    assert "signature 'serve'" in capsys.readouterr().out
    assert (saved / "saved_model.pb").is_file()
    assert json.loads((saved / "assets.extra" / "labels.json").read_text()) == ["animals", "food", "sports"]
    texts = [t for t, _ in make_texts(20, seed=12)] + ["...", "Don't panic!!", "x" * 300]  # no token; one long token
    # TensorFlow imports Keras when it can; a stub that fails to import hides it.
    hide = tmp_path / "hide" / "keras"
    hide.mkdir(parents=True)
    (hide / "__init__.py").write_text("raise ImportError('keras is hidden in this test')\n")
    code = (
        "import json, sys\n"
        "import tensorflow as tf\n"
        f"m = tf.saved_model.load({str(saved)!r})\n"
        f"out = m.signatures['serve'](tf.constant({texts!r}))\n"
        "assert 'keras' not in sys.modules and not any(k.startswith('textclf') for k in sys.modules)\n"
        "print(json.dumps({'p': out['probabilities'].numpy().tolist(),\n"
        "                  'label': [x.decode() for x in out['label'].numpy()],\n"
        "                  'confidence': out['confidence'].numpy().tolist(),\n"
        "                  'classes': [x.decode() for x in m.classes.numpy()]}))\n"
    )
    import os

    env = {**os.environ, "PYTHONPATH": str(hide.parent), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    there = json.loads(result.stdout.strip().splitlines()[-1])
    clf = textclf.load(model_dir)
    expected = clf.predict_proba(texts)
    np.testing.assert_allclose(np.array(there["p"]), expected, atol=1e-5)
    assert there["label"] == list(clf.predict(texts))
    np.testing.assert_allclose(there["confidence"], expected.max(axis=1), atol=1e-5)
    assert there["classes"] == ["animals", "food", "sports"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_info_human_and_json(tmp_path, model_dir, capsys):
    assert cli("info", "--model", model_dir) == 0
    out = capsys.readouterr().out
    assert "labels (3): animals, food, sports" in out
    assert "head: bigru (units 8" in out
    assert "embeddings: glove-6b-50d" in out and "coverage: 100.0% of tokens" in out
    assert "max_length: 12 tokens" in out
    assert "metrics (validation" in out and "accuracy" in out
    assert cli("info", "--model", model_dir, "--json") == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta == json.loads((model_dir / "metadata.json").read_text())
    assert cli("info", "--model", tmp_path) == 2
    assert "metadata.json: file not found" in capsys.readouterr().err
