"""On-disk cache of parsed embeddings files.

An entry is a directory named after the file's absolute path, size and mtime,
so a changed file never hits a stale entry. Entries are built under a temporary
name and renamed into place (atomic), and every cache problem (read-only
directory, corrupt or half-written entry) makes the caller fall back to parsing
the file: the cache can make loads faster, never make them fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid

CACHE_VERSION = 1
_ENV = "TEXTCLF_CACHE_DIR"


def default_cache_dir():
    """`$TEXTCLF_CACHE_DIR`, else `~/.cache/textclf`."""
    return os.environ.get(_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "textclf")


class EmbeddingsCache:
    """Directory of cache entries, one per (path, size, mtime) of a source file.

    Args:
        cache_dir: Root directory; `None` means `default_cache_dir()`.
    """

    def __init__(self, cache_dir=None):
        root = default_cache_dir() if cache_dir is None else os.fspath(cache_dir)
        self.root = os.path.join(os.path.abspath(os.path.expanduser(root)), "embeddings")

    @staticmethod
    def _prefix(path):
        return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:20]

    def _name(self, path, stat):
        return f"{self._prefix(path)}-{stat.st_size}-{stat.st_mtime_ns}-v{CACHE_VERSION}"

    def find(self, path, stat):
        """Return `(entry_dir, meta)` for a valid entry of this file, else None."""
        entry = os.path.join(self.root, self._name(path, stat))
        try:
            with open(os.path.join(entry, "meta.json"), encoding="utf-8") as f:
                meta = json.load(f)
            if (
                meta.get("version") == CACHE_VERSION
                and meta.get("path") == path
                and meta.get("size") == stat.st_size
                and meta.get("mtime_ns") == stat.st_mtime_ns
            ):
                return entry, meta
        except (OSError, ValueError):
            pass
        return None

    def begin(self):
        """Create and return a private work directory, or None if not writable."""
        tmp = os.path.join(self.root, f".tmp-{os.getpid()}-{uuid.uuid4().hex}")
        try:
            os.makedirs(tmp)
        except OSError:
            return None
        return tmp

    def commit(self, tmp, path, stat, meta):
        """Publish work directory `tmp` as the entry of `path`; return it or None.

        `meta.json` is written last inside `tmp` and the directory is renamed in
        one step, so readers see either no entry or a complete one.
        """
        meta = dict(meta, version=CACHE_VERSION, path=path, size=stat.st_size,
                    mtime_ns=stat.st_mtime_ns)
        final = os.path.join(self.root, self._name(path, stat))
        try:
            with open(os.path.join(tmp, "meta.json"), "w", encoding="utf-8") as f:
                json.dump(meta, f)
            if os.path.isdir(final):
                if self.find(path, stat) is not None:  # a concurrent writer won
                    shutil.rmtree(tmp, ignore_errors=True)
                    return final
                shutil.rmtree(final, ignore_errors=True)  # corrupt entry
            os.replace(tmp, final)
        except OSError:
            return None
        self._prune(path, keep=os.path.basename(final))
        return final

    def invalidate(self, entry):
        """Best-effort removal of a bad entry."""
        shutil.rmtree(entry, ignore_errors=True)

    def _prune(self, path, keep):
        # Entries of older versions of the same file can never hit again.
        prefix = self._prefix(path) + "-"
        try:
            names = os.listdir(self.root)
        except OSError:
            return
        for name in names:
            if name.startswith(prefix) and name != keep:
                shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)
