"""`textclf predict --engine ray`: same predictions as local predict, every row once, faults, a two-node cluster.

Ray runs with 2 CPUs and a tiny model; the tests that start their own Ray (the CLI's) are marked slow.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, make_texts, run_python, write_csv
from textclf.cli import main as cli

ray = pytest.importorskip("ray")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}


def _children(pid):
    """PIDs of the processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _read_output(directory):
    return pd.concat([pd.read_parquet(p) for p in sorted(Path(directory).glob("*.parquet"))], ignore_index=True)


def _local(model, path, tmp_path, *extra):
    out = tmp_path / f"local_{Path(path).stem}.csv"
    assert cli(["predict", "-i", str(path), "-m", str(model), "-o", str(out), "-q", *extra]) == 0
    return pd.read_csv(out, dtype={"text": str}, keep_default_na=False)


def test_import_and_help_never_import_ray():
    out = run_python(
        "import sys, contextlib, io\n"
        "import textclf, textclf.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: textclf.cli.main(['predict', '--help'])\n"
        "    except SystemExit: pass\n"
        "print('ray' in sys.modules, 'tensorflow' in sys.modules)"
    )
    assert out.strip().splitlines()[-1] == "False False"


def test_engine_ray_without_ray_names_the_install_command(trained_model_dir, tmp_path):
    data = write_csv(tmp_path / "in.csv", make_texts(5))
    code = ("import sys; sys.modules['ray'] = None\n"
            "from textclf.cli import main\n"
            f"sys.exit(main(['predict', '-i', {str(data)!r}, '-m', {str(trained_model_dir)!r}, "
            f"'-o', {str(tmp_path / 'out')!r}, '--engine', 'ray']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        'textclf: error: --engine ray needs Ray, which is not installed: pip install "textclf[ray]"']
    assert not (tmp_path / "out").exists()


def test_inputs_expand_files_globs_directories_and_file_uris(tmp_path):
    from textclf.inference.ray_engine import expand_inputs

    (tmp_path / "d" / "sub").mkdir(parents=True)
    a = write_csv(tmp_path / "d" / "a.csv", make_texts(3))
    b = write_csv(tmp_path / "d" / "sub" / "b.tsv", make_texts(3), delimiter="\t")
    (tmp_path / "d" / "notes.md").write_text("not data")
    assert expand_inputs([tmp_path / "d"]) == [str(a), str(b)]
    assert expand_inputs([f"file://{tmp_path}/d/*.csv", str(b)]) == [str(a), str(b)]
    with pytest.raises(Exception, match="no such file"):
        expand_inputs([tmp_path / "missing*.csv"])


@pytest.fixture(scope="module")
def ray_two_cpus():
    """Ray on 2 CPUs as the CLI starts it: its failures are not logged (a captured log record of one would
    hold the failed run's frames, and so its actors and their CPUs, until the test ends)."""
    from textclf.runtime.ray_cluster import ray_session

    with ray_session(num_cpus=2, quiet=True) as session:
        yield session


def test_same_probabilities_as_local_every_row_once_in_parquet_and_csv(ray_two_cpus, trained_model_dir, tmp_path):
    from textclf.inference.ray_engine import predict_to_directory

    files = [write_csv(tmp_path / "a.csv", make_texts(120, seed=3)),
             write_csv(tmp_path / "b.tsv", make_texts(70, seed=4), delimiter="\t")]
    rows = predict_to_directory([str(tmp_path / "*.csv"), files[1]], trained_model_dir, str(tmp_path / "out"),
                                workers=1, chunk_size=50, probabilities=True, top_k=2)
    assert rows == 190
    got = _read_output(tmp_path / "out").sort_values(["source_file", "row"], kind="stable")
    for path in files:
        mine = got[got.source_file == str(path)].reset_index(drop=True)
        assert mine.row.tolist() == list(range(len(mine)))  # every row once, order restorable
        local = _local(trained_model_dir, path, tmp_path, "--probabilities", "--top-k", "2")
        assert mine.text.tolist() == local.text.tolist()
        assert mine.predicted_label.tolist() == local.predicted_label.tolist()
        proba = [c for c in local.columns if c.startswith("proba_")]
        np.testing.assert_allclose(mine[proba].to_numpy(float), local[proba].to_numpy(float), atol=1e-5)
        assert [c for c in mine.columns if c not in ("source_file", "row")] == list(local.columns)
    in_name_order = _read_output(tmp_path / "out")  # the parts' names sort in input order: files as given, rows
    assert list(zip(in_name_order.source_file, in_name_order.row)) == [
        (str(path), row) for path, size in zip(files, (120, 70)) for row in range(size)]
    predict_to_directory([files[0]], trained_model_dir, str(tmp_path / "csv"), output_format="csv", workers=1)
    parts = sorted((tmp_path / "csv").glob("*.csv"))
    assert parts and sum(len(pd.read_csv(p)) for p in parts) == 120


def test_a_block_written_again_replaces_its_own_part(tmp_path):
    # What a retried block does (its worker died after or while writing): the same part, complete, once.
    from textclf.inference.ray_engine import _PartWriter

    block = pd.DataFrame({"text": ["a", "b"], "source_file": ["in.csv"] * 2, "row": [40, 41], "p": [0.25, 0.75]})
    for output_format in ("parquet", "csv"):
        directory = tmp_path / output_format
        directory.mkdir()
        writer = _PartWriter(directory, output_format, ["other.csv", "in.csv"])
        for _ in range(2):
            assert writer.write(block)["rows"].tolist() == [2]
        assert [p.name for p in directory.iterdir()] == [f"part-00001-000000000040.{output_format}"]
        part = directory / f"part-00001-000000000040.{output_format}"
        got = pd.read_parquet(part) if output_format == "parquet" else pd.read_csv(part)
        pd.testing.assert_frame_equal(got, block)


def test_one_file_is_read_into_blocks_of_chunk_size_rows_so_every_worker_gets_some(ray_two_cpus, tmp_path):
    # A block goes to one actor whole; Ray Data would join a file's chunks into one block of up to 128 MiB.
    from textclf.inference.ray_engine import read_inputs

    path = write_csv(tmp_path / "one.csv", make_texts(500, seed=6))
    blocks = read_inputs([str(path)], text_column="text", chunk_size=100).materialize()
    assert blocks.count() == 500
    assert blocks.num_blocks() >= 5


def test_a_ray_started_here_gives_its_workers_quiet_tensorflow_and_leaves_this_process_environment_alone(
        ray_two_cpus):
    from textclf.runtime.ray_cluster import WORKER_ENV

    @ray_two_cpus.remote(num_cpus=0.5)
    def worker_environment(names):
        return {name: os.environ.get(name) for name in names}

    assert ray_two_cpus.get(worker_environment.remote(list(WORKER_ENV))) == WORKER_ENV
    assert os.environ.get("PYTHONWARNINGS") != "ignore"  # set for ray.init only, then restored


def test_bad_row_reported_with_file_and_row_and_skipped_on_request(ray_two_cpus, trained_model_dir, tmp_path):
    from textclf.errors import InputDataError
    from textclf.inference.ray_engine import predict_to_directory

    texts = make_texts(40, seed=5)
    texts[17] = ("   ", texts[17][1])
    bad = write_csv(tmp_path / "bad.csv", texts)
    with pytest.raises(InputDataError) as caught:
        predict_to_directory([bad], trained_model_dir, str(tmp_path / "out"), workers=1, chunk_size=10)
    assert str(caught.value).startswith(f"{bad}, row 19, column 'text': text is empty")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.tmp-*"))
    predict_to_directory([bad], trained_model_dir, str(tmp_path / "out"), workers=1, on_bad_rows="skip")
    got = _read_output(tmp_path / "out").sort_values("row")
    assert len(got) == 40 and got.predicted_label.tolist()[17] in ("", None)


def test_worker_killed_mid_run_is_retried_output_complete(ray_two_cpus, trained_model_dir, tmp_path):
    import threading

    from textclf.inference.ray_engine import predict_to_directory

    files = [write_csv(tmp_path / f"in{i}.csv", make_texts(200, seed=10 + i)) for i in range(6)]
    raylet = ray._private.worker._global_node.all_processes["raylet"][0].process.pid
    killed = []

    def kill_a_worker():
        deadline = time.monotonic() + 240
        while not killed and time.monotonic() < deadline:
            out = list(tmp_path.glob(".out.tmp-*/*.parquet"))  # some output written: the run is under way
            workers = [pid for pid in _children(raylet) if "MapWorker(MapBatches(_Predict))" in _cmdline(pid)]
            if out and workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
            time.sleep(0.05)  # polling interval, not synchronisation: the condition above is what is waited for

    thread = threading.Thread(target=kill_a_worker, daemon=True)
    thread.start()
    rows = predict_to_directory([str(f) for f in files], trained_model_dir, str(tmp_path / "out"), workers=1,
                                chunk_size=25)
    thread.join()
    assert killed, "no prediction worker was seen mid-run"
    got = _read_output(tmp_path / "out")
    assert rows == len(got) == 1200
    assert not got.duplicated(["source_file", "row"]).any()
    assert got.groupby("source_file").row.nunique().tolist() == [200] * 6
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".partial")]  # none half-written


