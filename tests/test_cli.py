"""The command line through `main([...])`: success, and one-line errors with exit 2."""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import FAST_OPTIONS, write_csv
from textclf.cli import main


def _fast_args():
    args = []
    for key, value in FAST_OPTIONS.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def test_train_end_to_end(tmp_path, tiny_train, tiny_test, capsys):
    out = tmp_path / "cli_model"
    code = main(["train", "--input", str(tiny_train), "--test", str(tiny_test), "--output", str(out),
                 "--head", "lstm", "--quiet", *_fast_args()])
    assert code == 0
    captured = capsys.readouterr()
    assert f"model: {out}/model.keras" in captured.out and f"reports: {out}/reports/" in captured.out
    assert "accuracy" in captured.out
    assert "coverage" in captured.err and "max_length" not in captured.err  # max_length was given
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["requested"]["head"] == "lstm" and meta["fitted"]["members"][0]["head"] == "lstm"


def test_train_py_is_the_same_command(tmp_path, tiny_train):
    out = tmp_path / "via_train_py"
    result = subprocess.run(
        [sys.executable, "train.py", "--input", str(tiny_train), "--output", str(out), "--quiet", *_fast_args()],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "model.keras").exists()


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1
    line = err[-1]
    assert line.startswith("textclf: error: "), err
    assert "Traceback" not in "\n".join(err)
    return line


