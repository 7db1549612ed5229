"""Turn a `source` (builtin name or path) into a vector table, using the cache.

A table has `dim`, `index(words) -> rows (-1 = absent)`, `take(rows) -> float32
vectors` and `close()`.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import zlib

import numpy as np

from textclf.embeddings import gensim_format, text_format, text_scan
from textclf.embeddings.builtin import BUILTIN_EMBEDDINGS, BuiltinTable
from textclf.embeddings.cache import EmbeddingsCache
from textclf.errors import EmbeddingsError

_SUFFIXES = ".txt, .txt.gz, .vec, .vec.gz, .bin, .kv"


def detect_format(path):
    """File format from the name: "gensim-kv", "word2vec-binary", "fasttext", or
    "text" (GloVe or word2vec text, told apart by the header line)."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".kv"):
        return "gensim-kv"
    if name.endswith(".bin"):
        return "word2vec-binary"
    if name.endswith(".vec"):
        return "fasttext"
    return "text"


def resolve_path(source):
    """Absolute path of an existing file, or EmbeddingsError naming the choices."""
    path = os.path.abspath(os.path.expanduser(os.fspath(source)))
    names = ", ".join(repr(n) for n in BUILTIN_EMBEDDINGS)
    if os.path.isdir(path):
        problem = "it is a directory"
    elif not os.path.exists(path):
        problem = "no such file"
    else:
        return path
    raise EmbeddingsError(
        f"unknown embeddings source {os.fspath(source)!r}: {problem}. Expected a "
        f"builtin name ({names}) or a path to an embeddings file ({_SUFFIXES})",
        file=path,
    )


def open_table(source, *, expected_dim=None, cache_dir=None):
    """Open `source`; returns (table, format, source string)."""
    if isinstance(source, str) and source in BUILTIN_EMBEDDINGS:
        table = BuiltinTable(source)
        _check_dim(table.dim, expected_dim, source)
        return table, "builtin", source
    path = resolve_path(source)
    kind = detect_format(path)
    try:
        if kind == "gensim-kv":
            table = gensim_format.KeyedVectorsTable(gensim_format.load_keyed_vectors(path))
        elif kind == "word2vec-binary":
            table = _open_binary(path, EmbeddingsCache(cache_dir))
        else:
            table, header = _open_text(path, expected_dim, EmbeddingsCache(cache_dir))
            if kind == "text":
                kind = "word2vec-text" if header else "glove"
    except PermissionError as exc:
        raise EmbeddingsError(f"cannot read file: {exc.strerror}", file=path) from None
    _check_dim(table.dim, expected_dim, path)
    return table, kind, path


def _check_dim(dim, expected_dim, file):
    if expected_dim is not None and dim != expected_dim:
        raise EmbeddingsError(
            f"vectors have dimension {dim} but expected_dim={expected_dim}", file=file
        )


# --- text -------------------------------------------------------------------


def _open_text(path, expected_dim, cache):
    """TextTable for a text file: from the cache if valid, else one scan."""
    stat = os.stat(path)
    found = cache.find(path, stat)
    if found is not None:
        table = _load_text_entry(path, *found, cache)
        if table is not None:
            return table, table.index_data.header
    work = cache.begin()
    gz = path.lower().endswith(".gz")
    copy_dir = work if work is not None or not gz else tempfile.mkdtemp(prefix="textclf-")
    index = _scan(path, gz, expected_dim, copy_dir, work)
    data = os.path.join(copy_dir, "data.txt") if gz else path
    if work is None:
        cleanup = (lambda: shutil.rmtree(copy_dir, ignore_errors=True)) if gz else None
        return text_format.TextTable(data, index, file=path, cleanup=cleanup), index.header
    entry = None
    try:
        with open(os.path.join(work, "words.bin"), "wb") as f:
            f.write(b"\n".join(index.words))
        np.save(os.path.join(work, "starts.npy"), index.starts)
        np.save(os.path.join(work, "lines.npy"), index.lines)
        entry = cache.commit(work, path, stat, {
            "kind": "text", "dim": index.dim, "n": len(index.words),
            "header": index.header, "data": "data.txt" if gz else None,
        })
    except OSError:
        pass
    if entry is None:  # cache write failed: still return this load's result
        cleanup = lambda: shutil.rmtree(work, ignore_errors=True)  # noqa: E731
        return text_format.TextTable(data, index, file=path, cleanup=cleanup), index.header
    if gz:
        data = os.path.join(entry, "data.txt")
    table = text_format.TextTable(data, index, file=path)
    table.cache_entry = entry
    table.parsed_store = text_format.ParsedRows(os.path.join(entry, "parsed.npz"))
    return table, index.header


def _scan(path, gz, expected_dim, copy_dir, work):
    try:
        with (gzip.open if gz else open)(path, "rb") as stream:
            if not gz:
                return text_scan.scan_text(stream, file=path, expected_dim=expected_dim)
            with open(os.path.join(copy_dir, "data.txt"), "wb") as copy:
                return text_scan.scan_text(
                    stream, file=path, expected_dim=expected_dim, copy_to=copy
                )
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        _discard(copy_dir, work)
        raise EmbeddingsError(f"cannot decompress gzip file: {exc}", file=path) from None
    except BaseException:
        _discard(copy_dir, work)
        raise


def _discard(*dirs):
    for d in dirs:
        if d is not None:
            shutil.rmtree(d, ignore_errors=True)


def _load_text_entry(path, entry, meta, cache):
    """TextTable from a cache entry, or None (entry removed) if it is unusable."""
    try:
        n, dim = int(meta["n"]), int(meta["dim"])
        with open(os.path.join(entry, "words.bin"), "rb") as f:
            words = f.read().split(b"\n")
        starts = np.load(os.path.join(entry, "starts.npy"))
        lines = np.load(os.path.join(entry, "lines.npy"))
        ok = (
            meta.get("kind") == "text" and dim >= 1 and len(words) == n
            and starts.shape == (n + 1,) and lines.shape == (n,)
            and starts.dtype == np.int64 and lines.dtype.kind == "i"
        )
        data = os.path.join(entry, meta["data"]) if meta.get("data") else path
        ok = ok and os.path.getsize(data) == int(starts[-1])
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        ok = False
    if not ok:
        cache.invalidate(entry)
        return None
    index = text_scan.TextIndex(words, starts, lines, dim, bool(meta.get("header")))
    table = text_format.TextTable(data, index, file=path)
    table.cache_entry = entry
    table.parsed_store = text_format.ParsedRows(os.path.join(entry, "parsed.npz"))
    return table


# --- word2vec binary --------------------------------------------------------


def _open_binary(path, cache):
    """word2vec binary through gensim; cached as a memory-mapped `.kv`."""
    stat = os.stat(path)
    found = cache.find(path, stat)
    if found is not None:
        try:
            kv = gensim_format.load_keyed_vectors(os.path.join(found[0], "vectors.kv"))
            return gensim_format.KeyedVectorsTable(kv)
        except EmbeddingsError:
            cache.invalidate(found[0])
    kv = gensim_format.load_word2vec_binary(path)
    work = cache.begin()
    if work is not None:
        try:
            kv.save(os.path.join(work, "vectors.kv"))
            if cache.commit(work, path, stat, {"kind": "kv"}) is None:
                _discard(work)
        except Exception:  # never fail a load because the cache could not be written
            _discard(work)
    return gensim_format.KeyedVectorsTable(kv)
