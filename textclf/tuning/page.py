"""`tune.html`: the search on one self-contained page, in the style of `report.html` (`textclf.evaluation.report_html`).

The history is an inline SVG (no script, no external source, allowed by the page's policy); every value
that comes from the user (paths, label names in `--metric f1:LABEL`, the command line) is escaped.
"""

from __future__ import annotations

from textclf.evaluation.report_html import esc, fmt, key_value_table, page, table
from textclf.tuning.budget import duration
from textclf.tuning.table import trial_rows

WIDTH, HEIGHT, PAD = 900, 260, 40
COLOURS = {"complete": "#4c78a8", "pruned": "#e45756", "fail": "#9d9d9d", "running": "#f2cf5b"}


def write_page(path, study, trials, weights, commands, options):
    """Writes the page at `path`.

    Args:
        path: The file to write.
        study: The `optuna.Study` (for the parameter importances).
        trials: Its trials.
        weights: Trial number -> weight of the trials averaged into the kept model (one trial: weight 1), the best
            trial first.
        commands: Trial number -> the `textclf train` command that trains it.
        options: `clock` and `metric` of the run.
    """
    states = [t.state.name.lower() for t in trials]
    by_number = {t.number: t for t in trials}
    best = by_number[next(iter(weights))]
    summary = {"metric (validation)": options["metric"], "budget": duration(options["clock"].budget),
               "trials": len(trials), "finished": states.count("complete"), "pruned": states.count("pruned"),
               "failed or cut": states.count("fail"), "best trial": best.number, "best value": best.value,
               "kept model": _kept(weights)}
    sections = [
        ("summary", "Summary", key_value_table(summary)),
        ("best", "Best configuration", key_value_table(dict(best.params))
         + f"<p>Reproduce it with <code>{esc(commands[best.number])}</code></p>"),
    ]
    if len(weights) > 1:
        rows = [[str(n), f"{weight:.3f}", f"{by_number[n].value:.4f}", f"<code>{esc(commands[n])}</code>"]
                for n, weight in weights.items()]
        sections.append(("ensemble", "The kept model: trials averaged",
                         "<p>Greedy ensemble selection on validation: each trial's probabilities weighted as "
                         "below (the metric of the mean is the kept model's).</p>"
                         + table(["trial", "weight", "its value", "command"], rows)))
    sections += [
        ("history", "History of the search", _history(trials, options["metric"])),
        ("importance", "Parameter importances", _importances(study)),
        ("trials", "Trials", _trials_table(trials, weights)),
    ]
    html = page("textclf tune", esc(f"study {study.study_name}"), sections)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(html)


def _kept(weights):
    if len(weights) == 1:
        return f"trial {next(iter(weights))}, as trained"
    return "mean of trials " + ", ".join(f"{n} ({weight:.2f})" for n, weight in weights.items())


def _history(trials, metric):
    """Each finished trial's value against its start (dots), and the best so far (a line)."""
    done = [t for t in trials if t.value is not None and t.datetime_start is not None]
    if not done:
        return '<p class="muted">No finished trial.</p>'
    start = min(t.datetime_start for t in trials if t.datetime_start is not None)
    xs = [(t.datetime_start - start).total_seconds() for t in done]
    ys = [t.value for t in done]
    x_max, (y_min, y_max) = max(xs) or 1.0, (min(ys), max(ys))
    span = (y_max - y_min) or 1.0

    def point(x, y):
        return (PAD + (WIDTH - 2 * PAD) * x / x_max, HEIGHT - PAD - (HEIGHT - 2 * PAD) * (y - y_min) / span)

    dots, best, line = [], None, []
    for t, x, y in sorted(zip(done, xs, ys), key=lambda item: item[1]):
        px, py = point(x, y)
        dots.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{COLOURS["complete"]}">'
                    f"<title>trial {t.number}: {y:.4f}</title></circle>")
        best = y if best is None else max(best, y)
        line.append("{:.1f},{:.1f}".format(*point(x, best)))
    axes = (f'<text x="{PAD}" y="{PAD - 12}" font-size="12">{esc(metric)} ({y_min:.4f} to {y_max:.4f})</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 10}" font-size="12" text-anchor="end">'
            f"seconds since the first trial (0 to {x_max:.0f})</text>")
    return (f'<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'style="background:#fff;border:1px solid #e1e4ea">{axes}'
            f'<polyline fill="none" stroke="#54a24b" stroke-width="2" points="{" ".join(line)}"/>'
            f'{"".join(dots)}</svg><p class="muted">Dots: finished trials; line: the best so far. Pruned and cut '
            "trials are listed below.</p>")


def _importances(study):
    """Optuna's fANOVA importances, as bars; a note when there are too few finished trials."""
    import warnings

    import optuna

    try:
        with warnings.catch_warnings():  # "too few trials to tell them apart" belongs on the page, not stderr
            warnings.simplefilter("ignore")
            importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as error:
        return f'<p class="muted">Not available: {esc(error)}</p>'
    if not importances:
        return '<p class="muted">Not available: too few finished trials.</p>'
    rows = [[esc(name), (f'<span class="bar" style="width:{200 * value:.0f}px"></span>{value:.3f}', "")]
            for name, value in importances.items()]
    return table(["parameter", "importance"], rows)


def _trials_table(trials, weights):
    header, rows = trial_rows(trials, weights)
    return '<div class="scroll">' + table([esc(h) for h in header], [[fmt(cell) for cell in row] for row in rows]) \
        + "</div>"
