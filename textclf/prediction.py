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

Sharding (`shard=(i, n)`) keeps every n-th chunk, starting with the i-th: no
pre-pass over the file is needed, every shard parses the whole file but runs
the model on its own chunks only, and `merge_parts` interleaves the chunks of
the part files back into input order, byte for byte what one unsharded run
writes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import queue
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textclf.data import (
    check_header,
    check_readable_file,
    csv_read_options,
    delimiter_for,
    is_parquet,
    require_column,
    spreadsheet_row,
    translate_read_error,
)
from textclf.errors import ConfigError, InputDataError
from textclf.memory import release_freed_memory

DEFAULT_CHUNK_SIZE = 20_000
DEFAULT_BATCH_SIZE = 256
WRITE_SLICE_ROWS = 1_000  # rows formatted as CSV at a time by the writer thread
BAD_ROW_POLICIES = ("error", "skip")
FLOAT_FORMAT = "%.6f"
SHARD_SUFFIX = ".shard.json"
PART_FORMAT = 1


# --------------------------------------------------------------------------
# Reading


class _CountingReader(io.RawIOBase):
    """A raw binary stream that counts the bytes read through it."""

    def __init__(self, raw):
        self.raw = raw
        self.count = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n

    def close(self):
        self.raw.close()
        super().close()


@dataclass
class Chunk:
    """`frame` holds input records `start` .. `start + len(frame) - 1` (0-based)."""

    index: int
    start: int
    frame: object


class ChunkReader:
    """Iterates a CSV/TSV file (optionally gzipped; `-` for stdin) in chunks.

    Args:
        path: The file, or "-" for standard input (read as CSV).
        encoding: Text encoding.
        chunk_size: Rows per chunk.
        required: Columns that must be present.
    """

    def __init__(self, path, *, encoding="utf-8", chunk_size=DEFAULT_CHUNK_SIZE, required=()):
        import pandas as pd

        self.path = path
        self.encoding = encoding
        self.chunk_size = chunk_size
        name = os.fspath(path)
        if name != "-" and is_parquet(name):
            raise InputDataError("Parquet input is not supported for streaming prediction; use CSV or TSV", file=path)
        check_readable_file(path)
        options = csv_read_options("input.csv" if name == "-" else name, encoding)
        self.sep = options["sep"]
        self.total_bytes = None
        self._counter = None
        if name == "-":
            source = sys.stdin.buffer
            options["compression"] = None
        elif not name.lower().endswith((".bz2", ".xz", ".zst", ".zip")):
            # Opened here so progress can follow the bytes consumed.
            self._counter = _CountingReader(open(name, "rb"))
            self.total_bytes = os.path.getsize(name)
            source = io.BufferedReader(self._counter, buffer_size=1 << 20)
            if name.lower().endswith(".gz"):
                source = gzip.GzipFile(fileobj=source, mode="rb")
            options["compression"] = None
        else:
            source = name
        self._source = source
        try:
            self._reader = pd.read_csv(source, chunksize=chunk_size, **options)
            self._first = next(self._reader, None)
        except Exception as exc:  # noqa: BLE001 - every reader failure becomes one line
            self.close()
            raise translate_read_error(exc, path, encoding) from None
        if self._first is None:
            self.close()
            raise InputDataError("file has no header and no rows", file=path)
        self.columns = [str(c) for c in self._first.columns]
        check_header(self.columns, path)
        for column in required:
            require_column(self.columns, column, path)

    @property
    def bytes_read(self):
        """Bytes consumed from the file so far (None when not counted)."""
        return None if self._counter is None else self._counter.count

    def __iter__(self):
        start, index = 0, 0
        frame = self._first
        self._first = None
        try:
            while frame is not None:
                if len(frame):
                    frame.columns = self.columns
                    yield Chunk(index=index, start=start, frame=frame)
                    start += len(frame)
                    index += 1
                try:
                    frame = next(self._reader, None)
                except Exception as exc:  # noqa: BLE001
                    raise translate_read_error(exc, self.path, self.encoding) from None
        finally:
            self.close()

    def close(self):
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.close()
        if self._counter is not None:
            self._counter.close()


_DONE = object()


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
    consumer.
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


