"""Every output textclf writes goes through here: one door for every command.

`claim(path, kind)` is taken before any work: it refuses a bad output at
once (a file output naming a directory or a special file, a missing parent,
an input of the same run, a directory textclf may not replace:
`textclf.artifacts.output_marker`), takes the lock (`textclf.artifacts.locking`) and removes the
temporary files that writers which no longer exist left beside the output
(`kill -9`). `atomic_file` and `atomic_directory` then write under a
temporary sibling name carrying the writer's PID and rename it into place
at the end, so a crash, a signal or a full disk leaves the previous output
(or nothing) under the final name, never a truncated one; the temporary
files are removed on any exit Python sees (`signals_as_exceptions` turns
SIGTERM and SIGHUP into one, as SIGINT is).

A symbolic link is written through: its target is replaced, the link kept.
Modes follow the umask as `open()` and `mkdir` do; a replaced file or
directory keeps its previous mode.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
from pathlib import Path

from textclf.errors import InputDataError, TextclfError
from textclf.artifacts.output_marker import KINDS, check_replaceable, write_marker

FILE = "file"
# Errors of the storage, not of the program: reported as one line.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
_HELD = {}  # resolved output -> kind, for the claims this process holds


class OutputError(TextclfError, OSError):
    """An output could not be written (disk full, quota, read-only...).

    Nothing is left under the final name; the temporary files are removed.
    """

    def __str__(self):
        return str(self.strerror)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (a BaseException, like KeyboardInterrupt, so no `except Exception` swallows it)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


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


def _check_parent(final, shown):
    parent = final.parent
    if parent.exists() and not parent.is_dir():
        raise InputDataError(f"{parent} is not a directory, so the output cannot be written inside it", file=shown)
    if not parent.is_dir():
        raise InputDataError(f"its directory {parent} does not exist; create it first", file=shown)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputDataError(f"its directory {parent} is not writable (permission denied)", file=shown)


def _check_file(final, shown, inputs):
    """A file output: absent or a regular file, in a writable directory, and none of `inputs`."""
    _check_parent(final, shown)
    try:
        found = os.stat(final)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputDataError(f"cannot be used as an output ({exc.strerror})", file=shown) from None
    if stat.S_ISDIR(found.st_mode):
        raise InputDataError("is a directory; give the path of the file to write inside it", file=shown)
    if not stat.S_ISREG(found.st_mode):
        raise InputDataError("is not a regular file (a device, FIFO or socket); textclf replaces only regular "
                             "files: write to standard output (-) and redirect it instead", file=shown)
    for source in inputs:
        if source is not None and os.fspath(source) != "-" and os.path.exists(source) and \
                os.path.samestat(found, os.stat(source)):
            raise InputDataError("is also an input file of this run; reading and replacing one file in one run "
                                 "invites loss: write the output elsewhere", file=shown)


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _remove_stale_temporaries(final):
    """Removes `.NAME.tmp-PID-*` / `.NAME.old-PID-*` beside `final` whose writer no longer exists."""
    prefix = f".{final.name}."
    with os.scandir(final.parent) as scan:
        stale = [entry for entry in scan if entry.name.startswith(prefix)]
    for entry in stale:
        found = re.fullmatch(r"(?:tmp|old)-(\d+)-\w+", entry.name[len(prefix):])
        if found is None or _alive(int(found.group(1))):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


@contextlib.contextmanager
def claim(path, kind=FILE, *, inputs=(), lock=True):
    """Claims an output for the run: checked, locked, stale temporaries removed.

    Re-entrant: an output this process already claims is yielded as is, so
    the CLI claims before loading anything and the library functions it
    calls claim again for free.

    Args:
        path: The output; "-" (standard output) claims nothing.
        kind: `FILE`, or a directory kind of `textclf.artifacts.output_marker.KINDS`.
        inputs: Files this run reads; a file output naming one is refused.
        lock: Take the lock (multi-worker training shares its output: only the chief writes it).

    Yields:
        The resolved `Path` written (a link's target), or None for "-".

    Raises:
        InputDataError: the output cannot or may not be written.
        textclf.artifacts.locking.OutputLockedError: another run writes it.
    """
    if os.fspath(path) == "-":
        yield None
        return
    shown = os.fspath(path)
    final = Path(os.path.realpath(shown))
    if final in _HELD:
        yield final
        return
    if kind == FILE:
        _check_file(final, shown, inputs)
    else:
        assert kind in KINDS, kind
        _check_parent(final, shown)
        check_replaceable(final, kind, shown)
    from textclf.artifacts.locking import OutputLock

    with OutputLock(final) if lock else contextlib.nullcontext():
        if lock:  # no other writer of this output exists: what dead ones left is garbage
            _remove_stale_temporaries(final)
        _HELD[final] = kind
        try:
            yield final
        finally:
            del _HELD[final]


@contextlib.contextmanager
def claim_all(outputs):
    """Claims every `(path, kind, inputs)` of `outputs` for the duration of the block."""
    with contextlib.ExitStack() as stack:
        for path, kind, inputs in outputs:
            stack.enter_context(claim(path, kind, inputs=inputs))
        yield


def _umask():
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere the only way to read it is to set it
    os.umask(mask)
    return mask


def _mode_for(final, base):
    """The previous mode of `final`, or `base` under the umask (what `open()`/`mkdir` would give)."""
    try:
        return stat.S_IMODE(os.stat(final).st_mode)
    except OSError:
        return base & ~_umask()


def _temporary_prefix(final, what="tmp"):
    return f".{final.name}.{what}-{os.getpid()}-"


@contextlib.contextmanager
def atomic_directory(final, kind):
    """Yields a fresh temporary directory that replaces `final` on success.

    On success the marker is written and `final` is checked again (the user
    may have added files meanwhile) before the swap. On an exception the
    temporary directory is removed and `final` is left as it was.

    Args:
        final: The directory to create or replace (claimed here if not already).
        kind: One of `textclf.artifacts.output_marker.KINDS`.

    Yields:
        A `pathlib.Path` to write into.
    """
    with claim(final, kind) as target:
        mode = _mode_for(target, 0o777)
        tmp = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target), dir=target.parent))
        try:
            os.chmod(tmp, mode)
            yield tmp
            write_marker(tmp, kind)
            check_replaceable(target, kind, os.fspath(final))
            _swap_directory(tmp, target)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            translated = _storage_error(exc, target)
            if translated is not None:
                raise translated from None
            raise


def _swap_directory(tmp, target):
    if not target.exists():
        os.replace(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target, "old"), dir=target.parent))
    os.replace(target, old / "previous")
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old / "previous", target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(final, mode="w", **open_kwargs):
    """Yields a file object whose content replaces `final` only when closed cleanly.

    Args:
        final: Destination path (claimed here if not already; a link is written through).
        mode: `open` mode ("w" or "wb").
        **open_kwargs: Passed to `open` (encoding, newline...).
    """
    with claim(final) as target:
        bits = _mode_for(target, 0o666)
        fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(target), dir=target.parent)
        try:
            os.fchmod(fd, bits)
            with os.fdopen(fd, mode, **open_kwargs) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            translated = _storage_error(exc, target)
            if translated is not None:
                raise translated from None
            raise


@contextlib.contextmanager
def signals_as_exceptions():
    """SIGTERM and SIGHUP raise `Terminated` in the main thread, as SIGINT raises KeyboardInterrupt.

    So every `finally` runs (temporary files, locks) and the CLI prints one
    line. A signal the process ignores (`nohup`) stays ignored; after the
    first, further ones are ignored so they cannot cut the cleanup short.
    """
    names = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        for name in names:
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        raise Terminated(signum)

    previous = {}
    for name in names:
        number = getattr(signal, name)
        if signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, before in previous.items():
            signal.signal(number, before)