@pytest.mark.slow
def test_the_monitor_of_a_ray_started_here_is_found_and_killed_before_shutdown():
    """`stop_autoscaler_monitor` reaches Ray's private process table (Ray would wait 1 s on its monitor).

    In a fresh process: this module's Ray (`ray_two_cpus`) may be running here."""
    out = run_python(
        "import os, pathlib\n"
        "from textclf.runtime.ray_cluster import ray_session, stop_autoscaler_monitor\n"
        "def monitors():\n"
        "    found = []\n"
        "    for entry in pathlib.Path('/proc').iterdir():\n"
        "        try:\n"
        "            ppid = int((entry / 'stat').read_text().rsplit(')', 1)[1].split()[1])\n"
        "            line = (entry / 'cmdline').read_bytes()\n"
        "        except (OSError, ValueError, IndexError):\n"
        "            continue\n"
        "        if ppid == os.getpid() and b'autoscaler/_private/monitor.py' in line:\n"
        "            found.append(int(entry.name))\n"
        "    return found\n"
        "with ray_session(num_cpus=1, quiet=True) as session:\n"
        "    before = monitors()\n"
        "    killed = stop_autoscaler_monitor(session)\n"
        "    print(len(before), killed, monitors())\n"
        "print(session.is_initialized())\n")
    assert out.split("\n")[:2] == ["1 1 []", "False"]