def bad_rows(frame, text_column, path, start, on_bad_rows):
    """Boolean array of the chunk's rows whose text breaks the rule (`textclf.inputs`), to be skipped.

    An empty or whitespace-only text stops the run unless `on_bad_rows` is
    "skip"; a NUL byte in any cell always does: the row is copied to the output,
    which would then hold a byte `textclf train` refuses (and NUL bytes mean a
    binary or UTF-16 file, which skipping would hide).

    Raises:
        InputDataError: naming the file, row and column of the first such cell.
    """
    from textclf.inputs import EMPTY, NUL, bad_text_masks

    empty, nul = bad_text_masks(frame[text_column])
    for column in frame.columns:
        cells = nul if column == text_column else frame[column].str.contains("\x00", regex=False).to_numpy(bool)
        if cells.any():
            raise InputDataError(NUL, file=path, row=spreadsheet_row(start + int(np.argmax(cells))), column=column)
    if empty.any() and on_bad_rows == "error":
        raise InputDataError(f"{EMPTY} (use --on-bad-rows skip to write such rows without a prediction)",
                             file=path, row=spreadsheet_row(start + int(np.argmax(empty))), column=text_column)
    return empty


def predict_chunks(reader, classifier, *, text_column, batch_size=DEFAULT_BATCH_SIZE, on_bad_rows="error",
                   keep=None, depth=1):
    """Yields `(chunk, probabilities, bad)` for each chunk of `reader`.

    Args:
        reader: A `ChunkReader`.
        classifier: A `TextClassifier`.
        text_column: Column of texts.
        batch_size: Rows per model batch.
        on_bad_rows: "error" raises `InputDataError` at the first empty text;
            "skip" gives its row NaN probabilities and `bad=True` (`bad_rows`).
        keep: Optional predicate on the chunk index; other chunks are yielded
            with `probabilities=None` and are not predicted.
        depth: Chunks read ahead.
    """
    num_classes = len(classifier.classes_)

    def predict(texts):
        return classifier.predict_proba(texts, batch_size)  # the one batched path (classifier.predict_texts)
    for chunk in prefetch(reader, depth):
        if keep is not None and not keep(chunk.index):
            yield chunk, None, None
            continue
        texts = chunk.frame[text_column]
        bad = bad_rows(chunk.frame, text_column, reader.path, chunk.start, on_bad_rows)
        probabilities = np.full((len(texts), num_classes), np.nan, dtype=np.float32)
        if bad.any():
            good = ~bad
            if good.any():
                probabilities[good] = predict(texts[good].tolist())
        else:
            probabilities[:] = predict(texts.tolist())
        del texts
        release_freed_memory()
        yield chunk, probabilities, bad


def prediction_columns(labels, task, *, probabilities=False, top_k=0):
    """Names of the columns prediction appends, in order: the task's (`Task.prediction_columns`) first."""
    names = list(task.prediction_columns())
    if probabilities:
        names += [f"proba_{label}" for label in labels]
    for k in range(1, top_k + 1):
        names += [f"top{k}_label", f"top{k}_proba"]
    return names


def add_predictions(frame, probabilities, bad, labels, task, *, probabilities_columns=False, top_k=0):
    """`frame` with the prediction columns appended (skipped rows left empty).

    Args:
        task: The model's `textclf.tasks.Task` (overrides such as `--threshold`
            applied): its decisions give its columns (`Task.prediction_cells`).
    """
    import pandas as pd

    labels = np.asarray(labels, dtype=object)
    columns = task.prediction_cells(probabilities, task.decide(probabilities))
    if bad is not None and bad.any():
        for values in columns.values():
            if values.dtype == object:
                values[bad] = ""  # fresh arrays; numbers stay NaN
    if probabilities_columns:
        for j, label in enumerate(labels):
            columns[f"proba_{label}"] = probabilities[:, j]
    if top_k:
        order = np.argsort(-np.nan_to_num(probabilities, nan=-1.0), axis=1, kind="stable")[:, :top_k]
        for k in range(top_k):
            names = labels[order[:, k]]
            if bad is not None and bad.any():
                names = names.copy()
                names[bad] = ""
            columns[f"top{k + 1}_label"] = names
            columns[f"top{k + 1}_proba"] = np.take_along_axis(probabilities, order[:, k : k + 1], axis=1)[:, 0]
    extra = pd.DataFrame(columns, index=frame.index)
    return pd.concat([frame, extra], axis=1)


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


