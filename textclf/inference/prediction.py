"""Streaming batch prediction over CSV/TSV files of any size.

The input is read in chunks of `chunk_size` rows (every cell a string, so ids
such as `007` keep their spelling) by a background thread, a bounded queue
ahead of the model; each chunk's rows are sorted by length and batched
through the saved end-to-end model (`TextClassifier.predict_proba`, the one
batched path: a `tf.function` traced once per model, not `keras.Model.predict`
per chunk); the model's task turns probabilities into its columns;
the formatted chunk is written by a second thread while the model works on
the next one. At most three chunks are alive (one read ahead, one
predicted, one being written: each thread takes its slot before it makes a
chunk, not after) beside the model, whatever the file size
(`benchmarks/predict_speed.py` measures peak RSS over file sizes).

Each chunk is predicted by `textclf.inference.batch_predictor.BatchPredictor`, the
predictor every engine uses (beyond one machine: `textclf.inference.ray_engine`).
"""

from __future__ import annotations

import csv
import gzip
import os
import queue
import sys
import threading
from dataclasses import dataclass, field

from textclf.inference.batch_predictor import DEFAULT_BATCH_SIZE, BatchPredictor, check_options, prediction_columns
from textclf.data.chunks import DEFAULT_CHUNK_SIZE, ChunkReader
from textclf.data.tables import delimiter_for
from textclf.errors import InputDataError
from textclf.runtime.memory import release_freed_memory

WRITE_SLICE_ROWS = 1_000  # rows formatted as CSV at a time by the writer thread
FLOAT_FORMAT = "%.6f"


_DONE = object()
READER_JOIN_SECONDS = 5.0  # a chunk parses in well under a second; a reader blocked on a pipe is left behind


def _acquire(room, stop):
    """Waits for a slot of the semaphore `room`; False if `stop` is set first."""
    while not stop.is_set():
        if room.acquire(timeout=0.2):
            return True
    return False


