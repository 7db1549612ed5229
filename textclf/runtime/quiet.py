"""TensorFlow without its C++ log lines on standard error (the CLI's default; `--verbose` turns it off).

TensorFlow writes to file descriptor 2 from C++, below Python's `sys.stderr`:
while `import tensorflow` runs it prints the absl banner ("All log messages
before absl::InitializeLog() is called ...") and oneDNN/CUDA notices, which
no log level silences; later, at the first operation, errors such as "failed
call to cuInit" on a machine without a GPU, which `TF_CPP_MIN_LOG_LEVEL=3`
silences. `quiet_tensorflow()` does both: it sets that level and makes the
first `import tensorflow`, wherever in textclf it happens, run with file
descriptor 2 pointing at a temporary file. What was captured is dropped when
the import succeeds and written to standard error when it fails, so a broken
installation still explains itself. Anything else writing to standard error
during the import (another thread) is captured too.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import tempfile

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
ERRORS_ONLY_FATAL = "3"  # TensorFlow's C++ levels: 0 info, 1 warning, 2 error, 3 fatal


def call_with_stderr_captured(function):
    """Runs `function()` with file descriptor 2 redirected to a temporary file.

    Args:
        function: Called without arguments.

    Returns:
        What `function` returns; what it wrote to file descriptor 2 is dropped.
        If it raises, what it wrote is written to standard error first, then
        the exception propagates.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    capture = tempfile.TemporaryFile()
    os.dup2(capture.fileno(), 2)
    failed = True
    try:
        result = function()
        failed = False
        return result
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if failed:
            capture.seek(0)
            sys.stderr.write(capture.read().decode("utf-8", errors="replace"))
            sys.stderr.flush()
        capture.close()


class _CapturingLoader(importlib.abc.Loader):
    """Executes a module through its real loader inside `call_with_stderr_captured`."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # the module sees its real loader
        call_with_stderr_captured(lambda: self.loader.exec_module(module))


class QuietImport(importlib.abc.MetaPathFinder):
    """An import hook: the first import of the top-level module `name` runs with stderr captured.

    Args:
        name: Top-level module name.
    """

    def __init__(self, name):
        self.name = name

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        self.remove()  # only the first import; also keeps find_spec below from finding this hook again
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _CapturingLoader(spec.loader)
        return spec

    def install(self):
        if self.name not in sys.modules and self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def remove(self):
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)


@contextlib.contextmanager
def temporary_environment(variables):
    """Within the block, `os.environ` holds `variables`; after it, each holds its old value or is unset again.

    Args:
        variables: A mapping of names to `str` values.
    """
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def quiet_tensorflow(enabled=True, module="tensorflow"):
    """Within the block, TensorFlow logs nothing below FATAL (C++) or ERROR (Python) and its import prints nothing.

    Args:
        enabled: False leaves everything as it is (`--verbose`).
        module: The module whose first import is captured (tests use a stand-in).
    """
    if not enabled:
        yield
        return
    # TensorFlow's Python warnings too ("5 out of the last 5 calls to <function> triggered tf.function
    # retracing": a tune search builds each trial's n-gram encoder afresh, as it must).
    python_logger = logging.getLogger(module)
    previous_level = python_logger.level
    python_logger.setLevel(logging.ERROR)
    hook = QuietImport(module)
    hook.install()
    try:
        with temporary_environment({LOG_LEVEL_VARIABLE: ERRORS_ONLY_FATAL}):
            yield
    finally:
        python_logger.setLevel(previous_level)
        hook.remove()
