"""Vectors of an indexed text embeddings file (GloVe, word2vec text, fastText `.vec`), parsed on demand.

`text_scan.scan_text` indexes the file in one streaming pass: the word and byte
offset of every line. Floats are parsed only for the rows actually requested
(`TextTable.take`), read back with `os.pread`, so a 20,000-word vocabulary over
a 400,000-line file parses 5% of the numbers and never holds the full matrix in
memory. The index is small enough to cache, and a cached index serves any
vocabulary; `ParsedRows` remembers parsed vectors.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from textclf.embeddings.text_scan import is_number
from textclf.errors import EmbeddingsError

_ROWS_PER_PARSE = 2048  # bounds the text held at once when parsing hits


class StaleIndexError(Exception):
    """The data no longer matches the index (file changed under a cache entry)."""


def _parse_rows(chunks, dim, lines, file):
    """Parse vector text chunks into a float32 (len(chunks), dim) array.

    np.fromstring is the parser of the keras-io recipe, so values are
    bit-identical to it; one call over the joined chunks avoids per-line cost.
    """
    if not chunks:
        return np.zeros((0, dim), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # older numpy only warns on bad data
        try:
            values = np.fromstring(b" ".join(chunks), dtype=np.float32, sep=" ")
        except (ValueError, DeprecationWarning):
            values = None
    if values is not None and values.size == len(chunks) * dim:
        return values.reshape(len(chunks), dim)
    # Something is off: find the first bad line for a precise message; if
    # every line is fine after all, parse them one value at a time.
    rows = np.empty((len(chunks), dim), dtype=np.float32)
    for r, (chunk, line_no) in enumerate(zip(chunks, lines)):
        tokens = chunk.split()
        for token in tokens:
            if not is_number(token):
                shown = token.decode("utf-8", "replace")
                raise EmbeddingsError(
                    f"line {line_no} has a non-numeric value {shown!r}",
                    file=file, row=line_no,
                )
        if len(tokens) != dim:
            raise EmbeddingsError(
                f"line {line_no} has {len(tokens)} values, expected {dim}",
                file=file, row=line_no,
            )
        rows[r] = [float(t) for t in tokens]
    return rows


class TextTable:
    """Vectors of an indexed text file, parsed on demand.

    Args:
        data_path: Uncompressed file the index offsets refer to.
        index: Its `TextIndex`.
        file: Path shown in errors (the user's file, maybe a `.gz`).
        cleanup: Optional callable run by `close()` (removes temp copies).
    """

    def __init__(self, data_path, index, *, file, cleanup=None):
        self.data_path = data_path
        self.index_data = index
        self.dim = index.dim
        self.file = file
        self._cleanup = cleanup
        self._lookup = None
        self.parsed_store = None  # optional ParsedRows of a cache entry

    def index(self, words):
        """Row of each word (exact match, first occurrence), -1 if absent."""
        if self._lookup is None:
            # A dict beats pandas here (no 0.3 s import) and, filled in
            # reverse, keeps the first occurrence of a duplicated word.
            w = self.index_data.words
            self._lookup = dict(zip(reversed(w), range(len(w) - 1, -1, -1)))
        get = self._lookup.get
        return np.array(
            [get(w.encode("utf-8", "surrogateescape"), -1) for w in words], dtype=np.int64
        )

    def take(self, positions):
        """float32 vectors of the given (unique) rows, in the given order.

        Rows parsed by earlier loads are reused from `self.parsed_store` (see
        `ParsedRows`); only the others are parsed from the file.
        """
        positions = np.asarray(positions, dtype=np.int64)
        out = np.zeros((len(positions), self.dim), dtype=np.float32)
        if not len(positions):
            return out
        order = np.argsort(positions, kind="stable")  # read the file forwards
        pos = positions[order]
        idx = self.index_data
        store = self.parsed_store
        known_ids, known = store.load(len(idx.words), self.dim) if store else (None, None)
        if known_ids is not None and len(known_ids):
            j = np.minimum(np.searchsorted(known_ids, pos), len(known_ids) - 1)
            have = known_ids[j] == pos
        else:
            have = np.zeros(len(pos), dtype=bool)
        rows = np.empty((len(pos), self.dim), dtype=np.float32)
        if have.any():
            rows[have] = known[j[have]]
        words = idx.words
        # os.pread, not mmap: mapped pages would count in this process's RSS
        # (and fault-around maps neighbours too); reads touch only the hits.
        with open(self.data_path, "rb") as f:
            fd = f.fileno()
            if os.fstat(fd).st_size != idx.starts[-1]:
                raise StaleIndexError()
            # Rows we already have: still check that each offset starts with
            # its word, a cheap guard against a file rewritten in place.
            for i in pos[have].tolist():
                w = words[i]
                b = int(idx.starts[i])
                if os.pread(fd, len(w) + 1, b) != w + b" ":
                    raise StaleIndexError()
            todo = np.flatnonzero(~have)
            begins = idx.starts[pos[todo]].tolist()
            ends = idx.starts[pos[todo] + 1].tolist()
            lines = idx.lines[pos[todo]].tolist()
            for lo in range(0, len(todo), _ROWS_PER_PARSE):
                hi = min(lo + _ROWS_PER_PARSE, len(todo))
                chunks = []
                for i, b, e in zip(pos[todo[lo:hi]].tolist(), begins[lo:hi], ends[lo:hi]):
                    w = words[i]
                    line = os.pread(fd, e - b, b)
                    if not line.startswith(w + b" ") or len(line) != e - b:
                        raise StaleIndexError()
                    chunks.append(line[len(w) + 1:])
                rows[todo[lo:hi]] = _parse_rows(chunks, self.dim, lines[lo:hi], self.file)
        if store and len(todo):
            store.add(known_ids, known, pos[todo], rows[todo])
        out[order] = rows
        return out

    def close(self):
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None


class ParsedRows:
    """Vectors already parsed from a cached file, so later loads skip parsing.

    Stored next to the index as one `.npz` (sorted row ids + float32 vectors),
    replaced atomically; capped at `max_bytes`. Any problem reading it just
    means the rows are parsed again.

    Args:
        path: The `.npz` file.
        max_bytes: Stop adding rows beyond this size.
    """

    def __init__(self, path, max_bytes=256 << 20):
        self.path = path
        self.max_bytes = max_bytes

    def load(self, n_rows, dim):
        """Return (sorted ids, vectors), or (None, None) if absent or invalid."""
        try:
            with np.load(self.path, allow_pickle=False) as z:
                ids, vectors = z["ids"], z["vectors"]
        except (OSError, ValueError, KeyError, EOFError):
            return None, None
        if (
            ids.ndim != 1 or ids.dtype != np.int64 or vectors.dtype != np.float32
            or vectors.shape != (len(ids), dim)
            or (len(ids) and (ids[0] < 0 or ids[-1] >= n_rows or np.any(np.diff(ids) <= 0)))
        ):
            return None, None
        return ids, vectors

    def add(self, ids, vectors, new_ids, new_vectors):
        """Merge new rows into the store (best effort, atomic replace)."""
        if ids is not None and len(ids):
            new_ids = np.concatenate([ids, new_ids])
            new_vectors = np.concatenate([vectors, new_vectors])
        if new_vectors.nbytes > self.max_bytes:
            return
        order = np.argsort(new_ids, kind="stable")
        tmp = f"{self.path}.{os.getpid()}.tmp.npz"
        try:
            np.savez(tmp, ids=new_ids[order], vectors=new_vectors[order])
            os.replace(tmp, self.path)
        except OSError:
            try:
                os.remove(tmp)
            except OSError:
                pass
