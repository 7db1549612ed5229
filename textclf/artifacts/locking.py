"""One writer per output: an exclusive `fcntl.flock` on a sibling lock file.

`textclf train --output models/x` holds `models/.x.lock` for the whole run
(checkpoints, the final rename). A second run aimed at the same output fails
at once with a one-line error naming the lock and the process holding it,
instead of two runs overwriting each other's checkpoints and model.

The lock file is removed on release. Because a waiter may have opened the
file just before it was unlinked, `acquire` checks after locking that the
path still names the file it locked, and retries otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from textclf.errors import TextclfError


class OutputLockedError(TextclfError, RuntimeError):
    """Another process is writing to the same output."""


def lock_path_for(output):
    """The lock file of `output`: `.<name>.lock` in the same directory."""
    output = Path(output).absolute()
    return output.parent / f".{output.name}.lock"


def _holder(path):
    with contextlib.suppress(OSError, ValueError):
        return int(Path(path).read_text().split()[0])
    return None


class OutputLock:
    """An exclusive, non-blocking lock on an output path.

    Args:
        output: The output directory or file to protect.
    """

    def __init__(self, output):
        self.output = Path(output).absolute()
        self.path = lock_path_for(self.output)
        self._fd = None

    def acquire(self):
        """Takes the lock or raises `OutputLockedError` (never waits)."""
        import fcntl

        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                pid = _holder(self.path)
                by = f" by process {pid}" if pid else ""
                raise OutputLockedError(
                    f"{self.output}: another textclf run is writing to this output (lock {self.path} "
                    f"held{by}); wait for it to finish or choose another --output"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._fd = fd
                return self
            os.close(fd)  # the holder unlinked it between our open and flock: retry
        raise OutputLockedError(f"{self.output}: could not take the lock {self.path}")

    def release(self):
        """Removes the lock file and releases the lock (idempotent)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)  # closing releases the flock
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
