"""Writing outputs so that nothing is ever half-written under its final name.

Everything is written under a temporary sibling name and renamed into place
at the end; a crash, a kill or a full disk leaves the previous output (or
nothing) under the final name, never a truncated one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

from textclf.errors import InputDataError, TextclfError

# Errors of the storage, not of the program: reported as one line.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


class OutputError(TextclfError, OSError):
    """An output could not be written (disk full, quota, read-only...).

    Nothing is left under the final name; the temporary files are removed.
    """

    def __str__(self):
        return str(self.strerror)


def _storage_error(exc, final):
    """`exc` as an `OutputError` if it is a storage failure, else None."""
    if isinstance(exc, OSError) and not isinstance(exc, TextclfError) and exc.errno in _STORAGE_ERRNOS:
        reason = exc.strerror or os.strerror(exc.errno)
        return OutputError(
            exc.errno,
            f"{final}: cannot be written ({reason}); nothing was written under this name and the "
            "temporary files were removed",
        )
    return None


def check_output_parent(path):
    """Raises `InputDataError` unless `path`'s parent directory exists and is writable."""
    parent = Path(path).absolute().parent
    if parent.exists() and not parent.is_dir():
        raise InputDataError("is not a directory, so the output cannot be written inside it", file=parent)
    if not parent.is_dir():
        raise InputDataError("output directory's parent does not exist", file=parent)
    if not os.access(parent, os.W_OK):
        raise InputDataError("output location is not writable (permission denied)", file=parent)


# What textclf itself writes into each kind of output directory. An existing
# path is replaced only if it holds nothing else: the user's files are never deleted.
OWN_ENTRIES = {
    "model": {"model.keras", "metadata.json", "reports", "trials.csv", "tune.html"},  # the last two: `textclf tune`
    "reports": {
        "confusion_matrix.csv", "confusion_matrix.png", "classification_report.json",
        "classification_report.txt", "history.csv", "training_curves.png", "errors.csv", "confused_pairs.csv",
        "calibration.json", "reliability_diagram.png", "data_summary.json", "report.html",
    },
    "saved_model": {"saved_model.pb", "variables", "assets", "assets.extra", "fingerprint.pb"},
}
# Entries that identify the kind (a directory holding only e.g. `reports/` is not a model).
_SIGNATURE = {"model": {"metadata.json"}, "reports": set(), "saved_model": {"saved_model.pb"}}


def check_replaceable(path, kind):
    """Raises `InputDataError` unless `path` is absent, empty, or textclf's own `kind` output.

    Args:
        path: The output directory about to be written.
        kind: "model", "reports" or "saved_model" (keys of `OWN_ENTRIES`).
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        raise InputDataError(
            f"exists and is not a directory textclf wrote (found a {'link' if path.is_symlink() else 'file'}); "
            "textclf never replaces it: choose another output path", file=path,
        )
    entries = {entry.name for entry in path.iterdir()}
    foreign = sorted(entries - OWN_ENTRIES[kind])
    if foreign or (entries and not _SIGNATURE[kind] <= entries):
        found = ", ".join(repr(name) for name in foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        what = f"holds files textclf did not write ({found})" if foreign else f"is not a textclf {kind} directory"
        raise InputDataError(
            f"{what}; textclf never deletes them: choose another output path or empty it", file=path,
        )


@contextlib.contextmanager
def atomic_directory(final, kind=None):
    """Yields a fresh temporary directory that replaces `final` on success.

    On an exception the temporary directory is removed and `final` is left as
    it was.

    Args:
        final: The directory to create or replace.
        kind: If given ("model", "reports", "saved_model"), an existing `final`
            is replaced only when `check_replaceable` accepts it.

    Yields:
        A `pathlib.Path` to write into.
    """
    final = Path(final).absolute()
    check_output_parent(final)
    if kind is not None:
        check_replaceable(final, kind)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
            os.replace(final, old / "previous")
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        translated = _storage_error(exc, final)
        if translated is not None:
            raise translated from None
        raise


@contextlib.contextmanager
def atomic_file(final, mode="w", **open_kwargs):
    """Yields a file object whose content replaces `final` only when closed cleanly.

    Args:
        final: Destination path.
        mode: `open` mode ("w" or "wb").
        **open_kwargs: Passed to `open` (encoding, newline...).
    """
    final = Path(final).absolute()
    check_output_parent(final)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.tmp-", dir=final.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        translated = _storage_error(exc, final)
        if translated is not None:
            raise translated from None
        raise
