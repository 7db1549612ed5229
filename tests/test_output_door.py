"""Every output goes through one door (`textclf.artifacts.outputs`): the real CLI on bad and good output paths.

Each refusal: exit status 2, one line on stderr naming the output (and the
first entry in the way), and every file under the test directory the same,
byte for byte and mode for mode. The model is the legacy fixture (no
training) except where training itself is the point.
"""

import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, make_texts, write_csv
from test_bad_input import _fast_args, _one_error
from textclf.cli import main

LEGACY = ROOT / "tests" / "fixtures" / "legacy_model"
MARKER = ".textclf-output.json"


def _snapshot(root):
    """Everything below `root`: content (or link target, or None for a directory) and mode."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            content = ("link", os.readlink(path))
        else:
            content = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
        out[str(path.relative_to(root))] = (content, stat.S_IMODE(info.st_mode))
    return out


def _modes(root):
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [Path(root), *Path(root).rglob("*")]}


@pytest.fixture
def umask022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def labeled(tmp_path):
    return write_csv(tmp_path / "labeled.csv", make_texts(12, seed=9))


def _file_commands(d, output, labeled):
    """Every command writing a file, aimed at `output`."""
    return {
        "predict": ["predict", "--input", str(labeled), "--model", str(LEGACY), "--output", str(output)],
        "explain": ["explain", "dog", "--model", str(LEGACY), "--output", str(output)],
        "compare": ["compare", str(LEGACY), "--output", str(output)],
    }


def _refused(argv, tmp_path, capsys, *needles):
    """Runs `argv`; asserts exit 2, one line naming each of `needles`, and nothing changed; returns the line."""
    before = _snapshot(tmp_path)
    code = main(argv)
    line = _one_error(capsys.readouterr().err)
    assert code == 2, line
    for needle in needles:
        assert needle in line, line
    assert _snapshot(tmp_path) == before
    return line


# --- file outputs: refused before any work -------------------------------------------------------------

@pytest.mark.parametrize("command", ["predict", "explain", "compare"])
def test_file_output_naming_a_directory_is_refused(tmp_path, labeled, capsys, command):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_bytes(b"mine\n")
    _refused(_file_commands(tmp_path, folder, labeled)[command], tmp_path, capsys, "folder: is a directory")


@pytest.mark.parametrize("command", ["predict", "explain", "compare"])
def test_file_output_with_a_missing_parent_is_refused(tmp_path, labeled, capsys, command):
    output = tmp_path / "missing" / "out.csv"
    _refused(_file_commands(tmp_path, output, labeled)[command], tmp_path, capsys,
             "missing/out.csv: its directory", "does not exist")


def test_file_output_that_is_a_fifo_is_refused(tmp_path, labeled, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _refused(_file_commands(tmp_path, fifo, labeled)["predict"], tmp_path, capsys, "pipe: is not a regular file")


def test_output_equal_to_an_input_is_refused(tmp_path, labeled, capsys):
    _refused(["predict", "--input", str(labeled), "--model", str(LEGACY), "--output", str(labeled)], tmp_path, capsys,
             "labeled.csv: is also an input file")


# --- symbolic links: written through, the link kept -----------------------------------------------------

def test_file_output_through_a_link_replaces_the_target_and_keeps_link_and_mode(tmp_path, labeled, capsys, umask022):
    target = tmp_path / "real.csv"
    target.write_bytes(b"previous\n")
    target.chmod(0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to("real.csv")
    assert main(["predict", "--input", str(labeled), "--model", str(LEGACY), "--output", str(link), "--quiet"]) == 0
    assert os.readlink(link) == "real.csv"
    assert target.read_bytes().startswith(b"text,label,predicted_label,confidence\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labeled.csv", "latest.csv", "real.csv"]


def test_directory_output_through_a_link_replaces_the_target_and_keeps_the_link(tmp_path, labeled, capsys):
    link = tmp_path / "reports"
    link.symlink_to("real_reports", target_is_directory=True)
    for _ in range(2):  # created through the dangling link, then replaced through it
        assert main(["evaluate", "--input", str(labeled), "--model", str(LEGACY), "--output", str(link)]) == 0
        assert os.readlink(link) == "real_reports"
        assert (tmp_path / "real_reports" / "classification_report.json").is_file()
    capsys.readouterr()
    (tmp_path / "real_reports" / "mine.txt").write_bytes(b"mine\n")
    _refused(["evaluate", "--input", str(labeled), "--model", str(LEGACY), "--output", str(link)], tmp_path, capsys,
             "reports: holds 'mine.txt', which textclf did not write")


# --- directory outputs: replaced only when textclf's marker accounts for everything below --------------

def _evaluate(labeled, report_dir):
    return ["evaluate", "--input", str(labeled), "--model", str(LEGACY), "--output", str(report_dir)]


def test_marked_reports_directory_is_replaced_and_keeps_its_mode(tmp_path, labeled, capsys, umask022):
    reports = tmp_path / "reports"
    assert main(_evaluate(labeled, reports)) == 0
    modes = _modes(reports)
    assert modes["."] == 0o755 and {modes[name] for name in modes if name != "."} == {0o644}
    assert MARKER in modes
    reports.chmod(0o750)
    (reports / "errors.csv").write_bytes(b"stale\n")  # textclf's own file, listed: replaced
    assert main(_evaluate(labeled, reports)) == 0
    assert stat.S_IMODE(reports.stat().st_mode) == 0o750
    assert (reports / "errors.csv").read_bytes() != b"stale\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("foreign", ["notes/my_notes.txt", "figs/", "deep/er/file.txt"])
def test_user_entry_anywhere_below_a_marked_directory_is_refused(tmp_path, labeled, capsys, foreign):
    reports = tmp_path / "reports"
    assert main(_evaluate(labeled, reports)) == 0
    capsys.readouterr()
    path = reports / foreign
    if foreign.endswith("/"):
        path.mkdir()
    else:
        path.parent.mkdir(parents=True)
        path.write_bytes(b"the user's \x00 bytes\n")
    first = foreign.split("/")[0] + "/"  # the first entry in the way: its top directory, textclf wrote none
    _refused(_evaluate(labeled, reports), tmp_path, capsys, f"reports: holds '{first}', which textclf did not write")


@pytest.mark.parametrize("names", [["errors.csv"], ["report.html"], ["saved_model.pb"], ["metadata.json"],
                                   ["confusion_matrix.csv", "errors.csv"]])
def test_unmarked_directory_with_textclf_like_names_is_refused(tmp_path, labeled, capsys, names):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"the user's\n")
    argv = {"saved_model.pb": ["export", "--model", str(LEGACY), "--output", str(folder)],
            "metadata.json": ["train", "--input", str(labeled), "--output", str(folder), "--quiet", *_fast_args()]
            }.get(names[0], _evaluate(labeled, folder))
    _refused(argv, tmp_path, capsys, f"mine: holds '{names[0]}' and no {MARKER}", "delete or rename it yourself")


def test_directory_of_another_kind_is_refused(tmp_path, labeled, capsys):
    reports = tmp_path / "reports"
    assert main(_evaluate(labeled, reports)) == 0
    capsys.readouterr()
    _refused(["export", "--model", str(LEGACY), "--output", str(reports)], tmp_path, capsys,
             "reports: it is a textclf reports directory, not a saved_model directory")


def test_file_where_a_directory_goes_is_refused(tmp_path, labeled, capsys):
    (tmp_path / "reports").write_bytes(b"mine\n")
    _refused(_evaluate(labeled, tmp_path / "reports"), tmp_path, capsys, "reports: exists and is not a directory")


def test_empty_directory_is_used(tmp_path, labeled, capsys):
    (tmp_path / "reports").mkdir()
    assert main(_evaluate(labeled, tmp_path / "reports")) == 0


def test_legacy_model_directory_still_loads_but_is_not_replaced(tmp_path, labeled, capsys):
    legacy = tmp_path / "legacy"
    shutil.copytree(LEGACY, legacy)
    (legacy / "expected.json").unlink()  # exactly what textclf wrote before markers existed
    assert main(["predict", "--input", str(labeled), "--model", str(legacy), "--output", str(tmp_path / "p.csv"),
                 "--quiet"]) == 0
    (tmp_path / "p.csv").unlink()
    _refused(["train", "--input", str(labeled), "--output", str(legacy), "--quiet", *_fast_args()], tmp_path, capsys,
             f"legacy: holds 'metadata.json' and no {MARKER}")


def test_trained_model_follows_the_umask_and_a_retrain_keeps_its_mode(tmp_path, labeled, capsys, umask022):
    train = write_csv(tmp_path / "train.csv", make_texts(60, seed=3))
    out = tmp_path / "model"
    argv = ["train", "--input", str(train), "--output", str(out), "--quiet", *_fast_args()]
    assert main(argv) == 0
    modes = _modes(out)
    assert modes["."] == 0o755 and modes["reports"] == 0o755
    assert {modes[name] for name in modes if name not in (".", "reports")} == {0o644}
    assert MARKER in modes and "reports/history.csv" in modes
    out.chmod(0o750)
    (out / "reports" / "my_notes.txt").write_bytes(b"mine\n")
    capsys.readouterr()
    _refused(argv, tmp_path, capsys, "model: holds 'reports/my_notes.txt', which textclf did not write")
    (out / "reports" / "my_notes.txt").unlink()
    assert main(argv) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- temporaries: the writer's PID in their names; dead writers' removed; signals clean up ---------------

def test_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path, labeled, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale_file = tmp_path / f".out.csv.tmp-{dead.pid}-a1b2c3"
    stale_file.write_bytes(b"x" * 1000)
    stale_dir = tmp_path / f".reports.tmp-{dead.pid}-d4e5f6"
    (stale_dir / "sub").mkdir(parents=True)
    live = tmp_path / f".out.csv.tmp-{os.getppid()}-g7h8i9"  # a writer that still exists
    live.write_bytes(b"y")
    other = tmp_path / ".out.csv.tmp-notapid"  # not a name textclf gives: left alone
    other.write_bytes(b"z")
    assert main(["predict", "--input", str(labeled), "--model", str(LEGACY), "--output", str(tmp_path / "out.csv"),
                 "--quiet"]) == 0
    assert main(_evaluate(labeled, tmp_path / "reports")) == 0
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.read_bytes() == b"y" and other.read_bytes() == b"z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_during_predict_removes_temporaries_and_exits_128_plus_signal(tmp_path, signum):
    rows = [(f"{i:06d}", t) for i, (t, _) in enumerate(make_texts(3000, seed=6))] * 40
    inp = write_csv(tmp_path / "big.csv", rows, header=("id", "text"))
    out = tmp_path / "out.csv"
    out.write_bytes(b"previous run\n")
    out.chmod(0o640)
    before = _snapshot(tmp_path)
    # PYTHONFAULTHANDLER: a crash prints every thread's stack into `err`, which a failed assertion shows (one run
    # of the whole suite saw this process die of SIGSEGV after SIGHUP, not reproduced in 28 runs since)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "textclf", "predict", "--model", str(LEGACY), "--input", str(inp), "--output", str(out),
         "--chunk-size", "2000", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        temp = _wait_for_temporary(tmp_path, f".out.csv.tmp-{proc.pid}-", proc)
        proc.send_signal(signum)
        err = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 128 + signum, err
    line = _one_error(err.replace("textclf: terminated", "textclf: error: terminated"))
    assert signal.Signals(signum).name in line and "temporary files were removed" in line
    assert not temp.exists()
    assert _snapshot(tmp_path) == before  # the previous output as it was, no temporary file, no lock


def _wait_for_temporary(directory, prefix, proc):
    """The writer's temporary file once it holds some chunks (its name carries the writer's PID)."""
    import time

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        temps = [p for p in directory.iterdir() if p.name.startswith(prefix)]
        if temps and temps[0].stat().st_size > 100_000:
            return temps[0]
        assert proc.poll() is None, "finished before it could be interrupted; make the file larger"
        time.sleep(0.05)
    pytest.fail("no output progress within 180 s")
