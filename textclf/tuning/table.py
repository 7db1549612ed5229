"""`trials.csv`: one row per trial of the study, whichever process ran it."""

from __future__ import annotations

import csv

from textclf.tuning.space import SPACE

COLUMNS = ("trial", "state", "value", "seconds", "epochs", "cut_at_deadline", "host", "pid")


def trial_rows(trials):
    """`(header, rows)`: the fixed columns, then one column per parameter ("" where a trial did not draw it)."""
    names = [name for name in SPACE if any(name in t.params for t in trials)]
    rows = []
    for t in trials:
        attrs = t.user_attrs
        rows.append([t.number, t.state.name.lower(), "" if t.value is None else f"{t.value:.6f}",
                     attrs.get("seconds", ""), attrs.get("epochs", ""), bool(attrs.get("cut_at_deadline")),
                     attrs.get("host", ""), attrs.get("pid", ""),
                     *(t.params.get(name, "") for name in names)])
    return [*COLUMNS, *names], rows


def write_trials(path, trials):
    """Writes `trials.csv` at `path` (honouring the umask; written whole before the directory is moved)."""
    header, rows = trial_rows(trials)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
