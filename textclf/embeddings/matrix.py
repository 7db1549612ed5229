"""Build the embedding matrix of a TextVectorization vocabulary."""

from __future__ import annotations

import operator
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from textclf.embeddings import sources, text_format
from textclf.errors import ConfigError, EmbeddingsError

OOV_POLICIES = ("random", "zeros")
_NOT_LOOKED_UP = ("", "[UNK]")  # padding and OOV tokens of TextVectorization


@dataclass
class EmbeddingMatrix:
    """Embedding weights aligned with a vocabulary.

    Attributes:
        matrix: float32, shape (len(vocabulary), dim); row i is the vector of
            vocabulary[i]. Row 0 (padding) is all zeros.
        found: bool, shape (len(vocabulary),); True where the file had a vector.
        dim: Vector dimension.
        source: Builtin name, or the absolute path of the file.
        format: "builtin", "glove", "word2vec-text", "word2vec-binary",
            "fasttext" or "gensim-kv".
    """

    matrix: np.ndarray
    found: np.ndarray
    dim: int
    source: str
    format: str


def build_embedding_matrix(
    source: str,
    vocabulary: Sequence[str],
    *,
    oov: str = "random",
    seed: int = 0,
    expected_dim: int | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> EmbeddingMatrix:
    """Build an embedding matrix for `vocabulary` from pretrained vectors.

    Words are looked up exactly; a word without a vector then tries
    `word.capitalize()` and `word.upper()` (only cased files such as
    glove.840B contain those forms, so lowercased files are unaffected).
    Row 0 (padding) is always zeros; "" and "[UNK]" are never looked up.

    Text files (GloVe `.txt`/`.txt.gz`, word2vec text, fastText `.vec`) are
    indexed in one streaming pass and only the vocabulary's rows are parsed.
    The index (words and byte offsets; plus a decompressed copy for `.gz`) is
    cached under `cache_dir`, keyed by absolute path, size and mtime, so a
    second load of the same file, with any vocabulary, skips the scan; rows
    parsed once are cached too (up to 256 MiB) and not parsed again.
    word2vec `.bin` files are cached as memory-mapped gensim `.kv`.

    Args:
        source: A name from `BUILTIN_EMBEDDINGS` (e.g. "glove-6b-50d") or a
            path to a `.txt`, `.txt.gz`, `.vec`, `.bin` or `.kv` file. The
            dimension is read from the file.
        vocabulary: Tokens by index, as `TextVectorization.get_vocabulary()`
            returns them: index 0 is "" (padding), index 1 is "[UNK]".
        oov: Rows of words without a vector (and the "[UNK]" row):
            "zeros" leaves them zero; "random" draws them from a normal
            distribution with mean 0 and the standard deviation of the found
            vectors (1/sqrt(dim) if none was found), deterministic given
            `seed`. Found rows are never changed.
        seed: Seed of the "random" policy.
        expected_dim: If given, the file's dimension must equal it.
        cache_dir: Cache root; default `$TEXTCLF_CACHE_DIR` or
            `~/.cache/textclf`. Cache failures fall back to parsing.

    Returns:
        An `EmbeddingMatrix`.

    Raises:
        ConfigError: bad `oov`, `seed`, `expected_dim` or `vocabulary`.
        EmbeddingsError: unknown source, or an unreadable, empty, ragged,
            non-numeric or truncated file, or a dimension mismatch. The
            message is one line with the file and, where known, the line.
    """
    seed, expected_dim, vocabulary = _checked_arguments(source, vocabulary, oov, seed, expected_dim)
    matrix, found, dim, src, fmt = _read_vectors(source, vocabulary, expected_dim, cache_dir)
    if oov == "random":
        _draw_missing(matrix, found, dim, seed)
    return EmbeddingMatrix(matrix=matrix, found=found, dim=dim, source=src, format=fmt)


def _checked_arguments(source, vocabulary, oov, seed, expected_dim):
    """`(seed, expected_dim, vocabulary as a list of str)`, or ConfigError naming the bad argument."""
    if oov not in OOV_POLICIES:
        raise ConfigError(f"oov must be one of {OOV_POLICIES}. Received: oov={oov!r}")
    seed = _as_int("seed", seed, minimum=0)
    if expected_dim is not None:
        expected_dim = _as_int("expected_dim", expected_dim, minimum=1)
    vocabulary = _as_vocabulary(vocabulary)
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(
            "source must be a builtin name or a path. "
            f"Received: source={source!r} of type {type(source).__name__}"
        )
    return seed, expected_dim, vocabulary


def _read_vectors(source, vocabulary, expected_dim, cache_dir):
    """`(matrix, found, dim, source, format)`: the vectors the file has, zeros elsewhere.

    A cache entry that no longer matches its file is removed and the file read
    once more; a second failure is the user's error.
    """
    for attempt in (0, 1):
        try:
            table, fmt, src = sources.open_table(
                source, expected_dim=expected_dim, cache_dir=cache_dir
            )
        except OSError as exc:  # e.g. unreadable file, I/O error mid-read
            raise EmbeddingsError(f"cannot read file: {exc}", file=source) from None
        try:
            matrix, found = _fill(table, vocabulary)
            return matrix, found, table.dim, src, fmt
        except (text_format.StaleIndexError, OSError) as exc:
            entry = getattr(table, "cache_entry", None)
            if entry is None or attempt:
                what = "file changed while it was being read" if isinstance(
                    exc, text_format.StaleIndexError) else f"cannot read file: {exc}"
                raise EmbeddingsError(what, file=src) from None
            # The cache entry no longer matches the file: rebuild it.
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            table.close()


def _draw_missing(matrix, found, dim, seed):
    """The "random" OOV policy, in place: rows without a vector (but padding) drawn from a normal."""
    missing = ~found
    missing[:1] = False  # padding stays zero
    if missing.any():
        std = float(matrix[found].std()) if found.any() else 1.0 / np.sqrt(dim)
        rng = np.random.default_rng(seed)
        matrix[missing] = rng.normal(0.0, std, size=(int(missing.sum()), dim))


def _fill(table, vocabulary):
    """Zero-initialised matrix with the vectors of every word the table has."""
    n, dim = len(vocabulary), table.dim
    matrix = np.zeros((n, dim), dtype=np.float32)
    rows = np.full(n, -1, dtype=np.int64)
    todo = np.array(
        [i for i, w in enumerate(vocabulary) if i > 0 and w not in _NOT_LOOKED_UP],
        dtype=np.int64,
    )
    if len(todo):
        rows[todo] = table.index([vocabulary[i] for i in todo])
    for variant in (str.capitalize, str.upper):  # fallbacks for cased files
        todo = todo[rows[todo] < 0]
        if not len(todo):
            break
        words = [variant(vocabulary[i]) for i in todo]
        changed = np.array([w != vocabulary[i] for w, i in zip(words, todo)], dtype=bool)
        if changed.any():
            rows[todo[changed]] = table.index([w for w, c in zip(words, changed) if c])
    found = rows >= 0
    if found.any():
        unique, inverse = np.unique(rows[found], return_inverse=True)
        matrix[found] = table.take(unique)[inverse]
    return matrix, found


def _as_int(name, value, minimum):
    try:
        result = operator.index(value)
    except TypeError:
        result = None
    if result is None or isinstance(value, bool) or result < minimum:
        raise ConfigError(
            f"{name} must be an integer >= {minimum}. Received: {name}={value!r}"
        )
    return result


def _as_vocabulary(vocabulary):
    if isinstance(vocabulary, (str, bytes)) or not isinstance(
        vocabulary, (Sequence, np.ndarray)
    ):
        raise ConfigError(
            "vocabulary must be a sequence of strings (index 0 = '', 1 = '[UNK]'). "
            f"Received: {type(vocabulary).__name__}"
        )
    words = []
    for i, w in enumerate(vocabulary):
        if isinstance(w, bytes):
            w = w.decode("utf-8")
        elif not isinstance(w, str):
            w = str(w) if isinstance(w, np.str_) else None
        if w is None:
            raise ConfigError(
                f"vocabulary must contain strings. Received: {vocabulary[i]!r} at index {i}"
            )
        words.append(w)
    return words
