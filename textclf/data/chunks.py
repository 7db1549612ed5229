"""Reading a CSV/TSV file (optionally .gz; `-` for standard input) in chunks of rows, every cell a string.

`ChunkReader` is the streamed reader of the commands that go through files of any size (`predict`,
`evaluate`): a chunk at a time, ids such as `007` keeping their spelling, the bytes read counted for
progress displays.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
from dataclasses import dataclass

from textclf.data.tables import (
    check_header,
    check_readable_file,
    csv_read_options,
    is_parquet,
    require_column,
    translate_read_error,
)
from textclf.errors import InputDataError

DEFAULT_CHUNK_SIZE = 20_000



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
    """Iterates a CSV/TSV file (optionally gzipped; `-` for stdin) or a Parquet file in chunks.

    Args:
        path: The file, or "-" for standard input (read as CSV). A Parquet file is read a record batch at a
            time; its required columns are read as strings (a missing cell as an empty one).
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
        check_readable_file(path)
        if name != "-" and is_parquet(name):
            self._open_parquet(name, required)
            return
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

    def _open_parquet(self, name, required):
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(name)
        except Exception as exc:  # noqa: BLE001 - every reader failure becomes one line
            raise InputDataError(f"cannot be read as Parquet ({' '.join(str(exc).split())})", file=name) from None
        self.sep, self.total_bytes, self._counter, self._source = ",", None, None, None
        self.columns = [str(c) for c in parquet.schema_arrow.names]
        check_header(self.columns, name)
        for column in required:
            require_column(self.columns, column, name)

        def frames():
            for batch in parquet.iter_batches(batch_size=self.chunk_size):
                frame = batch.to_pandas()
                for column in required:  # texts and labels as strings, as a CSV file gives them
                    cells = frame[column]
                    frame[column] = cells.where(cells.notna(), "").astype(str)
                yield frame

        self._reader = frames()
        self._first = next(self._reader, None)
        if self._first is None:
            raise InputDataError("file has no rows", file=name)

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
