"""Faults: a killed training resumes, a full disk leaves nothing half-written,
unsafe models are refused, and two runs never write the same output."""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import FAST_OPTIONS, ROOT, make_texts, write_csv
from textclf.cli import main

EPOCHS = 3  # a kill during epoch 2, then epochs 2 and 3 after --resume


def _fast_args(**overrides):
    options = {**FAST_OPTIONS, **overrides}
    args = []
    for key, value in options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def _errors(err):
    lines = [line for line in err.splitlines() if line.startswith("textclf: error:")]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    return lines[0]


def _tree(directory):
    """Every path under `directory` with its bytes (files) or None (directories)."""
    out = {}
    for path in sorted(Path(directory).rglob("*")):
        out[str(path.relative_to(directory))] = path.read_bytes() if path.is_file() else None
    return out


# Runs `textclf train` and, once epoch 1's checkpoint is written, sleeps in the
# middle of epoch 2 (after its first batch) after touching a marker file, so
# the test can SIGKILL it mid-epoch at a known point.
SLEEPER = textwrap.dedent("""
    import sys, time, pathlib
    import textclf.training.checkpoint as ck
    from textclf.training.stopping import EarlyStopping
    marker = pathlib.Path(sys.argv[1])
    saved = ck.TrainingCheckpoint.save
    state = {"armed": False}
    within = sys.argv[2]  # arm only for checkpoints under this directory name ("" = any)
    def save(self, st, arrays):
        saved(self, st, arrays)
        if st["epoch"] == 1 and self.directory.name.endswith(within):
            state["armed"] = True
    ck.TrainingCheckpoint.save = save
    def on_train_batch_end(self, batch, logs=None):
        if state["armed"] and batch >= 1:
            marker.write_text("mid-epoch 2")
            time.sleep(300)
    EarlyStopping.on_train_batch_end = on_train_batch_end
    from textclf.cli import main
    sys.exit(main(sys.argv[3:]))
""")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    return write_csv(d / "train.csv", make_texts(240, seed=3))


def _train_args(train, out, *extra):
    return ["train", "--input", str(train), "--output", str(out), "--quiet", "--seed", "7",
            *_fast_args(epochs=EPOCHS, patience=5), *extra]


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path, data, capsys):
    out = tmp_path / "model"
    partial = tmp_path / ".model.partial"
    lock = tmp_path / ".model.lock"
    # An earlier model under the final name must survive the crash untouched.
    out.mkdir()
    (out / "model.keras").write_bytes(b"previous model")
    (out / "metadata.json").write_text('{"labels": ["a", "b"]}')
    # Marked as textclf's own model directory, so the resumed run may replace it.
    (out / ".textclf-output.json").write_text('{"textclf_output": 1, "kind": "model", '
                                              '"entries": ["metadata.json", "model.keras"]}')
    before = _tree(out)

    marker = tmp_path / "marker"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, str(marker), "", *_train_args(data, out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        _wait_for_marker(proc, marker, 240, "training never reached epoch 2")
        assert (partial / "epoch-0001" / "state.json").is_file()

        # A second run on the same output, in another process, is refused at once.
        second = subprocess.run(
            [sys.executable, "-m", "textclf", *_train_args(data, out)],
            capture_output=True, text=True, timeout=120, env=env,
        )
        assert second.returncode == 2, second.stderr[-2000:]
        line = _errors(second.stderr)
        assert "another textclf run is writing to this output" in line and str(out) in line
        assert f"held by process {proc.pid}" in line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    assert _tree(out) == before  # the old output directory is untouched
    assert sorted(p.name for p in partial.iterdir()) == ["epoch-0001"]

    # Without --resume: refused, nothing touched (but the stale lock file the
    # killed run left behind, which the refused run took and removed).
    assert lock.exists()
    snapshot = _tree(tmp_path)
    del snapshot[lock.name]
    assert main(_train_args(data, out)) == 2
    line = _errors(capsys.readouterr().err)
    assert str(partial) in line and "pass --resume" in line
    assert _tree(tmp_path) == snapshot

    # With --resume: continues with epoch 2 and replaces the old output.
    assert main(_train_args(data, out, "--resume")) == 0
    err = capsys.readouterr().err
    assert "resume: continuing after epoch 1" in err
    assert not partial.exists() and not lock.exists()
    resumed = json.loads((out / "metadata.json").read_text())["fitted"]

    # The same run, uninterrupted.
    reference_out = tmp_path / "reference"
    assert main(_train_args(data, reference_out)) == 0
    reference = json.loads((reference_out / "metadata.json").read_text())["fitted"]

    # Tolerance: the runs are bit-for-bit deterministic on CPU (op determinism,
    # restored seed-generator and optimizer state, shuffles seeded by (seed, epoch)),
    # so the metrics must match exactly and the per-epoch losses to 1e-6.
    assert resumed["metrics"] == reference["metrics"]
    assert resumed["members"] == reference["members"]
    _assert_same_history(out, reference_out, EPOCHS)


def _wait_for_marker(proc, marker, seconds, what):
    """Waits until the SLEEPER process has touched `marker` (it must still be running).

    Polls with a deadline: the process is another program, with nothing to wait on but its files.
    """
    deadline = time.monotonic() + seconds
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _assert_same_history(out, reference_out, epochs):
    """`epochs` history rows in both runs, the same to 1e-6 (see the tolerance note above)."""
    got, want = _history(out), _history(reference_out)
    assert len(got) == len(want) == epochs
    for a, b in zip(got, want):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float):
                assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-6), (key, a, b)
            else:
                assert a[key] == b[key]


