"""Embedding-matrix stage: pretrained vectors for a TextVectorization vocabulary.

Public API:

    BUILTIN_EMBEDDINGS   name -> description of embeddings usable offline
    OOV_POLICIES         ("random", "zeros")
    EmbeddingMatrix      result dataclass (matrix, found, dim, source, format)
    build_embedding_matrix(source, vocabulary, *, oov="random", seed=0,
                           expected_dim=None, cache_dir=None)

Imports only numpy and pandas (gensim lazily, for `.bin`/`.kv`); never
TensorFlow or Keras, so importing it is cheap.
"""

from textclf.embeddings.builtin import BUILTIN_EMBEDDINGS
from textclf.embeddings.matrix import OOV_POLICIES, EmbeddingMatrix, build_embedding_matrix

__all__ = ["BUILTIN_EMBEDDINGS", "OOV_POLICIES", "EmbeddingMatrix", "build_embedding_matrix"]
