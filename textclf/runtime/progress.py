"""Progress displays: a one-line display on standard error for long batch jobs, and Keras' for training.

`Progress` is shown only when standard error is a terminal (never in logs or
pipes) and not silenced with `--quiet`. It reports rows done, rows per second
and, when the input's size is known, the share done and the time left,
estimated from the bytes consumed so far.

`keras_verbose` chooses how `Model.fit` reports epochs: Keras' progress bars
on a terminal, plain lines (no ANSI colours, no carriage returns) in a log
file or a pipe.
"""

from __future__ import annotations

import sys
import time


KERAS_SILENT, KERAS_BARS, KERAS_EPOCH_LINES = 0, 1, 2


def keras_verbose(quiet=False, stream=None):
    """The `verbose` argument of `keras.Model.fit` for output going to `stream`.

    Args:
        quiet: Nothing at all (`--quiet`).
        stream: Where Keras writes (default `sys.stdout`).

    Returns:
        0 when quiet; 1 (progress bars redrawn in place) when `stream` is a
        terminal; else 2: one summary line per epoch (after Keras' "Epoch i/n").
    """
    if quiet:
        return KERAS_SILENT
    stream = stream or sys.stdout
    return KERAS_BARS if getattr(stream, "isatty", lambda: False)() else KERAS_EPOCH_LINES


def _duration(seconds):
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Progress:
    """Rows done, rows/s and ETA, redrawn at most a few times per second.

    Args:
        total_bytes: Size of the input (uncompressed or compressed, matching
            what `update` reports), or None if unknown (standard input).
        enabled: Draw anything at all; None means "if stderr is a terminal".
        stream: Where to draw (default `sys.stderr`).
        label: Word before the counts.
    """

    def __init__(self, total_bytes=None, *, enabled=None, stream=None, label="rows", interval=0.5):
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.total_bytes = total_bytes or None
        self.label = label
        self.interval = interval
        self.start = time.monotonic()
        self._last = 0.0
        self._width = 0

    def update(self, rows, bytes_done=None, *, force=False):
        """Redraws the line if enough time passed since the last one."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self.start, 1e-9)
        rate = rows / elapsed
        parts = [f"{rows:,} {self.label}", f"{rate:,.0f} {self.label}/s", f"elapsed {_duration(elapsed)}"]
        if self.total_bytes and bytes_done:
            fraction = min(bytes_done / self.total_bytes, 1.0)
            parts.insert(0, f"{fraction:6.1%}")
            if 0 < fraction < 1:
                parts.append(f"ETA {_duration(elapsed * (1 - fraction) / fraction)}")
        line = "  ".join(parts)
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write("\r" + line + pad)
        self.stream.flush()

    def close(self, rows=None, bytes_done=None):
        """Draws the final state and ends the line."""
        if not self.enabled:
            return
        if rows is not None:
            self.update(rows, bytes_done, force=True)
        self.stream.write("\n")
        self.stream.flush()