def _history(model_dir):
    import csv

    with open(Path(model_dir) / "reports" / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [{k: (float(v) if k not in ("epoch", "phase", "member") else v) for k, v in row.items()} for row in rows]


# Members from scratch (one frozen phase each), and member 2 fine-tuning from
# member 1's frozen phase (member 1: 2 phases, member 2: the second only), whose
# start must survive the kill: member 1's checkpoint keeps its frozen-phase weights.
MEMBER_STARTS = {
    "scratch": ([], EPOCHS, 2 * EPOCHS),
    "frozen": (["--embedding-mode", "two-phase", "--member-start", "frozen"], 2 * EPOCHS, 3 * EPOCHS),
}


@pytest.mark.parametrize("member_start", sorted(MEMBER_STARTS))
def test_ensemble_killed_in_its_second_member_resumes_to_the_same_ensemble(tmp_path, data, capsys, member_start):
    options, member_1_epochs, all_epochs = MEMBER_STARTS[member_start]
    options = ["--ensemble", "2", *options]
    out, partial = tmp_path / "model", tmp_path / ".model.partial"
    marker = tmp_path / "marker"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, str(marker), "member-2", *_train_args(data, out, *options)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        _wait_for_marker(proc, marker, 300, "training never reached member 2's second epoch")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # Member 1 finished (its last checkpoint kept), member 2 has its first epoch.
    assert (partial / f"epoch-{member_1_epochs:04d}" / "state.json").is_file()
    assert sorted(p.name for p in (partial / "member-2").iterdir()) == ["epoch-0001"]

    assert main(_train_args(data, out, *options, "--resume")) == 0
    assert "member 2/2: resume: continuing after epoch 1" in capsys.readouterr().err
    assert not partial.exists()
    reference_out = tmp_path / "reference"
    assert main(_train_args(data, reference_out, *options)) == 0
    resumed = json.loads((out / "metadata.json").read_text())["fitted"]
    reference = json.loads((reference_out / "metadata.json").read_text())["fitted"]
    assert resumed["metrics"] == reference["metrics"]
    assert resumed["members"] == reference["members"] and len(resumed["members"]) == 2
    assert resumed["members"][1]["start"] == ("member 1 after its frozen phase" if member_start == "frozen"
                                              else "scratch")
    _assert_same_history(out, reference_out, all_epochs)


class _Killed(BaseException):
    """Stands for a kill right after a checkpoint was written."""


def test_mirrored_run_interrupted_after_an_epoch_resumes_to_the_same_model(tmp_path, data, monkeypatch):
    """--resume works under --distribute mirrored too (checkpoints of mirrored variables), never a silent restart."""
    import textclf.training.checkpoint as ck
    from textclf.config import TrainConfig
    from textclf.training import run_training

    saved = ck.TrainingCheckpoint.save

    def save_then_die(self, state, arrays):
        saved(self, state, arrays)
        if state["epoch"] == 1:
            raise _Killed()

    options = {**FAST_OPTIONS, "epochs": EPOCHS, "patience": 5, "seed": 7, "distribute": "mirrored"}
    lines = []

    def train(out, resume=False):
        config = TrainConfig(train=str(data), output=str(out), **options)
        return run_training(config, log=lines.append, keras_verbose=0, resume=resume)

    monkeypatch.setattr(ck.TrainingCheckpoint, "save", save_then_die)
    with pytest.raises(_Killed):
        train(tmp_path / "model")
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / ".model.partial").iterdir()) == ["epoch-0001"]
    resumed = train(tmp_path / "model", resume=True).metadata["fitted"]
    assert "resume: continuing after epoch 1" in lines
    assert not (tmp_path / ".model.partial").exists()
    reference = train(tmp_path / "reference").metadata["fitted"]
    assert resumed["metrics"] == reference["metrics"] and resumed["members"] == reference["members"]
    _assert_same_history(tmp_path / "model", tmp_path / "reference", EPOCHS)