def parse_shard(value):
    """`"I/N"` -> `(I, N)` with 1 <= I <= N; raises `ConfigError` otherwise."""
    try:
        i, n = (int(part) for part in str(value).split("/"))
    except ValueError:
        raise ConfigError(f"--shard {value!r}: expected I/N, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise ConfigError(f"--shard {value!r}: I must be between 1 and N")
    return i, n


def predict_file(classifier, input_path, output, *, text_column=None, encoding="utf-8",
                 chunk_size=DEFAULT_CHUNK_SIZE, batch_size=DEFAULT_BATCH_SIZE, probabilities=False, top_k=0,
                 on_bad_rows="error", shard=None, progress=None, threshold=None, at_least_one=None):
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
        shard: Optional `(i, n)`: only chunks i-1, i-1+n, ... (1-based i);
            writes a part file and its `<output>.shard.json` index.
        progress: A `textclf.progress.Progress`, or None.
        threshold, at_least_one: Multi-label models only (`Task.with_overrides`):
            one threshold for every label instead of the stored ones, and
            whether a row with no label passing gets its most probable one.

    Returns:
        A `PredictResult`.
    """
    from textclf.outputs import atomic_file, claim

    labels = [str(label) for label in classifier.classes_]
    text_column = text_column or classifier.metadata.get("text_column", "text")
    _check_options(labels, chunk_size=chunk_size, batch_size=batch_size, top_k=top_k, on_bad_rows=on_bad_rows)
    output = os.fspath(output)
    with claim(output, inputs=(input_path,)):  # before any work; re-entrant under the CLI
        if shard is not None:
            if output == "-":
                raise ConfigError("--shard needs --output FILE (a part file), not standard output")
            if output.lower().endswith((".gz", ".bz2", ".xz", ".zst", ".zip")):
                raise ConfigError("--shard writes uncompressed part files; compress the merged file instead")
        task = classifier.task.with_overrides(threshold, at_least_one)
        reader = ChunkReader(input_path, encoding=encoding, chunk_size=chunk_size, required=(text_column,))
        try:
            added = prediction_columns(labels, task, probabilities=probabilities, top_k=top_k)
            clash = [name for name in added if name in reader.columns]
            if clash:
                raise InputDataError(
                    f"already has column {clash[0]!r}, which prediction adds; rename or drop it first",
                    file=input_path, row=1, column=clash[0],
                )
            sep = delimiter_for(output) if output != "-" else reader.sep
            keep = None if shard is None else (lambda index: index % shard[1] == shard[0] - 1)
            header = to_csv_bytes(_empty_frame(reader.columns + added), sep, header=True)
            run = lambda handle: _write_predictions(  # noqa: E731
                classifier, reader, handle, header, sep, text_column=text_column, batch_size=batch_size,
                probabilities=probabilities, top_k=top_k, on_bad_rows=on_bad_rows, keep=keep, progress=progress,
                task=task,
            )
            if output == "-":
                result = run(sys.stdout.buffer)
                sys.stdout.buffer.flush()
                return result
            with atomic_file(output, "wb") as raw:
                if output.lower().endswith(".gz"):
                    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
                        result = run(handle)
                else:
                    result = run(raw)
            if shard is not None:
                _write_shard_index(output, input_path, shard, chunk_size, result)
            return result
        finally:
            reader.close()


def _check_options(labels, *, chunk_size, batch_size, top_k, on_bad_rows):
    if chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1, got {chunk_size}")
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")
    if not 0 <= top_k <= len(labels):
        raise ConfigError(f"--top-k must be between 0 and the number of classes ({len(labels)}), got {top_k}")
    if on_bad_rows not in BAD_ROW_POLICIES:
        raise ConfigError(f"--on-bad-rows must be one of {', '.join(BAD_ROW_POLICIES)}, got {on_bad_rows!r}")


def _empty_frame(columns):
    import pandas as pd

    return pd.DataFrame({name: pd.Series([], dtype=object) for name in columns})[list(columns)]


def _write_predictions(classifier, reader, handle, header, sep, *, text_column, batch_size, probabilities, top_k,
                       on_bad_rows, keep, progress, task):
    result = PredictResult(header_bytes=len(header))
    labels = [str(label) for label in classifier.classes_]
    writer = BackgroundWriter(handle, depth=1)
    writer.submit(lambda: header)
    try:
        for chunk, probs, bad in predict_chunks(
            reader, classifier, text_column=text_column, batch_size=batch_size, on_bad_rows=on_bad_rows, keep=keep,
        ):
            result.rows += len(chunk.frame)
            if probs is not None:
                skipped = int(bad.sum())
                result.skipped += skipped
                result.predicted += len(chunk.frame) - skipped

                def job(frame=chunk.frame, probs=probs, bad=bad):
                    table = add_predictions(frame, probs, bad, labels, task, probabilities_columns=probabilities,
                                            top_k=top_k)
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


# --------------------------------------------------------------------------
# Shards


def shard_index_path(part):
    """The JSON index written next to a part file."""
    return Path(os.fspath(part) + SHARD_SUFFIX)


def _write_shard_index(output, input_path, shard, chunk_size, result):
    from textclf.outputs import atomic_file

    index = {
        "format": PART_FORMAT,
        "shard": shard[0],
        "shards": shard[1],
        "chunk_size": chunk_size,
        "input": os.path.abspath(os.fspath(input_path)),
        "input_bytes": os.path.getsize(input_path),
        "rows_read": result.rows,
        "header_bytes": result.header_bytes,
        "part_bytes": result.header_bytes + sum(b for _, b in result.chunks),
        "chunks": [list(c) for c in result.chunks],
    }
    with atomic_file(shard_index_path(output), "w", encoding="utf-8") as handle:
        json.dump(index, handle, indent=1)
        handle.write("\n")


def read_shard_index(part):
    """Reads and checks the index of a part file; raises `InputDataError`."""
    part = Path(part)
    check_readable_file(part)
    path = shard_index_path(part)
    if not path.is_file():
        raise InputDataError(
            f"no {path.name} next to it; is it a part file written by `textclf predict --shard`?", file=part
        )
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        if index.get("format") != PART_FORMAT:
            raise ValueError(f"unknown format {index.get('format')!r}")
        size = index["header_bytes"] + sum(int(b) for _, b in index["chunks"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputDataError(f"cannot be read as a shard index: {exc}", file=path) from None
    if size != index["part_bytes"] or part.stat().st_size != size:
        raise InputDataError(
            f"has {part.stat().st_size} bytes but its index {path.name} describes {size}; "
            "the part was changed or is incomplete", file=part,
        )
    return index


def merge_parts(parts, output):
    """Interleaves the chunks of shard part files back into input order.

    Args:
        parts: Part files (any order) of one `textclf predict --shard I/N` job,
            all N of them.
        output: The merged file ("-" for stdout; ".gz" compresses it).

    Returns:
        The number of data rows written.
    """
    from textclf.outputs import atomic_file

    indexes = [read_shard_index(p) for p in parts]
    first = indexes[0]
    for part, index in zip(parts, indexes):
        for key in ("shards", "chunk_size", "input", "input_bytes", "rows_read"):
            if index[key] != first[key]:
                raise InputDataError(
                    f"belongs to another job than {parts[0]} ({key} {index[key]!r} vs {first[key]!r})", file=part
                )
    n = first["shards"]
    by_shard = {}
    for part, index in zip(parts, indexes):
        if index["shard"] in by_shard:
            raise InputDataError(f"shard {index['shard']}/{n} given twice (also {by_shard[index['shard']][0]})",
                                 file=part)
        by_shard[index["shard"]] = (part, index)
    missing = [str(i) for i in range(1, n + 1) if i not in by_shard]
    if missing:
        raise InputDataError(f"missing shard(s) {', '.join(missing)} of {n}; pass all {n} part files")
    expected_rows = sum(rows for index in indexes for rows, _ in index["chunks"])
    if expected_rows != first["rows_read"]:
        raise InputDataError(f"the parts hold {expected_rows} rows but the input has {first['rows_read']}")

    headers = []
    for i in range(1, n + 1):
        part, index = by_shard[i]
        with open(part, "rb") as handle:
            headers.append(handle.read(index["header_bytes"]))
    if any(h != headers[0] for h in headers):
        raise InputDataError("the part files have different headers (different options per shard?)")

    def write(out):
        out.write(headers[0])
        handles = {}
        try:
            for i in range(1, n + 1):
                handles[i] = open(by_shard[i][0], "rb")
                handles[i].seek(by_shard[i][1]["header_bytes"])
            positions = {i: 0 for i in handles}
            chunk = 0
            while True:
                i = chunk % n + 1
                chunks = by_shard[i][1]["chunks"]
                if positions[i] >= len(chunks):
                    break
                remaining = chunks[positions[i]][1]
                while remaining:
                    data = handles[i].read(min(remaining, 1 << 20))
                    if not data:
                        raise InputDataError("ends early", file=by_shard[i][0])
                    out.write(data)
                    remaining -= len(data)
                positions[i] += 1
                chunk += 1
            leftover = [str(i) for i in handles if positions[i] < len(by_shard[i][1]["chunks"])]
            if leftover:
                raise InputDataError(f"shard(s) {', '.join(leftover)} hold chunks out of sequence")
        finally:
            for handle in handles.values():
                handle.close()

    output = os.fspath(output)
    if output == "-":
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with atomic_file(output, "wb") as raw:
            if output.lower().endswith(".gz"):
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
                    write(handle)
            else:
                write(raw)
    return expected_rows
