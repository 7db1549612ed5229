"""Text embeddings files: GloVe, word2vec text and fastText `.vec`.

One streaming pass (`scan_text`) indexes the file: the word and byte offset of
every line, with the dimension checked on every line. Floats are parsed only for
the rows actually requested (`TextTable.take`), read back with `os.pread`, so a
20,000-word vocabulary over a 400,000-line file parses 5% of the numbers and
never holds the full matrix in memory. The index is small enough to cache, and a
cached index serves any vocabulary; `ParsedRows` remembers parsed vectors.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from textclf.errors import EmbeddingsError

_BLOCK = 1 << 24  # 16 MiB reads: few Python-level iterations, bounded memory
_ROWS_PER_PARSE = 2048  # bounds the text held at once when parsing hits


class StaleIndexError(Exception):
    """The data no longer matches the index (file changed under a cache entry)."""


@dataclass
class TextIndex:
    """Where every vector of a text embeddings file is.

    Attributes:
        words: Word of each data line, as raw bytes.
        starts: int64, shape (n + 1,): byte offset of each data line; the last
            entry is the end of the data.
        lines: int64, shape (n,): 1-based line number of each data line.
        dim: Vector dimension.
        header: True when line 1 is a word2vec/fastText "count dim" header.
    """

    words: list
    starts: np.ndarray
    lines: np.ndarray
    dim: int
    header: bool


def _is_number(token):
    try:
        float(token)
    except ValueError:
        return False
    return True


def _count_spaces(buf, start, end):
    """Number of spaces in buf[start:end].

    Runs in a worker thread: numpy releases the GIL, so this ragged-line check
    (every line must have exactly `dim` separators) overlaps the Python loop
    that collects the words.
    """
    a = np.frombuffer(buf, dtype=np.uint8, count=end - start, offset=start)
    return int(np.count_nonzero(a == 32))


def _fast_lines(buf, s, end):
    """Words and offsets of the lines in buf[s:end], or None if a line is odd."""
    words, starts = [], []
    find = buf.find
    while s < end:
        nl = find(b"\n", s, end)
        sp = find(b" ", s, nl)
        if sp <= s:  # blank line, no vector, or a leading space
            return None
        words.append(buf[s:sp])
        starts.append(s)
        s = nl + 1
    return words, starts


def _careful_lines(buf, s, end, dim, line_no, file, origin="line 1"):
    """Line-by-line version of `_fast_lines` with exact checks and messages."""
    words, starts, lines = [], [], []
    while s < end:
        nl = buf.find(b"\n", s, end)
        line_no += 1
        line = buf[s:nl].rstrip()
        if line:
            n = line.count(b" ")
            if n == dim:
                word = line[: line.find(b" ")]
            elif n > dim:
                # glove.840B has words containing spaces: the vector is the
                # last `dim` fields. A numeric extra field means a ragged line.
                word = line.rsplit(b" ", dim)[0]
                if _is_number(word.rsplit(b" ", 1)[-1]):
                    raise EmbeddingsError(
                        f"line {line_no} has {n} values, expected {dim} "
                        f"(the dimension of {origin})",
                        file=file, row=line_no,
                    )
            else:
                raise EmbeddingsError(
                    f"line {line_no} has {n} values, expected {dim} "
                    f"(the dimension of {origin})",
                    file=file, row=line_no,
                )
            if not word:
                raise EmbeddingsError(
                    f"line {line_no} starts with a space; expected 'word v1 v2 ...'",
                    file=file, row=line_no,
                )
            words.append(word)
            starts.append(s)
            lines.append(line_no)
        s = nl + 1
    return words, starts, lines, line_no


def _read_first_line(read, file):
    """Return (first line, first block of data)."""
    buf = b""
    while True:
        data = read(_BLOCK)
        buf += data
        nl = buf.find(b"\n")
        if nl >= 0 or not data:
            break
    if not buf.strip():
        raise EmbeddingsError(
            "file is empty; expected lines of 'word v1 v2 ...'", file=file
        )
    return (buf if nl < 0 else buf[:nl]), buf


def scan_text(stream, *, file, expected_dim=None, copy_to=None):
    """Index a text embeddings file in one pass.

    Args:
        stream: Binary file object positioned at the start of the data.
        file: Path used in error messages.
        expected_dim: If given, fail fast when the file's dimension differs.
        copy_to: Optional binary file object receiving a copy of the data read
            (used to keep a seekable copy of a decompressed `.gz` file).

    Returns:
        A `TextIndex`.

    Raises:
        EmbeddingsError: empty file, ragged line, bad header.
    """
    if copy_to is None:
        read = stream.read
    else:
        def read(size, _read=stream.read):
            data = _read(size)
            copy_to.write(data)
            return data

    first, buf = _read_first_line(read, file)
    s = 0
    fields = first.split()
    header = len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit()
    if header:
        declared, dim = int(fields[0]), int(fields[1])
        s, line_no = len(first) + 1, 1
    else:
        declared, dim = None, len(fields) - 1
        s, line_no = 0, 0
    if dim < 1:
        raise EmbeddingsError(
            "line 1 has no vector values; expected 'word v1 v2 ...' or a "
            "'count dim' header", file=file, row=1,
        )
    if expected_dim is not None and dim != expected_dim:
        raise EmbeddingsError(
            f"vectors have dimension {dim} but expected_dim={expected_dim}",
            file=file,
        )

    words, starts, lines = [], [], []
    line_no_box = [line_no]

    def add(buf, s, end, base, stats=None):
        """Index the complete lines buf[s:end]; buf[0] is at data offset base."""
        fast = _fast_lines(buf, s, end)
        if fast is not None:
            n = len(fast[0])
            n_spaces = stats.result() if stats is not None else buf.count(b" ", s, end)
            # Trailing spaces (fastText writes one per line) are not separators.
            if n_spaces != n * dim and n_spaces == n * (dim + 1):
                n_spaces -= buf.count(b" \n", s, end)
            if n_spaces == n * dim:
                first = line_no_box[0] + 1
                words.extend(fast[0])
                starts.append(np.asarray(fast[1], dtype=np.int64) + base)
                lines.append(np.arange(first, first + n, dtype=np.int64))
                line_no_box[0] += n
                return
        elif stats is not None:
            stats.result()
        w, st, ln, line_no_box[0] = _careful_lines(
            buf, s, end, dim, line_no_box[0], file, "the header" if header else "line 1"
        )
        words.extend(w)
        starts.append(np.asarray(st, dtype=np.int64) + base)
        lines.append(np.asarray(ln, dtype=np.int64))

    # Complete lines of each block are indexed in place (no copy of the
    # block); only a line straddling two blocks is joined.
    pool = ThreadPoolExecutor(1)
    try:
        data, base = buf, 0  # base: data offset of data[0]
        while True:
            end = data.rfind(b"\n") + 1
            if end > s:
                stats = pool.submit(_count_spaces, data, s, end)
                add(data, s, end, base, stats)
            tail, tail_base = data[end:], base + end
            data = read(_BLOCK)
            if not data:
                break
            k = data.find(b"\n") + 1
            if k == 0:  # a line longer than a block: keep accumulating
                data, base, s = tail + data, tail_base, 0
                continue
            line = tail + data[:k]
            add(line, 0, len(line), tail_base)
            base, s = tail_base + len(tail), k
        if tail.strip():  # last line without a newline
            add(tail + b"\n", 0, len(tail) + 1, tail_base)
        data_end = tail_base + len(tail)
    finally:
        pool.shutdown()
    line_no = line_no_box[0]

    if not words:
        raise EmbeddingsError("file has a header but no vectors", file=file, row=2)
    if declared is not None and declared != len(words):
        raise EmbeddingsError(
            f"header declares {declared} vectors but the file has {len(words)}; "
            "is it truncated?", file=file, row=line_no + 1,
        )
    return TextIndex(
        words=words,
        starts=np.concatenate(starts + [np.asarray([data_end], dtype=np.int64)]),
        lines=np.concatenate(lines).astype(np.int64),
        dim=dim,
        header=header,
    )


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
            if not _is_number(token):
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
