"""`textclf predict`: format, streaming, atomicity, bad rows, stdin/stdout."""

import csv
import gzip
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import make_texts, write_csv

LABELS = ["animals", "food", "sports"]


@pytest.fixture(scope="module")
def model_dir(trained_model_dir):
    return trained_model_dir


@pytest.fixture(scope="module")
def classifier(model_dir):
    import textclf

    return textclf.load(model_dir)


def cli(*argv):
    from textclf.cli import main

    return main([str(a) for a in argv])


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def tricky_rows(n=60, seed=3):
    rows = []
    for i, (text, label) in enumerate(make_texts(n, seed=seed)):
        if i % 5 == 1:
            text = f'{text}, with a comma and "quotes"'
        if i % 5 == 2:
            text = f"{text}\nsecond line\r\nthird line"
        rows.append((f"{i:03d}", text, "NA" if i % 2 else "", label))
    return rows


def test_golden_output_format(tmp_path, model_dir, classifier, capsys):
    rows = tricky_rows()
    inp = write_csv(tmp_path / "in.csv", rows, header=("id", "text", "note", "label"))
    out = tmp_path / "out.csv"
    assert cli("predict", "--model", model_dir, "--input", inp, "--output", out, "--probabilities", "--top-k", "2",
               "--chunk-size", "7") == 0
    got = read_rows(out)
    assert got[0] == ["id", "text", "note", "label", "predicted_label", "confidence",
                      "proba_animals", "proba_food", "proba_sports",
                      "top1_label", "top1_proba", "top2_label", "top2_proba"]
    assert len(got) == len(rows) + 1
    assert [r[:4] for r in got[1:]] == [list(r) for r in rows]  # ids like 007, quotes, newlines, "NA" and ""
    assert got[8][0] == "007"
    expected = classifier.predict_proba([r[1] for r in rows])
    for line, probs in zip(got[1:], expected):
        p = np.array([float(x) for x in line[6:9]])
        np.testing.assert_allclose(p, probs, atol=2e-6)
        assert line[4] == LABELS[int(np.argmax(probs))] == line[9]
        assert line[5] == line[10] == f"{probs.max():.6f}"
        assert line[11] == LABELS[int(np.argsort(-probs)[1])]
    # Minimal quoting: a plain line has no quotes at all.
    text = out.read_text(encoding="utf-8")
    assert "\n000," in text and '"' not in text.splitlines()[1]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary file left behind"


def test_streaming_equals_predict_all_at_once(tmp_path, model_dir, classifier):
    rows = [(f"{i}", t) for i, (t, _) in enumerate(make_texts(230, seed=7))]
    inp = write_csv(tmp_path / "in.tsv", rows, header=("id", "text"), delimiter="\t")
    gz = tmp_path / "in.tsv.gz"
    gz.write_bytes(gzip.compress(inp.read_bytes()))
    out = tmp_path / "out.csv"
    assert cli("predict", "--model", model_dir, "--input", gz, "--output", out, "--probabilities",
               "--chunk-size", "40", "--batch-size", "16", "--quiet") == 0
    got = read_rows(out)
    assert len(got) == 231 and [r[0] for r in got[1:]] == [str(i) for i in range(230)]
    streamed = np.array([[float(x) for x in r[4:7]] for r in got[1:]])
    at_once = classifier.predict_proba([t for _, t in rows], batch_size=256)
    np.testing.assert_allclose(streamed, at_once, atol=2e-6)
    # .tsv output is tab-separated, .gz output compressed.
    out_tsv = tmp_path / "out.tsv.gz"
    assert cli("predict", "--model", model_dir, "--input", inp, "--output", out_tsv, "--chunk-size", "100", "--quiet") == 0
    lines = gzip.decompress(out_tsv.read_bytes()).decode().splitlines()
    assert lines[0] == "id\ttext\tpredicted_label\tconfidence" and len(lines) == 231


