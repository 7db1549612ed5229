"""Writing outputs so that nothing is ever half-written under its final name.

Everything is written under a temporary sibling name and renamed into place
at the end; a crash, a kill or a full disk leaves the previous output (or
nothing) under the final name, never a truncated one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from textclf.errors import InputDataError


def check_output_parent(path):
    """Raises `InputDataError` unless `path`'s parent directory exists and is writable."""
    parent = Path(path).absolute().parent
    if not parent.is_dir():
        raise InputDataError("output directory's parent does not exist", file=parent)
    if not os.access(parent, os.W_OK):
        raise InputDataError("output location is not writable (permission denied)", file=parent)


@contextlib.contextmanager
def atomic_directory(final):
    """Yields a fresh temporary directory that replaces `final` on success.

    On an exception the temporary directory is removed and `final` is left as
    it was.

    Args:
        final: The directory to create or replace.

    Yields:
        A `pathlib.Path` to write into.
    """
    final = Path(final).absolute()
    check_output_parent(final)
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
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
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
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
