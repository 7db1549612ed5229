"""word2vec binary (`.bin`) and gensim KeyedVectors (`.kv`) files, via gensim."""

from __future__ import annotations

import os
import pickle

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


# --- gensim KeyedVectors (`.kv`): a pickle, read by a restricted unpickler ---
#
# `KeyedVectors.load` is `pickle.load` followed by `_load_specials` (arrays
# stored beside the file as `.npy`). A pickle can name any callable, so a
# crafted `.kv` could run code while it is read. `_KVUnpickler.find_class`
# admits only what a real KeyedVectors file holds and refuses the rest before
# anything is called.

_SAFE_BUILTINS = frozenset({
    "dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray",
    "int", "float", "complex", "bool", "slice", "object",
})
_SAFE_GLOBALS = frozenset({
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("collections", "Counter"),
    ("copyreg", "_reconstructor"),  # protocol 0/1 objects; its class is checked too
    ("_codecs", "encode"),  # protocol 2 writes bytes as _codecs.encode(str, "latin1")
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
})
_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


def _refused(name, file):
    return EmbeddingsError(
        f"refusing to load: the pickle references {name!r}, which a gensim "
        "KeyedVectors file never holds (files can run code when unpickled)",
        file=file,
    )


class _KVUnpickler(pickle.Unpickler):
    """Unpickler admitting only the gensim, NumPy and builtin classes of a `.kv`."""

    def __init__(self, handle, file):
        super().__init__(handle, encoding="latin1")  # as gensim.utils.unpickle
        self._file = file

    def find_class(self, module, name):
        full = f"{module}.{name}"
        if "." in name:  # protocol 4 dotted names walk attributes: never needed
            raise _refused(full, self._file)
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        key = module
        if module.startswith("numpy.core."):  # NumPy 1.x spelling; 2.x renamed it
            key = "numpy._core." + module[len("numpy.core."):]
            if _NUMPY2:
                module = key  # skips NumPy 2's deprecation shim
        if (key, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        if module == "numpy.dtypes":  # NumPy 2 dtype classes (Float32DType, ...)
            import numpy.dtypes

            found = getattr(numpy.dtypes, name, None)
            if isinstance(found, type) and issubclass(found, np.dtype):
                return found
        if module.startswith("gensim."):
            from gensim.models.keyedvectors import CompatVocab, KeyedVectors

            try:
                found = super().find_class(module, name)
            except (ImportError, AttributeError):
                found = None
            # Classes only (never functions such as gensim.utils.unpickle):
            # KeyedVectors and its subclasses, or gensim 3's Vocab entries.
            if isinstance(found, type) and (
                issubclass(found, KeyedVectors) or found is CompatVocab
            ):
                return found
        raise _refused(full, self._file)


def _check_specials(obj, fname, file, depth=0):
    """Refuse stored-apart attributes that gensim would read unsafely.

    `_load_specials` reads `__numpys` with `np.load` (allow_pickle=False), but
    `__scipys` with gensim's own, unrestricted unpickle: a KeyedVectors file
    never has those, so any is refused; `__recursive_saveloads` are checked
    the same way, one level deeper.
    """
    from gensim.utils import SaveLoad

    state = getattr(obj, "__dict__", {})
    for key in ("__numpys", "__scipys", "__ignoreds", "__recursive_saveloads"):
        names = state.get(key, [])
        if not isinstance(names, (list, tuple)) or not all(
            isinstance(n, str) and n.isidentifier() for n in names
        ):
            raise EmbeddingsError(f"not a gensim KeyedVectors file: bad {key[2:]} list", file=file)
    if state.get("__scipys"):
        raise EmbeddingsError(
            "refusing to load: the file stores scipy sparse matrices as further "
            "pickles, which a gensim KeyedVectors file never holds",
            file=file,
        )
    for attrib in state.get("__recursive_saveloads", []):
        child = getattr(obj, attrib, None)
        if depth > 8 or not isinstance(child, SaveLoad):
            raise EmbeddingsError(f"not a gensim KeyedVectors file: bad attribute {attrib!r}", file=file)
        _check_specials(child, f"{fname}.{attrib}", file, depth + 1)


def _open_pickle(path):
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")
    if path.endswith(".bz2"):
        import bz2

        return bz2.open(path, "rb")
    return open(path, "rb")


def load_keyed_vectors(path, file=None):
    """Load a `KeyedVectors.save` file, its large arrays memory-mapped.

    Does what `KeyedVectors.load(path, mmap="r")` does, but the pickle goes
    through `_KVUnpickler`, so a file holding code is refused, never run.
    """
    from gensim.models import KeyedVectors
    from gensim.utils import SaveLoad

    file = file or path
    path = os.fspath(path)
    compress, subname = SaveLoad._adapt_by_suffix(path)
    try:
        with _open_pickle(path) as handle:
            kv = _KVUnpickler(handle, file).load()
        if not isinstance(kv, KeyedVectors):
            raise EmbeddingsError(
                f"expected a gensim KeyedVectors file. Received: {type(kv).__name__}",
                file=file,
            )
        _check_specials(kv, path, file)
        kv._load_specials(path, None if compress else "r", compress, subname)
    except (MemoryError, EmbeddingsError):
        raise
    except Exception as exc:
        raise EmbeddingsError(
            f"cannot read gensim KeyedVectors file: {type(exc).__name__}: {exc}",
            file=file,
        ) from None
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
