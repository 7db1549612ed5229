"""`textclf tune`: the best model a time budget buys, searched with Optuna (an optional extra, imported lazily).

    budget    `30m` -> seconds, the clock, the shortest budget worth starting
    space     the searched `TrainConfig` fields, the defaults as its first point, the reproducing command
    study     storages (memory, `journal:PATH`, database URL), the study, the pruner
    trial     one trial through `run_training`, its pruning and deadline hook, the metric
    run       the loop until the deadline and the output written
    ensemble  the kept model: greedy ensemble selection over the finished trials, their mean written
    table     `trials.csv`
    page      `tune.html`
"""

from __future__ import annotations

import os
from pathlib import Path

from textclf.errors import ConfigError

NOT_FIXED = ("train", "output", "name")  # where the data comes from and goes to: never a choice of the search


def tune(train, *, budget, metric=None, storage=None, study=None, output=None, verbose=False, log=None,
         **options):
    """Searches `textclf train`'s options for the best validation `metric` within `budget`; the library twin of
    `textclf tune`.

    Args:
        train: The training table.
        budget: A duration (`"30m"`, `"90s"`, `"2h"`) or seconds: the whole call ends within it.
        metric: `accuracy` (the default), `macro_f1`, `micro_f1` (multi-label; its default) or `f1:LABEL`,
            computed on validation.
        storage: None (in memory), `journal:PATH`, or a database URL shared by several processes.
        study: The study name in `storage` (default "textclf").
        output: The model directory to write (default: as `textclf train`).
        verbose: Also print each trial's own training lines.
        log: Where the per-trial lines go (default: standard error); `lambda line: None` for none.
        **options: `TrainConfig` fields; each one given is fixed, the others in the search space are searched.

    Returns:
        A `textclf.tuning.run.TuneResult`.
    """
    from textclf.tuning.budget import Clock, parse_budget

    clock = Clock(budget if isinstance(budget, (int, float)) else parse_budget(budget))
    if isinstance(budget, (int, float)) and not budget > 0:
        raise ConfigError(f"budget must be a positive duration. Received: budget={budget!r}")
    config, fixed = _config(train, output, options)
    from textclf.artifacts.outputs import claim

    with claim(config.output, "model"):  # checked and locked before any work (textclf.artifacts.outputs)
        metric = _checked_inputs(config, metric, clock)
        from textclf.tuning.run import search
        from textclf.tuning.study import open_storage, open_study

        # Processes sharing a study draw their own points: one seed would repeat the same random start-up trials.
        seed = config.seed if storage is None else config.seed + os.getpid()
        handle = open_study(open_storage(storage), study, metric, seed)
        return search(config, fixed, handle, {"clock": clock, "metric": metric, "verbose": verbose}, log)


def _config(train, output, options):
    """`(config, fixed)`: the validated `TrainConfig` with its output resolved, and the fixed field names."""
    from textclf.config import TrainConfig
    from textclf.training.run import default_output

    config = TrainConfig(train=os.fspath(train), output=None if output is None else os.fspath(output), **options)
    config.validate()
    if config.output is None:
        config.output = default_output(config)
        Path(config.output).absolute().parent.mkdir(parents=True, exist_ok=True)
    return config, {name for name in options if name not in NOT_FIXED}


def _checked_inputs(config, metric, clock):
    """Reads the tables once (bad input fails before any work); checks the metric and the budget.

    Returns:
        The metric, its default filled in.
    """
    from textclf.training.prepare import read_tables
    from textclf.tuning.budget import duration, shortest_budget
    from textclf.tuning.trial import check_metric

    tables = read_tables(config)
    task = tables.task  # its headline metrics are the ones a search may follow; the first is the default
    metric = metric or task.headline[0]
    check_metric(metric, [str(label) for label in task.labels], task.headline)
    tokens = sum(min(len(str(text).split()), 200) for text in tables.train.texts)
    shortest = shortest_budget(tokens)
    if clock.budget < shortest:
        raise ConfigError(f"budget {duration(clock.budget)} is shorter than one epoch of the defaults on "
                          f"{config.train} (at least {duration(shortest)} here); give a longer --budget")
    return metric


__all__ = ["tune"]
