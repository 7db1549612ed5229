"""What the user gives is data: label names drawn and printed literally, one text rule, read files checked.

Bad-input style, as in test_bad_input.py: the real CLI in-process, exit status 2, exactly one line on standard
error, no traceback, and the user's files byte for byte as they were.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import textclf
from conftest import FAST_OPTIONS, make_texts, write_csv
from textclf.cli import main

DOLLARS = {"animals": "$", "food": "$$", "sports": "$$$"}


def _fast_args():
    return [arg for key, value in FAST_OPTIONS.items() for arg in (f"--{key.replace('_', '-')}", str(value))]


def _snapshot(directory):
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mode)
            for p in sorted(Path(directory).rglob("*")) if p.is_file()}


def _one_error(err):
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("textclf: error:"), err
    return lines[0]


@pytest.fixture(scope="module")
def dollar_model(tmp_path_factory):
    """Trained through the CLI on labels `$`, `$$`, `$$$`, which matplotlib would read as mathtext."""
    base = tmp_path_factory.mktemp("dollars")
    train = write_csv(base / "train.csv", [(t, DOLLARS[label]) for t, label in make_texts(90, seed=5)])
    assert main(["train", "--input", str(train), "--output", str(base / "model"), "--quiet", *_fast_args()]) == 0
    return base / "model"


def test_dollar_labels_train_save_the_model_and_draw_every_figure(dollar_model, capsys):
    classifier = textclf.load(dollar_model)
    assert sorted(classifier.classes_) == ["$", "$$", "$$$"]
    assert set(classifier.predict(["my dog and cat", "cheese and bread"])) <= {"$", "$$", "$$$"}
    for png in ("confusion_matrix.png", "training_curves.png", "reliability_diagram.png"):
        data = (dollar_model / "reports" / png).read_bytes()
        assert data.startswith(b"\x89PNG"), png
    assert "warning" not in capsys.readouterr().err


def test_dollar_labels_evaluate_draws_every_figure(dollar_model, tmp_path, capsys):
    data = write_csv(tmp_path / "eval.csv", [(t, DOLLARS[label]) for t, label in make_texts(30, seed=8)])
    assert main(["evaluate", "--input", str(data), "--model", str(dollar_model), "--output", str(tmp_path / "r"),
                 "--quiet"]) == 0
    for png in ("confusion_matrix.png", "reliability_diagram.png"):
        assert (tmp_path / "r" / png).read_bytes().startswith(b"\x89PNG")
    assert "$$$" in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")


def test_multilabel_figures_draw_dollar_labels_literally(tmp_path):
    from textclf.tasks.multilabel_reports import plot_cooccurrence, plot_label_confusion

    labels = ["$", "$$", "US$ 5 $x^2$"]
    plot_label_confusion(np.ones((3, 2, 2), dtype=int), labels, tmp_path / "m.png", title="a $b$ c.csv")
    plot_cooccurrence(np.eye(3, dtype=int), labels, tmp_path / "c.png", title="$$")
    assert (tmp_path / "m.png").stat().st_size and (tmp_path / "c.png").stat().st_size


def test_a_figure_that_fails_is_a_warning_naming_it(tmp_path, capsys):
    from textclf.evaluation.plotting import best_effort

    def broken(path):
        Path(path).write_bytes(b"half")
        raise RuntimeError("cannot draw")

    assert best_effort(tmp_path / "confusion_matrix.png", broken, tmp_path / "confusion_matrix.png") is False
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("textclf: warning: report confusion_matrix.png was not drawn")
    assert not (tmp_path / "confusion_matrix.png").exists()


def test_a_failing_report_never_costs_the_model(tmp_path, monkeypatch, capsys):
    import textclf.evaluation.reports

    def fail(*args, **kwargs):
        raise ValueError("mathtext says no")

    monkeypatch.setattr(textclf.evaluation.reports, "plot_confusion_matrix", fail)
    train = write_csv(tmp_path / "train.csv", make_texts(90, seed=5))
    assert main(["train", "--input", str(train), "--output", str(tmp_path / "model"), "--quiet", *_fast_args()]) == 0
    assert textclf.load(tmp_path / "model").predict(["a dog"]).shape == (1,)
    assert not (tmp_path / "model" / "reports" / "confusion_matrix.png").exists()
    assert (tmp_path / "model" / "reports" / "confusion_matrix.csv").exists()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "confusion_matrix.png" in warnings[0]


# --- terminals ----------------------------------------------------------------

def test_visible_escapes_control_and_bidi_characters():
    from textclf.runtime.terminal import visible

    assert visible("plain label, café") == "plain label, café"
    assert visible("\x1b]0;owned\x07x\ry") == "\\x1b]0;owned\\x07x\\x0dy"
    assert visible("a\u202eb\tc") == "a\\u202eb\\x09c"
    assert visible("two\nlines", keep_newlines=True) == "two\nlines"


def test_info_shows_control_characters_visibly(dollar_model, tmp_path, capsys):
    copy = tmp_path / "model"
    shutil.copytree(dollar_model, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta["labels"] = ["\x1b]0;pwned\x07", "\x1b[2J", "ok\u202e"]
    (copy / "metadata.json").write_text(json.dumps(meta))
    assert main(["info", "--model", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]0;pwned\\x07, \\x1b[2J, ok\\u202e" in out


def test_error_lines_show_control_characters_visibly(tmp_path, capsys):
    bad = tmp_path / "tr\x1b[2Jain.csv"
    assert main(["train", "--input", str(bad), "--output", str(tmp_path / "m")]) == 2
    line = _one_error(capsys.readouterr().err)
    assert "\x1b" not in line and "tr\\x1b[2Jain.csv: file not found" in line


# --- metadata.json and model.keras --------------------------------------------

@pytest.mark.parametrize("change, expected", [
    (lambda m: m.update(requested="notadict"), "'requested' should be an object, found a string"),
    (lambda m: m.update(fitted=[1]), "'fitted' should be an object, found a list"),
    (lambda m: m["fitted"].update(members={"head": "gru"}), "'fitted.members' should be a list, found an object"),
    (lambda m: m["fitted"]["members"][0]["phases"][0].update(best_loss="low"),
     "'fitted.members[0].phases[0].best_loss' should be a number, found a string"),
    (lambda m: m.update(labels=["$", 2, "$$$"]), "'labels[1]' should be a string, found a number"),
    (lambda m: m["fitted"].update(metrics=None), "'fitted.metrics' should be an object, found null"),
], ids=["requested", "fitted", "members", "best-loss", "label", "metrics"])
@pytest.mark.parametrize("command", ["info", "predict"])
def test_metadata_of_the_wrong_shape_is_one_line(dollar_model, tmp_path, capsys, change, expected, command):
    def damage(copy):
        meta = json.loads((copy / "metadata.json").read_text())
        change(meta)
        (copy / "metadata.json").write_text(json.dumps(meta))

    line = _refused_on_a_damaged_copy(dollar_model, tmp_path, capsys, command, damage)
    assert f"{tmp_path / 'model' / 'metadata.json'}: {expected}" in line


@pytest.mark.parametrize("command", ["info", "predict"])
def test_a_model_keras_that_is_not_an_archive_says_so(dollar_model, tmp_path, capsys, command):
    def damage(copy):
        (copy / "model.keras").write_bytes(b"not a zip archive at all" * 10)

    line = _refused_on_a_damaged_copy(dollar_model, tmp_path, capsys, command, damage)
    assert "model.keras: cannot be loaded as a Keras model: it is not a valid .keras archive" in line
    assert "not found" not in line.lower()


def _refused_on_a_damaged_copy(dollar_model, tmp_path, capsys, command, damage):
    """Runs `info` or `predict` on a copy of the model changed by `damage`; asserts exit 2, one line, nothing
    written; returns the line."""
    copy = tmp_path / "model"
    shutil.copytree(dollar_model, copy)
    damage(copy)
    data = write_csv(tmp_path / "in.csv", [("a dog", "x")])
    before = _snapshot(tmp_path)
    args = ["info", "--model", str(copy)] if command == "info" else [
        "predict", "--input", str(data), "--model", str(copy), "--output", str(tmp_path / "out.csv")]
    assert main(args) == 2
    line = _one_error(capsys.readouterr().err)
    assert _snapshot(tmp_path) == before
    return line


# --- one text rule ----------------------------------------------------------------

@pytest.fixture(scope="module")
def classifier(dollar_model):
    return textclf.load(dollar_model)


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
@pytest.mark.parametrize("bad, what", [
    ("", "is empty or whitespace only"), (" \t\n", "is empty or whitespace only"), ("a\x00b", "contains a NUL byte"),
], ids=["empty", "whitespace", "nul"])
def test_library_refuses_what_the_cli_refuses_naming_the_index(classifier, method, bad, what):
    with pytest.raises(textclf.InputDataError, match=rf"^texts\[1\] {what}"):
        getattr(classifier, method)(["a dog", bad, "cheese"])


@pytest.mark.parametrize("bad, message", [
    ("", r"row 3, column 'text': text is empty or whitespace only"),
    ("a\x00dog", r"row 3, column 'text': contains a NUL byte"),
], ids=["empty", "nul"])
@pytest.mark.parametrize("command", ["predict", "evaluate", "train"])
def test_cli_commands_share_the_rule(dollar_model, tmp_path, capsys, bad, message, command):
    rows = [("a dog", "$"), (bad, "$$"), ("cheese", "$$")]
    data = tmp_path / "in.csv"
    data.write_bytes(("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows)).encode())
    before = _snapshot(tmp_path)
    args = {"predict": ["predict", "--input", str(data), "--model", str(dollar_model), "--output", str(tmp_path / "o.csv")],
            "evaluate": ["evaluate", "--input", str(data), "--model", str(dollar_model), "--output", str(tmp_path / "r")],
            "train": ["train", "--input", str(data), "--output", str(tmp_path / "m"), *_fast_args()]}[command]
    assert main(args) == 2
    line = _one_error(capsys.readouterr().err)
    assert f"{data}, " in line and __import__("re").search(message, line), line
    assert _snapshot(tmp_path) == before


def test_predict_never_writes_a_nul_byte_even_when_skipping(dollar_model, tmp_path, capsys):
    data = tmp_path / "in.csv"
    data.write_bytes(b"id,text\n1,a dog\n2,cheese\n3,fine text\n4,x\x00y\n")
    before = _snapshot(tmp_path)
    assert main(["predict", "--input", str(data), "--model", str(dollar_model), "--output", str(tmp_path / "o.csv"),
                 "--on-bad-rows", "skip"]) == 2
    assert "row 5, column 'text': contains a NUL byte" in _one_error(capsys.readouterr().err)
    data.write_bytes(b"id,text\n1\x00,a dog\n")
    assert main(["predict", "--input", str(data), "--model", str(dollar_model), "--output", str(tmp_path / "o.csv")]) == 2
    assert "row 2, column 'id': contains a NUL byte" in _one_error(capsys.readouterr().err)
    assert not (tmp_path / "o.csv").exists() and before.keys() == _snapshot(tmp_path).keys()


def test_a_column_of_shape_n_1_is_n_texts(classifier):
    texts = ["my dog and cat", "cheese and bread", "tennis and golf"]
    expected = classifier.predict_proba(texts)
    np.testing.assert_array_equal(classifier.predict_proba(np.array(texts).reshape(-1, 1)), expected)
    np.testing.assert_array_equal(classifier.predict_proba(pd.DataFrame({"text": texts})), expected)
    assert list(classifier.predict(np.array(texts, dtype=object).reshape(3, 1))) == list(classifier.predict(texts))


@pytest.mark.parametrize("shape", [(2, 2), (1, 2, 1), (3, 0)])
def test_other_shapes_are_refused_naming_the_shape(classifier, shape):
    texts = np.full(shape, "a dog", dtype=object)
    with pytest.raises(textclf.InputDataError, match=rf"Received: an array of shape \({shape[0]}, {shape[1]}"):
        classifier.predict_proba(texts)


# --- encodings -------------------------------------------------------------------

BODY = "text,label\n" + "".join(f"{t},{label}\n" for t, label in make_texts(12, seed=3))


@pytest.mark.parametrize("name, data, hint", [
    ("utf16le", BODY.encode("utf-16"), "its first bytes are a UTF-16 LE byte-order mark: pass --encoding utf-16"),
    ("utf16be", b"\xfe\xff" + BODY.encode("utf-16-be"),
     "its first bytes are a UTF-16 BE byte-order mark: pass --encoding utf-16"),
    ("utf16-no-bom", BODY.encode("utf-16-le"), "UTF-16 LE text without a byte-order mark: pass --encoding utf-16-le"),
])
@pytest.mark.parametrize("command", ["train", "predict"])
def test_utf16_input_gets_a_hint_that_names_it(dollar_model, tmp_path, capsys, name, data, hint, command):
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    before = _snapshot(tmp_path)
    args = (["train", "--input", str(path), "--output", str(tmp_path / "m")] if command == "train" else
            ["predict", "--input", str(path), "--model", str(dollar_model), "--output", str(tmp_path / "o.csv")])
    assert main(args) == 2
    line = _one_error(capsys.readouterr().err)
    assert hint in line and "latin-1" not in line, line
    assert _snapshot(tmp_path) == before


def test_utf8_bom_read_as_latin1_is_named(tmp_path, capsys):
    path = tmp_path / "in.csv"
    path.write_bytes(b"\xef\xbb\xbf" + BODY.encode())
    assert main(["train", "--input", str(path), "--output", str(tmp_path / "m"), "--encoding", "latin-1"]) == 2
    assert "its first bytes are a UTF-8 byte-order mark: pass --encoding utf-8" in _one_error(capsys.readouterr().err)


def test_the_hinted_utf16_encoding_reads_the_file(tmp_path):
    from textclf.data.tables import read_labeled

    path = tmp_path / "in.csv"
    path.write_bytes(BODY.encode("utf-16"))
    assert len(read_labeled(path, encoding="utf-16").texts) == 12
