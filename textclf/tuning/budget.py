"""The time budget of `textclf tune`: parsing `90s` / `30m` / `2h`, and the clock every stage reads."""

from __future__ import annotations

import re
import time

from textclf.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600}
# A lower bound of one epoch of the defaults, checked before any work: TensorFlow's import and the first
# trace take about 15 s on 2 CPU cores, and a bidirectional GRU of 50-d vectors reads well under 200,000
# tokens a second there. Budgets below it cannot finish the first trial.
STARTUP_SECONDS = 15.0
TOKENS_PER_SECOND = 200_000


def parse_budget(text):
    """Seconds in a budget such as `90s`, `30m`, `2h` or `1.5h` (a bare number is seconds).

    Raises:
        ConfigError: anything else, or a budget that is not positive.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([smh]?)\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"budget must be a positive duration such as 90s, 30m or 2h. Received: budget={text!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def shortest_budget(training_tokens):
    """Seconds below which one epoch of the defaults cannot finish (`STARTUP_SECONDS` + tokens at the rate)."""
    return STARTUP_SECONDS + training_tokens / TOKENS_PER_SECOND


def duration(seconds):
    """`1h02m`, `4m05s`, `12s`: a compact duration for progress lines."""
    seconds = int(max(0, round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Clock:
    """The budget's deadline, counted from when the clock was made (start-up before it is not counted).

    Args:
        budget: Seconds.
    """

    def __init__(self, budget):
        self.budget = float(budget)
        self.start = time.monotonic()
        self.end = self.start + self.budget

    def elapsed(self):
        """Seconds since the start."""
        return time.monotonic() - self.start

    def left(self):
        """Seconds until the deadline (negative past it)."""
        return self.end - time.monotonic()