def test_sigterm_leaves_no_output_and_stops_the_ray_it_started(trained_model_dir, tmp_path):
    files = [str(write_csv(tmp_path / f"in{i}.csv", make_texts(300, seed=i))) for i in range(6)]
    command = [sys.executable, "-m", "textclf", "predict", "-i", *files, "-m", str(trained_model_dir),
               "-o", str(tmp_path / "out"), "--engine", "ray", "--workers", "1", "--chunk-size", "20", "-q"]
    process = subprocess.Popen(command, env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".out.tmp-*/*.parquet")) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)  # polling interval for the condition above
    ray_processes = _children(process.pid)
    assert ray_processes
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 130
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()
              for pid in ray_processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in ray_processes if Path(f"/proc/{pid}").exists()
                and "zombie" not in Path(f"/proc/{pid}/status").read_text()]


@pytest.mark.slow
def test_two_node_loopback_cluster_end_to_end(trained_model_dir, tmp_path, monkeypatch):
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the command joins without the cluster's in-memory token

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        files = [str(write_csv(tmp_path / f"in{i}.csv", make_texts(60, seed=i))) for i in range(2)]
        result = subprocess.run(
            [sys.executable, "-m", "textclf", "predict", "-i", *files, "-m", str(trained_model_dir),
             "-o", str(tmp_path / "out"), "--engine", "ray", "--address", cluster.address, "--workers", "1", "-q"],
            env={**ENV, "RAY_AUTH_MODE": "disabled"}, capture_output=True, text=True, timeout=500)
        assert result.returncode == 0, result.stderr
        got = _read_output(tmp_path / "out")
        assert len(got) == 120 and not got.duplicated(["source_file", "row"]).any()
    finally:
        cluster.shutdown()


@pytest.mark.slow
def test_cli_bad_row_is_one_line_and_quiet_run_says_nothing(trained_model_dir, tmp_path):
    texts = make_texts(30, seed=7)
    good = write_csv(tmp_path / "good.csv", texts)
    texts[4] = ("", texts[4][1])
    bad = write_csv(tmp_path / "bad.csv", texts)
    command = [sys.executable, "-m", "textclf", "predict", "-m", str(trained_model_dir), "--engine", "ray",
               "--workers", "1", "-q", "-i"]
    result = subprocess.run(command + [str(bad), "-o", str(tmp_path / "out")], env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"textclf: error: {bad}, row 6, column 'text': text is empty or whitespace "
                                          "only (use --on-bad-rows skip to write such rows without a prediction)"]
    assert not (tmp_path / "out").exists()
    result = subprocess.run(command + [str(good), "-o", str(tmp_path / "out")], env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stderr == ""
    assert len(_read_output(tmp_path / "out")) == 30
