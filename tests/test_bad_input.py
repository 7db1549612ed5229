"""Every mistake gets one clear line: the real CLI on bad inputs.

Each case runs `textclf.cli.main([...])` in-process and checks: exit status 2,
exactly one line on stderr, `textclf: error: ...` (every line counts, TensorFlow's
own included), no "Traceback", the message names the file and, where it
applies, the row (1-based, as a spreadsheet shows it: the header is row 1)
and the column, and no file under the test directory was created or changed.
A few cases run as true subprocesses to prove no traceback reaches a terminal.

Labels are kept as written: `0`, `1`, `2` are ordinary class names (GLUE
style), and the module's model is trained on exactly such labels; a *missing*
(empty) label is an error, never a class of its own.
"""

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FAST_OPTIONS, ROOT, make_texts, write_csv
from textclf.cli import main

NUMERIC = {"animals": "0", "food": "1", "sports": "2"}


def _fast_args():
    args = []
    for key, value in FAST_OPTIONS.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def _rows(n, seed=0):
    return [(text, NUMERIC[label]) for text, label in make_texts(n, seed=seed)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny model trained once, on numeric labels 0/1/2."""
    base = tmp_path_factory.mktemp("bad_input_model")
    train = write_csv(base / "train.csv", _rows(90, seed=5))
    out = base / "model"
    assert main(["train", "--input", str(train), "--output", str(out), "--quiet", *_fast_args()]) == 0
    return out


def _tree(directory):
    out = {}
    for path in sorted(Path(directory).rglob("*")):
        out[str(path.relative_to(directory))] = path.stat().st_mtime_ns if path.is_file() else None
    return out


def _one_error(err):
    """The one line on standard error; every line counts (TensorFlow's too)."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("textclf: error:"), err
    return lines[0]


# --- writers ---------------------------------------------------------------

def raw(name, data):
    def make(d):
        path = d / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return path
    return make


def csv_rows(name, rows, header=("text", "label"), delimiter=","):
    return lambda d: write_csv(d / name, rows, header=header, delimiter=delimiter)


GOOD = _rows(30, seed=1)


def train(make_file, *extra):
    """A `train` case on the file `make_file` writes."""
    def argv(d, model):
        return ["train", "--input", str(make_file(d)), "--output", str(d / "out"), "--quiet", *_fast_args(), *extra]
    return argv


def train_good(*extra):
    return train(csv_rows("train.csv", GOOD), *extra)


def evaluate(make_file, *extra, model_change=None):
    """An `evaluate` case on the module's model (optionally a damaged copy)."""
    def argv(d, model):
        if model_change is not None:
            copy = d / "model"
            shutil.copytree(model, copy)
            model_change(copy)
            model = copy
        return ["evaluate", "--input", str(make_file(d)), "--model", str(model), "--output", str(d / "reports"), *extra]
    return argv


def embeddings(name, data, *extra):
    def argv(d, model):
        emb = raw(name, data)(d)
        return train_good("--embeddings", str(emb), *extra)(d, model)
    return argv


def _corrupt(copy):
    data = bytearray((copy / "model.keras").read_bytes())
    (copy / "model.keras").write_bytes(bytes(data[: len(data) // 2]))


def _relabel(copy):
    meta = json.loads((copy / "metadata.json").read_text())
    meta["labels"] = ["0", "1"]
    (copy / "metadata.json").write_text(json.dumps(meta))


def _bad_json(copy):
    (copy / "metadata.json").write_text("{not json")


DIM3 = "dog 0.1 0.2 0.3\ncat 0.2 0.1 0.0\nthe 0.3 0.3 0.3\n"

# (id, argv builder, regex the error line must match). `{d}` is the test directory.
CASES = [
    ("missing-file", lambda d, m: ["train", "--input", str(d / "nope.csv"), "--output", str(d / "o")],
     r"{d}/nope\.csv: file not found"),
    ("directory", lambda d, m: ["train", "--input", str(d), "--output", str(d / "o")],
     r"{d}: is a directory"),
    ("empty-file", train(raw("train.csv", b"")), r"train\.csv: file is empty"),
    ("header-only", train(raw("train.csv", "text,label\n")), r"train\.csv: has a header but no data rows"),
    ("no-rows-no-header", train(raw("train.csv", "\n\n")), r"train\.csv: (file has no header|has a header but no)"),
    ("wrong-delimiter", train(csv_rows("train.csv", GOOD, delimiter=";")),
     r"train\.csv, row 1, column '[a-z]*': no column 'text'; columns found: 'text;label' \(the file seems to use "
     r"another delimiter"),
    ("tsv-named-csv", train(csv_rows("train.csv", GOOD, delimiter="\t")), r"train\.csv, row 1.*another delimiter"),
    ("missing-text-column", train(csv_rows("train.csv", GOOD, header=("sentence", "label"))),
     r"train\.csv, row 1, column '[a-z]*': no column 'text'; columns found: 'sentence', 'label'"),
    ("missing-label-column", train(csv_rows("train.csv", GOOD, header=("text", "y"))),
     r"train\.csv, row 1, column '[a-z]*': no column 'label'; columns found: 'text', 'y'"),
    ("label-column-option", train(csv_rows("train.csv", GOOD), "--label-column", "topic"),
     r"train\.csv, row 1, column '[a-z]*': no column 'topic'; columns found: 'text', 'label'"),
    ("duplicate-columns", train(raw("train.csv", "text,label,text\na b,0,c\nd e,1,f\n")),
     r"train\.csv, row 1: column name 'text' appears more than once"),
    ("unbalanced-quote", train(raw("train.csv", 'text,label\nfine,0\n"never closed,1\nmore,0\n')),
     r"train\.csv, row 3: unbalanced quote"),
    ("too-many-fields", train(raw("train.csv", "text,label\nfine,0\nhello, world,1\nmore,0\n")),
     r"train\.csv, row 3: has 3 fields where the header has 2"),
    ("nul-byte-text", train(raw("train.csv", "text,label\nfine,0\nbad\x00text,1\nmore,0\n")),
     r"train\.csv, row 3, column 'text': contains a NUL byte"),
    ("nul-byte-label", train(raw("train.csv", "text,label\nfine,0\nbad text,1\x00\nmore,0\n")),
     r"train\.csv, row 3, column 'label': contains a NUL byte"),
    ("utf16-file", train(raw("train.csv", "text,label\ndog,0\ncat,1\n".encode("utf-16-le"))),
     r"train\.csv, row 1, column '[a-z]*': no column 'text'.*pass --encoding utf-16"),
    ("invalid-utf8", train(raw("train.csv", b"text,label\ncaf\xe9 au lait,0\nfine,1\n")),
     r"train\.csv: is not valid utf-8 text .*pass --encoding"),
    ("unknown-encoding", train(csv_rows("train.csv", GOOD), "--encoding", "klingon"), r"train\.csv: .*klingon"),
    ("empty-text", train(csv_rows("train.csv", GOOD[:5] + [("", "1")] + GOOD[5:])),
     r"train\.csv, row 7, column 'text': text is empty or whitespace only"),
    ("whitespace-text", train(csv_rows("train.csv", GOOD[:2] + [(" \t  ", "1")] + GOOD[2:])),
     r"train\.csv, row 4, column 'text': text is empty or whitespace only"),
    ("missing-label", train(csv_rows("train.csv", GOOD[:3] + [("a dog", "")] + GOOD[3:])),
     r"train\.csv, row 5, column 'label': label is empty"),
    ("whitespace-label", train(csv_rows("train.csv", GOOD[:3] + [("a dog", "  ")] + GOOD[3:])),
     r"train\.csv, row 5, column 'label': label is empty"),
    ("one-class", train(csv_rows("train.csv", [(t, "0") for t, _ in GOOD])),
     r"train\.csv, column 'label': all rows have the same label '0'"),
    ("single-example-class", train(csv_rows("train.csv", GOOD + [("a lone zebra", "9")])),
     r"train\.csv: class '9' has a single example; a stratified validation split needs at least 2"),
    ("corrupt-gzip", train(raw("train.csv.gz", b"\x1f\x8b\x08\x00garbage")), r"train\.csv\.gz: cannot be"),
    ("corrupt-parquet", train(raw("train.parquet", b"PAR1 not really")), r"train\.parquet: cannot be read"),
    ("missing-test-file", train_good("--test", "/nonexistent/test.csv"), r"/nonexistent/test\.csv: file not found"),
    ("validation-unseen-label",
     train_good("--validation", "VAL"),  # replaced below
     r"validation label '7' does not occur in the training data"),
    ("validation-split-range", train_good("--validation-split", "1.5"), r"validation_split must be in \(0, 1\)"),
    ("unknown-head", train_good("--head", "transformer"), r"train: argument --head: head must be one of .* Received: head='transformer'"),
    ("unknown-embedding-mode", train_good("--embedding-mode", "melted"),
     r"train: argument --embedding-mode: invalid choice: 'melted'"),
    ("zero-epochs", train_good("--epochs", "0"), r"epochs must be an integer > 0\. Received: epochs=0"),
    ("negative-epochs", train_good("--epochs", "-3"), r"epochs must be an integer > 0\. Received: epochs=-3"),
    ("zero-batch-size", train_good("--batch-size", "0"), r"batch_size must be an integer > 0"),
    ("negative-units", train_good("--units", "-8"), r"units must be an integer > 0\. Received: units=-8"),
    ("non-integer-epochs", train_good("--epochs", "two"), r"train: argument --epochs: invalid int value: 'two'"),
    ("output-parent-missing", lambda d, m: train_good()(d, m) + ["--output", str(d / "no" / "such" / "out")],
     r"{d}/no/such/out: its directory {d}/no/such does not exist"),
    ("output-parent-is-file", lambda d, m: (d / "afile").write_text("x") and train_good()(d, m) + [
        "--output", str(d / "afile" / "out")], r"{d}/afile/out: {d}/afile is not a directory"),
    ("embeddings-missing", train_good("--embeddings", "nowhere.txt"), r"nowhere\.txt"),
    ("embeddings-empty", embeddings("vectors.txt", ""), r"vectors\.txt: .*empty"),
    ("embeddings-ragged", embeddings("vectors.txt", DIM3 + "horse 0.1 0.2\n"), r"vectors\.txt, row 4"),
    ("embeddings-non-numeric", embeddings("vectors.txt", "dog 0.1 0.2 0.3\nthe 0.1 zero 0.3\n"), r"vectors\.txt"),
    ("embeddings-dim-mismatch", embeddings("vectors.txt", DIM3, "--embedding-dim", "50"),
     r"vectors\.txt.*(3|50)"),
    ("word2vec-truncated", embeddings("vectors.bin", b"3 50\ndog \x00\x00\x80?"), r"vectors\.bin"),
    ("eval-missing-label", evaluate(csv_rows("eval.csv", _rows(3, seed=8) + [("a dog", "")])),
     r"eval\.csv, row 5, column 'label'"),
    ("eval-no-model-keras", evaluate(csv_rows("eval.csv", _rows(6)), model_change=lambda c: (c / "model.keras").unlink()),
     r"model/model\.keras: file not found"),
    ("eval-corrupt-model", evaluate(csv_rows("eval.csv", _rows(6)), model_change=_corrupt),
     r"model/model\.keras: cannot be loaded as a Keras model"),
    ("eval-metadata-disagrees", evaluate(csv_rows("eval.csv", _rows(6)), model_change=_relabel),
     r"model/metadata\.json: lists 2 labels but .*model\.keras outputs 3 classes"),
    ("eval-metadata-not-json", evaluate(csv_rows("eval.csv", _rows(6)), model_change=_bad_json),
     r"model/metadata\.json: not valid JSON"),
    ("eval-model-dir-missing", lambda d, m: ["evaluate", "--input", str(write_csv(d / "e.csv", _rows(3))), "--model",
                                             str(d / "nomodel"), "--output", str(d / "r")],
     r"{d}/nomodel: model directory not found"),
    ("eval-report-parent-missing", lambda d, m: ["evaluate", "--input", str(write_csv(d / "e.csv", _rows(3))), "--model",
                                                 str(m), "--output", str(d / "x" / "y" / "r")],
     r"{d}/x/y"),
]


def _validation_case(d, m):
    val = write_csv(d / "val.csv", _rows(6, seed=4) + [("a dog", "7")])
    return train_good("--validation", str(val))(d, m)


CASES = [(cid, _validation_case if cid == "validation-unseen-label" else build, pattern)
         for cid, build, pattern in CASES]

@pytest.mark.parametrize("build, pattern", [pytest.param(build, pattern, id=cid) for cid, build, pattern in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, model_dir, capsys, build, pattern):
    argv = build(tmp_path, model_dir)
    before = _tree(tmp_path)
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err[-3000:]
    line = _one_error(captured.err)
    assert re.search(pattern.replace("{d}", re.escape(str(tmp_path))), line), line
    assert _tree(tmp_path) == before, "files were created or changed"


# --- inputs that must just work ----------------------------------------------

def _ok(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    assert "textclf: error" not in captured.err


def _accuracy(report_dir):
    report = json.loads((Path(report_dir) / "classification_report.json").read_text())
    return report.get("accuracy")


@pytest.mark.parametrize("variant", ["bom", "crlf", "bom+crlf", "gzip"])
def test_bom_and_windows_line_endings_just_work(tmp_path, model_dir, capsys, variant):
    from textclf.data.tables import read_labeled

    rows = _rows(12, seed=9)
    text = "text,label\n" + "".join(f"{t},{y}\n" for t, y in rows)
    if "crlf" in variant:
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    if "bom" in variant:
        data = b"\xef\xbb\xbf" + data
    path = tmp_path / ("eval.csv.gz" if variant == "gzip" else "eval.csv")
    path.write_bytes(gzip.compress(data) if variant == "gzip" else data)
    read = read_labeled(path)
    assert read.texts == [t for t, _ in rows] and read.labels == [y for _, y in rows]
    _ok(["evaluate", "--input", str(path), "--model", str(model_dir), "--output", str(tmp_path / "reports")], capsys)
    assert (tmp_path / "reports").is_dir()


def test_labels_the_model_never_saw_are_reported(tmp_path, model_dir, capsys):
    """evaluate's design: such rows count as errors and are named (exit 0)."""
    path = write_csv(tmp_path / "eval.csv", _rows(6, seed=8) + [("a dog", "animals")])
    code = main(["evaluate", "--input", str(path), "--model", str(model_dir), "--output", str(tmp_path / "reports")])
    captured = capsys.readouterr()
    assert code == 0 and "'animals' (1 rows)" in captured.out + captured.err


def _read_rows(path):
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_numeric_labels_come_back_as_written(tmp_path, model_dir, capsys):
    """Labels 0/1/2 are class names: predict writes them (and the ids) exactly as the training file did."""
    import textclf

    rows = _rows(30, seed=12)
    predicted = textclf.load(model_dir).predict([t for t, _ in rows])
    assert all(isinstance(label, str) for label in predicted.tolist())
    assert set(predicted.tolist()) == {"0", "1", "2"}
    assert np.mean(predicted == np.array([y for _, y in rows])) >= 0.8

    inp = write_csv(tmp_path / "in.csv", [(f"{i:03d}", t) for i, (t, _) in enumerate(rows)], header=("id", "text"))
    _ok(["predict", "--input", str(inp), "--model", str(model_dir), "--output", str(tmp_path / "out.csv"),
         "--probabilities", "--quiet"], capsys)
    out = _read_rows(tmp_path / "out.csv")
    assert [r["id"] for r in out] == [f"{i:03d}" for i in range(30)]  # `007` stays `007`
    assert [r["predicted_label"] for r in out] == predicted.tolist()
    assert {"proba_0", "proba_1", "proba_2"} <= set(out[0])


def test_labels_equal_as_numbers_stay_distinct_classes(tmp_path, capsys):
    """`007`, `7` and `7.0` are three classes: nothing parses labels as numbers on the way in or out."""
    names = {"0": "007", "1": "7", "2": "7.0"}
    train = write_csv(tmp_path / "train.csv", [(t, names[y]) for t, y in _rows(90, seed=5)])
    _ok(["train", "--input", str(train), "--output", str(tmp_path / "m"), "--quiet", *_fast_args()], capsys)
    test_rows = [(t, names[y]) for t, y in _rows(30, seed=13)]
    evaluation = write_csv(tmp_path / "eval.csv", test_rows)
    _ok(["evaluate", "--input", str(evaluation), "--model", str(tmp_path / "m"), "--output", str(tmp_path / "r")],
        capsys)
    report = json.loads((tmp_path / "r" / "classification_report.json").read_text())
    assert {"007", "7", "7.0"} <= set(report)
    inp = write_csv(tmp_path / "in.csv", [(t,) for t, _ in test_rows], header=("text",))
    _ok(["predict", "--input", str(inp), "--model", str(tmp_path / "m"), "--output", str(tmp_path / "out.csv"),
         "--quiet"], capsys)
    predicted = [r["predicted_label"] for r in _read_rows(tmp_path / "out.csv")]
    assert set(predicted) == {"007", "7", "7.0"}
    assert np.mean(np.array(predicted) == np.array([y for _, y in test_rows])) >= 0.8


def test_ten_megabyte_text_is_truncated_and_works(tmp_path, model_dir, capsys):
    from textclf.inference.classifier import TextClassifier

    huge = ("dog " * (10 * 1024 * 1024 // 4)).strip()
    path = write_csv(tmp_path / "eval.csv", [(huge, "0"), ("some bread and cheese", "1")])
    assert path.stat().st_size > 10 * 1024 * 1024
    _ok(["evaluate", "--input", str(path), "--model", str(model_dir), "--output", str(tmp_path / "reports")], capsys)
    classifier = TextClassifier.load(model_dir)
    assert classifier.vectorize([huge]).row_lengths().numpy().tolist() == [classifier.max_length]


# --- true subprocesses: nothing but the one line reaches the terminal --------

@pytest.mark.parametrize("argv, pattern", [
    (["train", "--input", "MISSING.csv"], r"^textclf: error: MISSING\.csv: file not found$"),
    (["train", "--input", "x.csv", "--head", "transformer"], r"^textclf: error: train: argument --head: head must be one of"),
    (["evaluate", "--input", "MISSING.csv", "--model", "nomodel", "--output", "r"], r"^textclf: error: .*(MISSING|nomodel)"),
    ([], r"^textclf: error: the following arguments are required: COMMAND"),
])
def test_subprocess_prints_no_traceback(tmp_path, argv, pattern):
    result = subprocess.run(
        [sys.executable, "-m", "textclf", *argv], capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2, result.stderr
    assert re.search(pattern, _one_error(result.stderr)), result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options", [["--quiet", *_fast_args()], ["--epochs", "1", "--ensemble", "1"]],
                         ids=["quiet", "not-quiet"])
def test_subprocess_bad_data_after_tensorflow_import(tmp_path, options):
    """An error raised after TensorFlow is imported (embeddings) is still one line; without --quiet or
    --max-length too, as the lines training prints while it prepares wait for it to succeed."""
    train_file = write_csv(tmp_path / "train.csv", GOOD)
    emb = tmp_path / "vectors.txt"
    emb.write_text(DIM3 + "horse 0.1 0.2\n")
    result = subprocess.run(
        [sys.executable, "-m", "textclf", "train", "--input", str(train_file), "--embeddings", str(emb),
         "--output", str(tmp_path / "out"), *options],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "vectors.txt, row 4" in _one_error(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv", "vectors.txt"]


# Output paths holding the user's own things: refused, nothing touched (issue: never delete the user's files).
def _foreign_file(path):
    path.write_bytes(b"important \x00 bytes\n")
    return {path: path.read_bytes()}


def _foreign_directory(path):
    path.mkdir()
    (path / "thesis.tex").write_bytes(b"\\documentclass{article}\n")
    return {path / "thesis.tex": (path / "thesis.tex").read_bytes()}


def _writing_commands(tmp_path, model_dir, output):
    labeled = write_csv(tmp_path / "labeled.csv", _rows(12, seed=9))
    return {
        "train": ["train", "--input", str(labeled), "--output", str(output), "--quiet", *_fast_args()],
        "evaluate": ["evaluate", "--input", str(labeled), "--model", str(model_dir), "--output", str(output)],
        "export": ["export", "--model", str(model_dir), "--output", str(output)],
    }


@pytest.mark.parametrize("command", ["train", "evaluate", "export"])
@pytest.mark.parametrize("make_foreign", [_foreign_file, _foreign_directory], ids=["file", "directory"])
def test_output_path_holding_user_files_is_refused(tmp_path, model_dir, capsys, command, make_foreign):
    output = tmp_path / "mine"
    before = make_foreign(output)
    code = main(_writing_commands(tmp_path, model_dir, output)[command])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("textclf: error:") and "mine" in err[0], err
    assert {path: path.read_bytes() for path in before} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".mine")) == []


def test_training_output_that_holds_the_training_file_is_refused(tmp_path, capsys):
    data = tmp_path / "mydata"
    data.mkdir()
    train = write_csv(data / "train.csv", _rows(60, seed=3))
    content = train.read_bytes()
    code = main(["train", "--input", str(train), "--output", str(data), "--quiet", *_fast_args()])
    assert code == 2
    assert "train.csv" in capsys.readouterr().err
    assert train.read_bytes() == content


def test_previous_model_and_reports_are_replaced(tmp_path, model_dir, capsys):
    labeled = write_csv(tmp_path / "labeled.csv", _rows(12, seed=9))
    reports = tmp_path / "reports"
    for _ in range(2):  # the second run replaces textclf's own report directory
        assert main(["evaluate", "--input", str(labeled), "--model", str(model_dir), "--output", str(reports)]) == 0
    out = tmp_path / "model"
    for _ in range(2):  # likewise a model directory written by textclf
        assert main(["train", "--input", str(labeled), "--output", str(out), "--quiet", *_fast_args()]) == 0
    assert {p.name for p in out.iterdir()} == {".textclf-output.json", "model.keras", "metadata.json", "reports"}


def test_predict_output_equal_to_input_is_refused(tmp_path, model_dir, capsys):
    path = write_csv(tmp_path / "texts.csv", _rows(5, seed=4))
    content = path.read_bytes()
    code = main(["predict", "--input", str(path), "--model", str(model_dir), "--output", str(path)])
    assert code == 2
    assert "input file" in capsys.readouterr().err
    assert path.read_bytes() == content
