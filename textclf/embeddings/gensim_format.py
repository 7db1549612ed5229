"""word2vec binary (`.bin`) and gensim KeyedVectors (`.kv`) files, via gensim."""

from __future__ import annotations

import numpy as np

from textclf.errors import EmbeddingsError


def load_word2vec_binary(path):
    """Read a word2vec binary file; any read failure becomes EmbeddingsError."""
    from gensim.models import KeyedVectors

    try:
        return KeyedVectors.load_word2vec_format(path, binary=True)
    except MemoryError:
        raise
    except Exception as exc:  # gensim/numpy raise many types on damaged files
        raise EmbeddingsError(
            "cannot read word2vec binary file (truncated or not word2vec "
            f"binary?): {type(exc).__name__}: {exc}",
            file=path,
        ) from None


def load_keyed_vectors(path, file=None):
    """Load a `KeyedVectors.save` file memory-mapped.

    Note: `.kv` files are pickles; load only files you trust.
    """
    from gensim.models import KeyedVectors

    try:
        kv = KeyedVectors.load(path, mmap="r")
    except MemoryError:
        raise
    except Exception as exc:
        raise EmbeddingsError(
            f"cannot read gensim KeyedVectors file: {type(exc).__name__}: {exc}",
            file=file or path,
        ) from None
    if not isinstance(kv, KeyedVectors):
        raise EmbeddingsError(
            f"expected a gensim KeyedVectors file. Received: {type(kv).__name__}",
            file=file or path,
        )
    return kv


class KeyedVectorsTable:
    """Vectors of a gensim `KeyedVectors`."""

    def __init__(self, kv):
        self._kv = kv
        self.dim = int(kv.vector_size)

    def index(self, words):
        """Row of each word, -1 if absent."""
        get = self._kv.key_to_index.get
        return np.array([get(w, -1) for w in words], dtype=np.int64)

    def take(self, positions):
        """float32 vectors of the given rows, in the given order."""
        positions = np.asarray(positions, dtype=np.int64)
        return np.asarray(self._kv.vectors[positions], dtype=np.float32)

    def close(self):
        pass