def test_resume_under_multi_worker_is_refused(tmp_path, data, capsys):
    out = tmp_path / "model"
    assert main(_train_args(data, out, "--distribute", "multi-worker", "--resume")) == 2
    line = _errors(capsys.readouterr().err)
    assert "--resume is not available with --distribute multi-worker" in line
    assert list(tmp_path.iterdir()) == []


def test_disk_full_while_saving_leaves_nothing_and_resume_finishes(tmp_path, data, capsys, monkeypatch):
    from textclf.inference.classifier import TextClassifier

    out = tmp_path / "model"

    def full_disk(self, directory):
        (Path(directory) / "model.keras").write_bytes(b"half a model")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(directory) / "model.keras"))

    monkeypatch.setattr(TextClassifier, "save", full_disk)
    args = ["train", "--input", str(data), "--output", str(out), "--quiet", *_fast_args(epochs=1)]
    assert main(args) == 2
    line = _errors(capsys.readouterr().err)
    assert str(out) in line and "No space left on device" in line and "nothing was written" in line
    assert not out.exists()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n for n in names if ".tmp-" in n or n.endswith(".lock")] == []  # temp dir and lock cleaned up
    assert ".model.partial" in names  # the trained epochs are kept for --resume

    monkeypatch.undo()
    assert main(args + ["--resume"]) == 0  # nothing left to train: just saves
    assert (out / "model.keras").is_file()
    assert not (tmp_path / ".model.partial").exists()


def test_atomic_file_disk_full_is_one_line(tmp_path):
    from textclf.errors import TextclfError
    from textclf.artifacts.outputs import atomic_file

    final = tmp_path / "predictions.csv"
    with pytest.raises(TextclfError) as info:
        with atomic_file(final) as handle:
            handle.write("partial")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert "\n" not in str(info.value) and "No space left on device" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_lambda_layer_is_refused_never_executed(tmp_path, capsys):
    import keras

    from textclf.inference.classifier import TextClassifier
    from textclf.errors import ModelFileError

    marker = tmp_path / "PWNED"
    model_dir = tmp_path / "evil"
    model_dir.mkdir()
    inputs = keras.Input((3,))
    code = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1] * 1.0")  # no closure to serialize
    evil = keras.layers.Lambda(code)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(evil(inputs)))
    model.save(model_dir / "model.keras")
    marker.unlink(missing_ok=True)  # building the model ran the lambda once, here, on purpose
    (model_dir / "metadata.json").write_text(json.dumps({"labels": ["a", "b"]}))

    with pytest.raises(ModelFileError) as info:
        TextClassifier.load(model_dir)
    assert "contains code" in str(info.value) and "refuses to execute" in str(info.value)
    assert "\n" not in str(info.value)
    assert not marker.exists()

    texts = write_csv(tmp_path / "texts.csv", [("a dog", "a")])
    code = main(["evaluate", "--input", str(texts), "--model", str(model_dir), "--output", str(tmp_path / "reports")])
    assert code == 2
    assert "refuses to execute" in _errors(capsys.readouterr().err)
    assert not marker.exists()
    assert not (tmp_path / "reports").exists()


def test_lock_is_exclusive_across_processes(tmp_path):
    from textclf.artifacts.locking import OutputLock, OutputLockedError, lock_path_for

    out = tmp_path / "model"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from textclf.artifacts.locking import OutputLock
            lock = OutputLock({str(out)!r}).acquire()
            print("locked", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLockedError) as info:
            OutputLock(out).acquire()
        assert f"held by process {holder.pid}" in str(info.value)
    finally:
        holder.kill()
        holder.wait()
    # A lock left by a killed process is free again (flock dies with it).
    with OutputLock(out):
        assert lock_path_for(out).exists()
    assert not lock_path_for(out).exists()