@pytest.mark.parametrize(
    "rows, extra, pattern",
    [
        (None, ["--input", "MISSING.csv"], r"MISSING\.csv: file not found"),
        ([("a b", "x"), ("c d", "x"), ("e f", "x")], [], r"all rows have the same label 'x'"),
        ([("a b", "x"), ("", "y"), ("e f", "x")], [], r"row 3, column 'text': text is empty"),
        ([("a b", "x"), ("c", ""), ("e f", "y")], [], r"row 3, column 'label': label is empty"),
        ([("a b", "x"), ("c d", "y"), ("e f", "y"), ("g h", "x")], ["--label-column", "topic"],
         r"row 1, column 'topic': no column 'topic'; columns found: 'text', 'label'"),
        ([("a b", "x")] * 5 + [("c d", "y")], [], r"class 'y' has a single example"),
        ([("a b", "x"), ("c d", "y")] * 4, ["--head", "transformer"], r"argument --head: head must be one of .*Received: head='transformer'"),
        ([("a b", "x"), ("c d", "y")] * 4, ["--epochs", "0"], r"epochs must be an integer > 0\. Received: epochs=0"),
        ([(f"a{i} b", "x") for i in range(4)] + [(f"c{i} d", "y") for i in range(4)], ["--embeddings", "nowhere.txt"],
         r"nowhere\.txt"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, rows, extra, pattern):
    import re

    train = write_csv(tmp_path / "train.csv", rows) if rows is not None else None
    out = tmp_path / "out"
    argv = ["train", "--output", str(out), "--quiet", *_fast_args()]
    if train is not None:
        argv += ["--input", str(train)]
    # Later options win in argparse, so the case's own values apply.
    code = main(argv + extra)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert re.search(pattern, err), err
    assert "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from textclf.cli import main\n"
        "for argv in (['--help'], ['train', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_import_textclf_registers_for_plain_keras_load():
    """`import textclf` before Keras still registers the custom standardize."""
    code = (
        "import sys, textclf\n"
        "assert 'keras' not in sys.modules\n"
        "import keras\n"
        "print(keras.saving.get_registered_object('textclf>glove_standardize') is not None)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr[-2000:]


# --- quiet by default: TensorFlow's C++ lines stay off stderr; logs without terminal control codes ----------

TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} |absl|oneDNN|cuda|cuInit", re.IGNORECASE)


def _noisy_module(directory, name, fails):
    """A stand-in for `tensorflow`: writes to file descriptor 2 (as C++ code does) when imported."""
    body = f"import os\nos.write(2, b'{name}: C++ noise\\n')\n"
    if fails:
        body += "raise ImportError('libsomething.so: cannot open shared object file')\n"
    (directory / f"{name}.py").write_text(body)


def test_quiet_import_drops_what_a_module_writes_to_fd_2(tmp_path, monkeypatch, capfd):
    from textclf.runtime.quiet import LOG_LEVEL_VARIABLE, quiet_tensorflow

    _noisy_module(tmp_path, "noisy_ok", fails=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(LOG_LEVEL_VARIABLE, "1")
    with quiet_tensorflow(module="noisy_ok"):
        assert os.environ[LOG_LEVEL_VARIABLE] == "3"
        print("textclf's own line", file=sys.stderr)
        import noisy_ok  # noqa: F401
    assert capfd.readouterr().err == "textclf's own line\n"
    assert os.environ[LOG_LEVEL_VARIABLE] == "1" and "noisy_ok" in sys.modules
    assert not any(type(f).__name__ == "QuietImport" for f in sys.meta_path)


def test_temporary_environment_restores_set_and_unset_variables_even_after_an_error(monkeypatch):
    from textclf.runtime.quiet import temporary_environment

    monkeypatch.setenv("TEXTCLF_TEST_SET", "before")
    monkeypatch.delenv("TEXTCLF_TEST_UNSET", raising=False)
    with pytest.raises(RuntimeError), temporary_environment({"TEXTCLF_TEST_SET": "in", "TEXTCLF_TEST_UNSET": "in"}):
        assert os.environ["TEXTCLF_TEST_SET"] == os.environ["TEXTCLF_TEST_UNSET"] == "in"
        raise RuntimeError("inside the block")
    assert os.environ["TEXTCLF_TEST_SET"] == "before" and "TEXTCLF_TEST_UNSET" not in os.environ


def test_quiet_import_shows_what_was_captured_when_the_import_fails(tmp_path, monkeypatch, capfd):
    from textclf.runtime.quiet import quiet_tensorflow

    _noisy_module(tmp_path, "noisy_broken", fails=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    with quiet_tensorflow(module="noisy_broken"), pytest.raises(ImportError, match="libsomething"):
        import noisy_broken  # noqa: F401
    assert capfd.readouterr().err == "noisy_broken: C++ noise\n"


def test_verbose_leaves_imports_alone(tmp_path, monkeypatch, capfd):
    from textclf.runtime.quiet import quiet_tensorflow

    _noisy_module(tmp_path, "noisy_verbose", fails=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    with quiet_tensorflow(enabled=False, module="noisy_verbose"):
        import noisy_verbose  # noqa: F401
    assert capfd.readouterr().err == "noisy_verbose: C++ noise\n"


@pytest.mark.parametrize("argv", [["--verbose", "info"], ["info", "--verbose"]])
def test_verbose_is_accepted_before_and_after_the_command(argv):
    from textclf.cli import build_parser

    assert build_parser().parse_args(argv + ["--model", "m"]).verbose is True
    assert build_parser().parse_args(["info", "--model", "m"]).verbose is False


def test_training_log_in_a_pipe_is_plain_and_tensorflow_is_silent(tmp_path, tiny_train):
    """stdout to a pipe: one summary line per epoch, no ANSI codes or carriage returns; stderr: textclf's lines."""
    result = subprocess.run(
        [sys.executable, "-m", "textclf", "train", "--input", str(tiny_train), "--output", str(tmp_path / "m"),
         *_fast_args()],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    summaries = [line for line in result.stdout.splitlines() if " - loss: " in line]
    assert len(summaries) == len(re.findall(r"^Epoch \d+/\d+$", result.stdout, re.MULTILINE)) >= 2
    assert all(re.match(r"^\d+/\d+ - \d+s - ", line) for line in summaries), summaries
    assert not [line for line in result.stderr.splitlines() if TF_LOG_LINE.search(line)], result.stderr
