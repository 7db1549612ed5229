"""`trials.csv`: one row per trial of the study, whichever process ran it."""

from __future__ import annotations

import csv

from textclf.tuning.space import SPACE

COLUMNS = ("trial", "state", "value", "weight", "seconds", "epochs", "cut_at_deadline", "host", "pid", "members")


def trial_rows(trials, weights=None):
    """`(header, rows)`: the fixed columns (`members`: how many a finished trial trained), then one column per
    parameter ("" where a trial did not draw it).

    Args:
        trials: The study's trials.
        weights: Trial number -> its weight in the kept model (the others: "").
    """
    weights = weights or {}
    names = [name for name in SPACE if any(name in t.params for t in trials)]
    rows = []
    for t in trials:
        attrs = t.user_attrs
        weight = f"{weights[t.number]:.4g}" if t.number in weights else ""
        rows.append([t.number, t.state.name.lower(), "" if t.value is None else f"{t.value:.6f}", weight,
                     attrs.get("seconds", ""), attrs.get("epochs", ""), bool(attrs.get("cut_at_deadline")),
                     attrs.get("host", ""), attrs.get("pid", ""), attrs.get("members", ""),
                     *(t.params.get(name, "") for name in names)])
    return [*COLUMNS, *names], rows


def write_trials(path, trials, weights=None):
    """Writes `trials.csv` at `path` (honouring the umask; written whole before the directory is moved).

    Args:
        path: The file to write.
        trials: The study's trials.
        weights: Trial number -> its weight in the kept model.
    """
    header, rows = trial_rows(trials, weights)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