def test_parquet_input_predicts_and_evaluates_as_its_csv(tmp_path, model_dir, capsys):
    import pandas as pd

    rows = [(f"{i:03d}", t, label) for i, (t, label) in enumerate(make_texts(50, seed=8))]
    frame = pd.DataFrame(rows, columns=["id", "text", "label"])
    frame.to_parquet(tmp_path / "in.parquet")
    csv_file = write_csv(tmp_path / "in.csv", rows, header=("id", "text", "label"))
    for name in ("in.parquet", "in.csv"):
        assert cli("predict", "--model", model_dir, "--input", tmp_path / name, "--output", tmp_path / f"{name}.out.csv",
                   "--probabilities", "--chunk-size", "16", "--quiet") == 0
    assert read_rows(tmp_path / "in.parquet.out.csv") == read_rows(tmp_path / "in.csv.out.csv")  # `007` stays `007`
    assert cli("evaluate", "--model", model_dir, "--input", tmp_path / "in.parquet", "--output", tmp_path / "r",
               "-q") == 0
    assert cli("evaluate", "--model", model_dir, "--input", csv_file, "--output", tmp_path / "r2", "-q") == 0
    import json

    reports = [json.loads((tmp_path / d / "classification_report.json").read_text()) for d in ("r", "r2")]
    assert [{k: v for k, v in r.items() if k != "evaluated_on"} for r in reports][0] == \
        {k: v for k, v in reports[1].items() if k != "evaluated_on"}
    capsys.readouterr()


def test_bad_rows_error_and_skip(tmp_path, model_dir, capsys):
    rows = [("1", "my dog is good"), ("2", "   "), ("3", "pizza and cake"), ("4", "")]
    inp = write_csv(tmp_path / "bad.csv", rows, header=("id", "text"))
    with open(inp, "a", encoding="utf-8") as handle:
        handle.write("5\n")  # a missing text cell
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    assert cli("predict", "--model", model_dir, "--input", inp, "--output", out, "--chunk-size", "2") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.csv, row 3, column 'text'" in err and "--on-bad-rows skip" in err
    assert out.read_text() == "previous\n"

    assert cli("predict", "--model", model_dir, "--input", inp, "--output", out, "--chunk-size", "2",
               "--on-bad-rows", "skip", "--top-k", "1") == 0
    err = capsys.readouterr().err
    assert "3 rows skipped" in err
    got = read_rows(out)
    assert [r[0] for r in got[1:]] == ["1", "2", "3", "4", "5"]
    assert [r[2] for r in got[1:]] == ["animals", "", "food", "", ""]
    assert got[2][3:] == ["", "", ""] and got[1][3] != ""


def test_user_errors_are_one_line(tmp_path, model_dir, capsys):
    inp = write_csv(tmp_path / "in.csv", [("a", "x")], header=("id", "body"))
    assert cli("predict", "--model", model_dir, "--input", inp, "--output", tmp_path / "o.csv") == 2
    err = capsys.readouterr().err
    assert "in.csv, row 1" in err and "no column 'text'; columns found: 'id', 'body'" in err
    assert err.count("\n") == 1
    assert cli("predict", "--model", model_dir, "--input", inp, "--output", tmp_path / "o.csv", "--text-column", "body",
               "--top-k", "9") == 2
    assert "--top-k" in capsys.readouterr().err
    assert cli("predict", "--model", tmp_path / "nope", "--input", inp, "--output", tmp_path / "o.csv") == 2
    assert "model directory not found" in capsys.readouterr().err
    assert cli("predict", "--model", model_dir, "--input", tmp_path / "missing.csv", "--output", tmp_path / "o.csv") == 2
    assert "missing.csv: file not found" in capsys.readouterr().err
    clash = write_csv(tmp_path / "clash.csv", [("x", "a")], header=("text", "confidence"))
    assert cli("predict", "--model", model_dir, "--input", clash, "--output", tmp_path / "o.csv") == 2
    assert "already has column 'confidence'" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_stdin_and_stdout(tmp_path, model_dir, monkeypatch, capsys):
    rows = tricky_rows(30, seed=4)
    inp = write_csv(tmp_path / "in.csv", rows, header=("id", "text", "note", "label"))
    out = tmp_path / "out.csv"
    assert cli("predict", "--model", model_dir, "--input", inp, "--output", out, "--quiet") == 0
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(inp.read_bytes()), encoding="utf-8"))
    monkeypatch.setattr(sys, "stdout", stdout)
    assert cli("predict", "--model", model_dir, "--input", "-", "--output", "-", "--chunk-size", "8") == 0
    stdout.flush()
    assert stdout.buffer.getvalue() == out.read_bytes()
    assert "wrote standard output" in capsys.readouterr().err


