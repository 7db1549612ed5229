"""How every report figure is drawn: label names and file names literally, and never at the cost of a model.

matplotlib reads a string holding two `$` as mathtext: labels such as `$`,
`$$`, `US$ 5` failed with a `ParseException` while the confusion matrix was
drawn, after hours of training. Inside `literal_text` every text artist is
created with `text.parse_math` off (tick labels included, which matplotlib
makes when the figure is saved), so whatever the user's data says is drawn
as written. `best_effort` runs one figure and turns a failure into a one-line
warning naming the file: a report is an extra, the model and the other
reports are kept.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


@contextlib.contextmanager
def literal_text():
    """Yields `matplotlib.pyplot` (headless backend) with text drawn as written: no mathtext, no TeX.

    Create the figure and save it inside the block; figures it opened are closed on leaving it, even on an error.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            yield plt
    finally:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)


def best_effort(path, plot, *args, **kwargs):
    """Calls `plot(*args, **kwargs)`, which writes the figure `path`; a failure is a warning, not an error.

    Args:
        path: The file `plot` writes (removed if left half-written).
        plot: A function drawing one figure into `path`.
        *args, **kwargs: Its arguments.

    Returns:
        Whether the figure was written.
    """
    from textclf.runtime.terminal import warn

    try:
        plot(*args, **kwargs)
        return True
    except Exception as exc:  # noqa: BLE001 - a figure never costs the run; the reason is shown
        with contextlib.suppress(OSError):
            Path(path).unlink()
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        warn(f"report {Path(path).name} was not drawn ({reason}); the model and the other reports are saved")
        return False