def prefetch(iterable, depth=1):
    """Runs `iterable` in a background thread, at most `depth` items ahead of the consumer.

    The thread takes a slot before it computes the next item, not after: an
    item being parsed counts, so at most `depth` items exist beyond the one
    the consumer holds. Exceptions raised by the iterable are re-raised in the
    consumer. Closing the generator stops the thread and waits for it (at most
    `READER_JOIN_SECONDS`: it may be blocked on standard input), so no reader
    is left inside pandas' parser while an interrupted process exits.
    """
    items, room, stop = queue.Queue(), threading.Semaphore(depth), threading.Event()

    def produce():
        try:
            iterator = iter(iterable)
            while _acquire(room, stop):
                item = next(iterator, _DONE)
                items.put((True, item))
                if item is _DONE:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            items.put((False, exc))

    thread = threading.Thread(target=produce, name="textclf-reader", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = items.get()
            room.release()  # the consumer holds this one now: the next may be read
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join(READER_JOIN_SECONDS)


class BackgroundWriter:
    """Writes byte strings to `handle` from a thread, at most `depth` jobs behind (the one running included).

    A job returns bytes, or an iterable of bytes written piece by piece as it
    yields them (a chunk formatted a slice at a time never exists whole as text).
    """

    def __init__(self, handle, depth=1):
        self.handle = handle
        self._queue = queue.Queue()
        self._room = threading.Semaphore(depth)
        self._error = None
        self._thread = threading.Thread(target=self._work, name="textclf-writer", daemon=True)
        self._thread.start()

    def _work(self):
        while True:
            job = self._queue.get()
            if job is _DONE:
                return
            data = None
            try:
                if self._error is None:
                    data = job()
                    for piece in [data] if isinstance(data, bytes) else data:
                        self.handle.write(piece)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the producer
                self._error = exc
            finally:
                job = data = piece = None  # the chunk and its bytes are freed before the next job is let in
                self._room.release()

    def submit(self, job):
        """Queues `job` (a function returning bytes or an iterable of bytes) once fewer than `depth` are pending."""
        if self._error is not None:
            raise self._error
        self._room.acquire()
        self._queue.put(job)

    def close(self):
        """Waits for every queued write; re-raises a failure."""
        self._queue.put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error


# --------------------------------------------------------------------------
# Predicting


def predict_chunks(reader, predictor, *, depth=1):
    """Yields `(chunk, probabilities, bad)` for each chunk of `reader`.

    Each chunk goes through the one batch predictor of every engine
    (`textclf.inference.batch_predictor.BatchPredictor.predict`): `TextClassifier.predict_proba`
    runs functions traced once per classifier (not `keras.Model.predict`, whose
    per-call datasets and state grow the resident set with every chunk), so
    memory stays flat over a file.

    Args:
        reader: A `ChunkReader`.
        predictor: A `BatchPredictor`; under `on_bad_rows="error"` the first empty text raises
            `InputDataError`, under "skip" its row gets NaN probabilities and `bad=True`.
        depth: Chunks read ahead.

    Returns:
        A generator of `(Chunk, probabilities, bad)`.
    """
    for chunk in prefetch(reader, depth):
        probabilities, bad = predictor.predict(chunk.frame, file=reader.path, rows=chunk.start)
        release_freed_memory()
        yield chunk, probabilities, bad


def to_csv_bytes(frame, sep, *, header):
    """One chunk as CSV bytes (UTF-8, minimal quoting, `\\n` line ends)."""
    text = frame.to_csv(
        None, index=False, header=header, sep=sep, lineterminator="\n",
        quoting=csv.QUOTE_MINIMAL, float_format=FLOAT_FORMAT, na_rep="",
    )
    return text.encode("utf-8")


def csv_slices(frame, sep, rows=WRITE_SLICE_ROWS):
    """`frame` as CSV bytes without a header, `rows` rows at a time.

    Formatting a whole 20,000-row chunk at once held its text two or three
    more times (pandas' buffer, the joined `str` at up to 4 bytes a character,
    the UTF-8 bytes) while the next chunk was being predicted.
    """
    for start in range(0, len(frame), rows):
        yield to_csv_bytes(frame.iloc[start : start + rows], sep, header=False)


@dataclass
class PredictResult:
    """What a prediction run did."""

    rows: int = 0
    predicted: int = 0
    skipped: int = 0
    chunks: list = field(default_factory=list)  # (rows, bytes) of each chunk written
    header_bytes: int = 0


def predict_file(classifier, input_path, output, *, text_column=None, encoding="utf-8",
                 chunk_size=DEFAULT_CHUNK_SIZE, batch_size=DEFAULT_BATCH_SIZE, probabilities=False, top_k=0,
                 on_bad_rows="error", progress=None, threshold=None, at_least_one=None):
    """Predicts every row of `input_path` and writes `output` (see module doc).

    Args:
        classifier: A `TextClassifier`.
        input_path: CSV/TSV file (optionally .gz), or "-" for stdin.
        output: Output CSV/TSV path (".gz" compresses it), or "-" for stdout.
            Written under a temporary name and renamed when complete.
        text_column: Column of texts (default: the model's).
        encoding: Input encoding (output is always UTF-8).
        chunk_size: Rows read, predicted and written at a time.
        batch_size: Rows per model batch.
        probabilities: Add one `proba_<label>` column per class.
        top_k: Add `top<k>_label`/`top<k>_proba` for the k best classes.
        on_bad_rows: "error" or "skip" (empty/missing texts).
        progress: A `textclf.runtime.progress.Progress`, or None.
        threshold, at_least_one: Multi-label models only (`Task.with_overrides`):
            one threshold for every label instead of the stored ones, and
            whether a row with no label passing gets its most probable one.

    Returns:
        A `PredictResult`.
    """
    from textclf.artifacts.outputs import claim

    labels = [str(label) for label in classifier.classes_]
    text_column = text_column or classifier.metadata.get("text_column", "text")
    check_options(labels, chunk_size=chunk_size, batch_size=batch_size, top_k=top_k, on_bad_rows=on_bad_rows)
    output = os.fspath(output)
    with claim(output, inputs=(input_path,)):  # before any work; re-entrant under the CLI
        predictor = BatchPredictor(classifier, text_column=text_column, batch_size=batch_size,
                                   probabilities=probabilities, top_k=top_k, on_bad_rows=on_bad_rows,
                                   threshold=threshold, at_least_one=at_least_one)
        reader = ChunkReader(input_path, encoding=encoding, chunk_size=chunk_size, required=(text_column,))
        try:
            return _predict_to(output, predictor, reader, labels, input_path, progress)
        finally:
            reader.close()


def _predict_to(output, predictor, reader, labels, input_path, progress):
    """Writes the predictions of `reader`'s rows to `output` ("-": standard output); returns a `PredictResult`."""
    from textclf.artifacts.outputs import atomic_file

    added = prediction_columns(labels, predictor.task, probabilities=predictor.probabilities, top_k=predictor.top_k)
    clash = [name for name in added if name in reader.columns]
    if clash:
        raise InputDataError(
            f"already has column {clash[0]!r}, which prediction adds; rename or drop it first",
            file=input_path, row=1, column=clash[0],
        )
    sep = delimiter_for(output) if output != "-" else reader.sep
    header = to_csv_bytes(_empty_frame(reader.columns + added), sep, header=True)
    run = lambda handle: _write_predictions(predictor, reader, handle, header, sep, progress=progress)  # noqa: E731
    if output == "-":
        result = run(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return result
    with atomic_file(output, "wb") as raw:
        if output.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
                return run(handle)
        return run(raw)


def _empty_frame(columns):
    import pandas as pd

    return pd.DataFrame({name: pd.Series([], dtype=object) for name in columns})[list(columns)]


def _write_predictions(predictor, reader, handle, header, sep, *, progress):
    result = PredictResult(header_bytes=len(header))
    writer = BackgroundWriter(handle, depth=1)
    writer.submit(lambda: header)
    try:
        for chunk, probs, bad in predict_chunks(reader, predictor):
            result.rows += len(chunk.frame)
            skipped = int(bad.sum())
            result.skipped += skipped
            result.predicted += len(chunk.frame) - skipped

            def job(frame=chunk.frame, probs=probs, bad=bad):
                table = predictor.add_columns(frame, probs, bad)
                written = 0
                for data in csv_slices(table, sep):
                    written += len(data)
                    yield data
                result.chunks.append((len(frame), written))

            writer.submit(job)
            if progress is not None:
                progress.update(result.rows, reader.bytes_read)
    except BaseException:
        try:
            writer.close()
        except BaseException:  # noqa: BLE001 - the first error is the one to report
            pass
        raise
    writer.close()
    if progress is not None:
        progress.close(result.rows, reader.bytes_read)
    return result