def test_sigkill_leaves_previous_output_then_rerun_completes(tmp_path, model_dir):
    rows = [(f"{i:06d}", t) for i, (t, _) in enumerate(make_texts(3000, seed=6))] * 40
    inp = write_csv(tmp_path / "big.csv", rows, header=("id", "text"))
    out = tmp_path / "out.csv"
    out.write_text("previous run\n")
    textclf_bin = Path(sys.executable).with_name("textclf")
    proc = subprocess.Popen(
        [str(textclf_bin), "predict", "--model", str(model_dir), "--input", str(inp), "--output", str(out),
         "--chunk-size", "2000", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until some chunks are written to the temporary file
            temps = [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv.tmp-")]
            if temps and temps[0].stat().st_size > 100_000:
                break
            assert proc.poll() is None, "finished before it could be interrupted; make the file larger"
            time.sleep(0.05)
        else:
            pytest.fail("no output progress within 120 s")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert out.read_text() == "previous run\n"
    assert cli("predict", "--model", model_dir, "--input", inp, "--output", out, "--quiet", "--chunk-size", "20000") == 0
    with open(out, newline="", encoding="utf-8") as handle:
        count = sum(1 for _ in csv.reader(handle))
    assert count == len(rows) + 1


def test_predict_proba_is_the_saved_graph_on_every_batching(classifier):
    """Length-sorted batches padded to their longest text give what each text alone gives."""
    texts = [t for t, _ in make_texts(300, seed=5)]
    texts[3] = " ".join(texts[:40])  # one long text among short ones: batches of different widths
    alone = np.concatenate([classifier.model(texts[i : i + 1]).numpy() for i in range(0, 300, 7)])
    np.testing.assert_allclose(classifier.predict_proba(texts, batch_size=16)[::7], alone, atol=1e-6)
    np.testing.assert_allclose(classifier.predict_proba(texts, batch_size=16),
                               classifier.model.predict(texts, batch_size=64, verbose=0), atol=1e-6)
    assert classifier.predict_proba([]).shape == (0, len(classifier.classes_))


def test_predict_proba_batches_of_long_texts_hold_fewer_rows(classifier, monkeypatch):
    """A character budget per batch splits long texts into smaller batches; the probabilities stay the same."""
    from textclf.inference import classifier as classifier_module
    from textclf.models.text_model import length_batches

    texts = [t for t, _ in make_texts(120, seed=9)]
    texts[5] = " ".join(texts[:60])
    whole = classifier.predict_proba(texts, batch_size=32)
    monkeypatch.setattr(classifier_module, "BATCH_CHARACTERS_PER_ROW", 40)
    np.testing.assert_allclose(classifier.predict_proba(texts, batch_size=32), whole, atol=1e-6)

    lengths = np.array([len(t) for t in texts])
    order, batches = length_batches(lengths, 32, max_total_length=32 * 40)
    assert sorted(order[np.r_[tuple(batches)]]) == list(range(120))  # every row once
    for batch in batches:
        rows = batch.stop - batch.start
        assert rows <= 32 and (rows == 1 or rows * lengths[order[batch]].max() <= 32 * 40)
    assert len(batches) > len(length_batches(lengths, 32)[1])


def test_csv_slices_join_to_the_whole_chunk():
    import pandas as pd

    from textclf.inference.prediction import csv_slices, to_csv_bytes

    frame = pd.DataFrame({"text": [f"row {i}, \"quoted\"\nline" for i in range(23)], "p": np.arange(23) / 7})
    pieces = list(csv_slices(frame, ",", rows=5))
    assert len(pieces) == 5 and b"".join(pieces) == to_csv_bytes(frame, ",", header=False)


def test_writer_writes_a_job_piece_by_piece():
    from textclf.inference.prediction import BackgroundWriter

    out, seen = io.BytesIO(), []

    def pieces():
        for piece in (b"x", b"y", b"z"):
            seen.append(out.getvalue())  # what was written before this piece was made
            yield piece

    writer = BackgroundWriter(out, depth=1)
    writer.submit(lambda: b"header;")
    writer.submit(pieces)
    writer.close()
    assert out.getvalue() == b"header;xyz" and seen == [b"header;", b"header;x", b"header;xy"]


def test_reader_runs_at_most_one_chunk_ahead():
    """Memory is three chunks whatever the file: the reader counts the chunk it is parsing as its one ahead.

    While the consumer holds chunk k the reader reads chunk k + 1 (the consumer waits for it to start),
    and chunk k + 2 is started only once the consumer is done with chunk k: the reader checks it as it
    starts each chunk, and prefetch hands its failure to the consumer.
    """
    import threading

    from textclf.inference.prediction import prefetch

    count = 5
    started = [threading.Event() for _ in range(count + 1)]  # the last: asked past the end
    done = [threading.Event() for _ in range(count)]

    def chunks():
        for index in range(count + 1):
            started[index].set()
            assert index < 2 or done[index - 2].is_set(), f"chunk {index} started while chunk {index - 2} is held"
            if index == count:
                return
            yield index

    seen = []
    for item in prefetch(chunks(), depth=1):
        assert started[item + 1].wait(10), f"the reader did not start chunk {item + 1} while {item} was held"
        seen.append(item)
        done[item].set()
    assert seen == list(range(count))


def test_a_consumer_that_stops_early_leaves_no_reader_thread_behind():
    """An exception in the loop over predicted chunks stops the reader thread and waits for it before it
    propagates: an interrupted process does not exit with a reader still inside pandas' parser."""
    import threading
    from types import SimpleNamespace

    import numpy as np

    from textclf.inference.prediction import predict_chunks

    parsing = threading.Event()

    class Reader:
        path = "rows.csv"

        def __iter__(self):
            for start in range(0, 1000, 10):
                parsing.set()
                yield SimpleNamespace(frame=list(range(10)), start=start)

    class Predictor:
        def predict(self, frame, file, rows):
            return np.zeros((len(frame), 2)), np.zeros(len(frame), bool)

    def readers():
        return [t for t in threading.enumerate() if t.name == "textclf-reader"]

    with pytest.raises(KeyboardInterrupt):
        for chunk, _, _ in predict_chunks(Reader(), Predictor()):
            assert parsing.wait(10) and readers()  # the reader runs ahead of the consumer
            raise KeyboardInterrupt  # as a signal would, inside the consumer's loop
    assert readers() == []


def test_writer_lets_in_a_job_only_when_the_previous_one_is_done():
    """A second submit returns only after the first job ran and its bytes were written."""
    import threading

    from textclf.inference.prediction import BackgroundWriter

    running, submitting, release, out = threading.Event(), threading.Event(), threading.Event(), io.BytesIO()
    written_when_let_in = []

    def first():
        running.set()
        assert release.wait(10)
        return b"a"

    writer = BackgroundWriter(out, depth=1)
    writer.submit(first)
    assert running.wait(10)

    def submit_second():
        submitting.set()
        writer.submit(lambda: b"b")
        written_when_let_in.append(out.getvalue())

    second = threading.Thread(target=submit_second)
    second.start()
    assert submitting.wait(10)
    release.set()
    second.join(10)
    writer.close()
    assert written_when_let_in == [b"a"]  # not let in before the first job's bytes were out
    assert out.getvalue() == b"ab"
