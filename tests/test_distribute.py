"""`textclf train --distribute`: none (unchanged), mirrored on CPU, two workers on loopback."""

import json
import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import FAST_OPTIONS, ROOT, make_texts, write_csv

from textclf.errors import ConfigError

WORKER_TIMEOUT_S = 240  # per run; a normal two-worker run takes ~30 s


def test_config_validates_mode():
    from textclf.config import TrainConfig

    TrainConfig(train="x.csv", distribute="multi-worker").validate()
    with pytest.raises(ConfigError, match="distribute must be one of"):
        TrainConfig(train="x.csv", distribute="ring").validate()


def test_tf_config_errors():
    from textclf.training.distribute import read_tf_config

    assert read_tf_config({}) == {}
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_tf_config({"TF_CONFIG": "{cluster"})
    with pytest.raises(ConfigError, match="no 'task'"):
        read_tf_config({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}})})
    with pytest.raises(ConfigError, match="not supported"):
        read_tf_config({"TF_CONFIG": json.dumps({"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}})})


def test_none_leaves_training_untouched():
    import contextlib

    from textclf.training import distribute

    sentinel = object()
    runtime = distribute.Runtime("none")
    assert distribute.get_strategy("none") is None
    assert isinstance(runtime.scope(), contextlib.nullcontext)
    lengths = np.array([3, 3, 10, 12, 2])
    assert runtime.dataset(sentinel, lengths, batch_size=2, max_length=12) == (sentinel, 3)  # buckets of 3 and 2 rows
    assert runtime.steps_per_epoch(lengths, batch_size=2, max_length=12) == 3  # what the trainers compile for
    assert runtime.local_copy(sentinel) is sentinel
    assert runtime.before_fit(sentinel, None) is None
    assert runtime.is_chief()


@pytest.mark.parametrize("replicas", [2, 3])
def test_even_batch_plan_matches_the_bucketed_dataset(replicas):
    import tensorflow as tf

    from textclf.training.distribute import even_batch_plan
    from textclf.text.pipeline import training_dataset

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, size=203)
    ids = tf.ragged.constant([list(range(1, n + 1)) for n in lengths], dtype=tf.int64)
    ds = training_dataset(ids, np.zeros(len(lengths), int), batch_size=16, max_length=24, shuffle=True, seed=1)
    sizes = [int(x.shape[0]) for x, _ in ds]
    kept = [b - b % replicas for b in sizes]
    assert even_batch_plan(lengths, 16, 24, replicas) == (sum(1 for k in kept if k), sum(kept))
    buckets = len(set(np.searchsorted([8, 16, 25], lengths, side="right")))
    # Skipped per epoch: batch_size % replicas per full batch, fewer than `replicas` per bucket's last batch.
    assert sum(sizes) - sum(kept) <= (16 % replicas) * (len(lengths) // 16) + (replicas - 1) * buckets


@pytest.mark.parametrize("members", [1, 2])
def test_mirrored_on_cpu(tmp_path, tiny_train, members):
    import textclf

    out = tmp_path / "mirrored"
    clf = textclf.train(tiny_train, output=str(out), distribute="mirrored", **{**FAST_OPTIONS, "ensemble": members})
    meta = json.loads((out / "metadata.json").read_text())
    fitted = meta["fitted"]
    assert len(fitted["members"]) == members  # each member trains under the strategy, then is copied out
    assert meta["requested"]["distribute"] == "mirrored"
    assert fitted["distribute"]["mode"] == "mirrored" and fitted["distribute"]["is_chief"]
    assert fitted["distribute"]["num_replicas"] >= 1 and fitted["distribute"]["global_batch_size"] == 16
    reloaded = textclf.load(out)
    texts = [t for t, _ in make_texts(12, seed=9)]
    np.testing.assert_allclose(clf.predict_proba(texts), reloaded.predict_proba(texts), atol=1e-6)
    assert set(reloaded.predict(texts)) <= {"animals", "food", "sports"}


def _free_ports(n):
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_workers(tmp_path, train, test, n=2):
    """Starts `n` workers of the real CLI; returns [(returncode, stdout, stderr)] and the wall time."""
    ports = _free_ports(n)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    options = [
        "--units", "8", "--epochs", "2", "--batch-size", "16", "--max-length", "12", "--patience", "1",
        "--embedding-mode", "frozen", "--ensemble", "1", "--quiet",
    ]
    procs = []
    started = time.time()
    try:
        for index in range(n):
            scratch = tmp_path / f"tmp{index}"  # the worker's TMPDIR: non-chiefs write and remove here
            scratch.mkdir()
            env = {
                **os.environ,
                "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "TMPDIR": str(scratch),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            }
            command = [
                sys.executable, "-m", "textclf", "train", "--input", str(train), "--test", str(test),
                "--output", str(tmp_path / f"out{index}"), "--distribute", "multi-worker", *options,
            ]
            procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, cwd=tmp_path))
        deadline = started + WORKER_TIMEOUT_S
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=max(1, deadline - time.time()))
            results.append((proc.returncode, out, err))
        return results, time.time() - started
    finally:
        for proc in procs:  # a worker left waiting on a dead peer would hang forever
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_two_workers_on_loopback(tmp_path):
    import textclf

    train = write_csv(tmp_path / "train.csv", make_texts(120, seed=1))
    test = write_csv(tmp_path / "test.csv", make_texts(30, seed=2))
    results, seconds = _run_workers(tmp_path, train, test)
    for index, (code, out, err) in enumerate(results):
        assert code == 0, f"worker {index} failed:\n{err[-3000:]}"

    # Both workers took part: each logged its task and its shard of the data.
    shards = []
    for index, (_, _, err) in enumerate(results):
        assert re.search(rf"task worker:{index} \(worker {index} of 2, {'chief' if index == 0 else 'not chief'}\)", err)
        found = re.search(rf"task worker:{index} training shard: (\d+) of (\d+) examples per epoch \((\d+) used", err)
        assert found, err[-2000:]
        shards.append(tuple(int(g) for g in found.groups()))
    (s0, total, used), (s1, total1, used1) = shards
    assert total == total1 == 108 and used == used1 and s0 == s1 == used // 2 and used > total - 2 * 2

    # Same weights everywhere: both workers evaluate the test set identically.
    final = [re.search(r"test \(.*\): accuracy ([\d.]+), macro F1 ([\d.]+)", err).groups() for _, _, err in results]
    assert final[0] == final[1]

    # Only the chief wrote its output; the other worker cleaned up after itself.
    assert (tmp_path / "out0" / "model.keras").is_file()
    assert not (tmp_path / "out1").exists()
    assert not list((tmp_path / "tmp1").iterdir()), "the non-chief left temporary files behind"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary directories left behind"
    assert "model:" in results[0][1] and "chief writes the model" in results[1][1]

    clf = textclf.load(tmp_path / "out0")
    dist = clf.metadata["fitted"]["distribute"]
    assert dist["mode"] == "multi-worker" and dist["num_workers"] == 2 and dist["num_replicas"] == 2
    assert dist["global_batch_size"] == 16 and dist["per_replica_batch_size"] == 8
    assert dist["task_type"] == "worker" and dist["task_index"] == 0 and dist["is_chief"]
    texts = [t for t, _ in make_texts(30, seed=2)]
    labels = [y for _, y in make_texts(30, seed=2)]
    accuracy = float(np.mean(clf.predict(texts) == np.array(labels)))
    assert accuracy == pytest.approx(float(final[0][0]), abs=1e-4)
    print(f"\ntwo workers on loopback: {seconds:.1f}s wall, test accuracy {accuracy:.4f}")
