"""Index of a text embeddings file (GloVe, word2vec text, fastText `.vec`) in one streaming pass.

`scan_text` reads the file block by block and records the word, byte offset and
line number of every line, checking the dimension on every line; floats are
not parsed here (`text_format.TextTable` parses the rows a vocabulary needs).
Complete lines of a block are indexed in place; a fast path handles regular
blocks and a careful line-by-line path gives exact messages for odd ones.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from textclf.errors import EmbeddingsError

_BLOCK = 1 << 24  # 16 MiB reads: few Python-level iterations, bounded memory


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


def is_number(token):
    """Whether `token` (bytes) parses as a float."""
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
                if is_number(word.rsplit(b" ", 1)[-1]):
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
    read = stream.read if copy_to is None else _copying_reader(stream.read, copy_to)
    first, buf = _read_first_line(read, file)
    declared, dim, header = _read_dimension(first, file, expected_dim)
    start, line_no = (len(first) + 1, 1) if header else (0, 0)
    index = _IndexBuilder(dim, header, line_no, file)
    data_end = _index_blocks(read, buf, start, index)
    return index.finish(data_end, declared)


def _copying_reader(read, copy_to):
    """`read` that also writes everything it returns to `copy_to`."""
    def copying_read(size):
        data = read(size)
        copy_to.write(data)
        return data

    return copying_read


def _read_dimension(first, file, expected_dim):
    """`(declared count or None, dim, header)` from the first line of the file."""
    fields = first.split()
    header = len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit()
    if header:
        declared, dim = int(fields[0]), int(fields[1])
    else:
        declared, dim = None, len(fields) - 1
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
    return declared, dim, header


def _index_blocks(read, data, s, index):
    """Feed every data line to `index`, block by block; return the data offset of the end.

    `data` is the first block (at offset 0), its data lines starting at `s`.
    Complete lines of each block are indexed in place (no copy of the block);
    only a line straddling two blocks is joined.
    """
    pool = ThreadPoolExecutor(1)
    try:
        base = 0  # data offset of data[0]
        while True:
            end = data.rfind(b"\n") + 1
            if end > s:
                stats = pool.submit(_count_spaces, data, s, end)
                index.add(data, s, end, base, stats)
            tail, tail_base = data[end:], base + end
            data = read(_BLOCK)
            if not data:
                break
            k = data.find(b"\n") + 1
            if k == 0:  # a line longer than a block: keep accumulating
                data, base, s = tail + data, tail_base, 0
                continue
            line = tail + data[:k]
            index.add(line, 0, len(line), tail_base)
            base, s = tail_base + len(tail), k
        if tail.strip():  # last line without a newline
            index.add(tail + b"\n", 0, len(tail) + 1, tail_base)
        return tail_base + len(tail)
    finally:
        pool.shutdown()


class _IndexBuilder:
    """The `TextIndex` being built: words, offsets and line numbers of the lines seen so far."""

    def __init__(self, dim, header, line_no, file):
        self.dim, self.header, self.line_no, self.file = dim, header, line_no, file
        self.words, self.starts, self.lines = [], [], []

    def add(self, buf, s, end, base, stats=None):
        """Index the complete lines buf[s:end]; buf[0] is at data offset base.

        `stats`, when given, is the pending `_count_spaces` of the same range.
        """
        dim = self.dim
        fast = _fast_lines(buf, s, end)
        if fast is not None:
            n = len(fast[0])
            n_spaces = stats.result() if stats is not None else buf.count(b" ", s, end)
            # Trailing spaces (fastText writes one per line) are not separators.
            if n_spaces != n * dim and n_spaces == n * (dim + 1):
                n_spaces -= buf.count(b" \n", s, end)
            if n_spaces == n * dim:
                first = self.line_no + 1
                self.words.extend(fast[0])
                self.starts.append(np.asarray(fast[1], dtype=np.int64) + base)
                self.lines.append(np.arange(first, first + n, dtype=np.int64))
                self.line_no += n
                return
        elif stats is not None:
            stats.result()
        w, st, ln, self.line_no = _careful_lines(
            buf, s, end, dim, self.line_no, self.file, "the header" if self.header else "line 1"
        )
        self.words.extend(w)
        self.starts.append(np.asarray(st, dtype=np.int64) + base)
        self.lines.append(np.asarray(ln, dtype=np.int64))

    def finish(self, data_end, declared):
        """The `TextIndex`, once the data (ending at offset `data_end`) is all indexed."""
        if not self.words:
            raise EmbeddingsError("file has a header but no vectors", file=self.file, row=2)
        if declared is not None and declared != len(self.words):
            raise EmbeddingsError(
                f"header declares {declared} vectors but the file has {len(self.words)}; "
                "is it truncated?", file=self.file, row=self.line_no + 1,
            )
        return TextIndex(
            words=self.words,
            starts=np.concatenate(self.starts + [np.asarray([data_end], dtype=np.int64)]),
            lines=np.concatenate(self.lines).astype(np.int64),
            dim=self.dim,
            header=self.header,
        )
