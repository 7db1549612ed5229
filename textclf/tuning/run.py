"""The search: trials one after the other until the budget's deadline, then the best finished one kept.

Every trial trains through `run_training` into its own directory under `.<output>.tuning/` beside the
output; only the best so far is kept there. At the end the best one, with `trials.csv` and `tune.html`,
replaces the output atomically: a model directory as `textclf train` writes it, moved, not retrained.
A killed run leaves that folder and the study (with `--storage`); running it again continues both.
"""

from __future__ import annotations

import contextlib
import gc
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from textclf.errors import TextclfError
from textclf.tuning.budget import duration
from textclf.tuning.space import AUTO

FINAL_SECONDS = 3.0  # trials.csv, tune.html and the renames


@dataclass
class TuneResult:
    """What `tune` found.

    Attributes:
        output: The model directory written (the best trial's model, `trials.csv`, `tune.html`).
        value: The best trial's validation metric.
        params: Its parameters ("auto": textclf's own choice).
        command: The `textclf train` command that trains that configuration.
        trials: Trials this process ran, and
        pruned: how many of them were pruned.
    """

    output: str
    value: float
    params: dict
    command: str
    trials: int
    pruned: int


@dataclass
class _Timing:
    """What finished trials took, to keep the deadline: before their first epoch and after their last."""

    before_fit: float | None = None
    after_fit: float | None = None

    def reserve(self, clock):
        """Seconds kept back from the fit deadline for a trial's assembling and saving, and the final files."""
        after = self.after_fit if self.after_fit is not None else min(0.1 * clock.budget, 30.0)
        return FINAL_SECONDS + 1.5 * after

    def worth_starting(self, seconds_left):
        """Whether a new trial can reach at least its first epoch in `seconds_left`."""
        return seconds_left > (self.before_fit or 0.0) * 1.2


def search(config, fixed, study, options, log=None):
    """Runs trials until the deadline and writes the output.

    Args:
        config: The `TrainConfig` (output resolved); fields named in `fixed` are not searched.
        fixed: Names of the fields the user fixed.
        study: The `optuna.Study`.
        options: `clock` (a `Clock`), `metric`, `verbose`.
        log: One line per trial and the closing lines (default: standard error).

    Returns:
        A `TuneResult`.
    """
    from textclf.tuning import space

    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    work = _work_directory(config.output)
    if not study.trials:
        study.enqueue_trial(space.default_params(config, fixed), skip_if_exists=True)
    timing, ran, pruned = _Timing(), 0, 0
    best = _best_kept(study, work)
    while options["clock"].left() > timing.reserve(options["clock"]):
        deadline = options["clock"].end - timing.reserve(options["clock"])
        if ran and not timing.worth_starting(deadline - time.monotonic()):
            break
        outcome = _one_trial(config, fixed, study, work, deadline, timing, options)
        ran += 1
        pruned += outcome["state"] == "pruned"
        log(_trial_line(outcome, options))
        if outcome["state"] == "cut":
            break
        if outcome["state"] == "complete" and outcome["params"] == space.default_params(config, fixed):
            larger = space.larger_ensemble(config, fixed, outcome["members"])
            if larger is not None:
                study.enqueue_trial(larger, skip_if_exists=True)
        if outcome["state"] == "complete" and (best is None or outcome["value"] > best.value):
            if best is not None:
                shutil.rmtree(work / f"trial-{best.number}", ignore_errors=True)
            best = _frozen(study, outcome["number"])
        elif outcome["state"] == "complete":
            shutil.rmtree(work / f"trial-{outcome['number']}", ignore_errors=True)
    if best is None:
        shutil.rmtree(work, ignore_errors=True)
        raise TextclfError(f"the budget of {duration(options['clock'].budget)} ended before any trial finished "
                           "(the first one trains the defaults); give a longer --budget")
    return _finish(config, fixed, study, work, best, options, (ran, pruned))


def _frozen(study, number):
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def _one_trial(config, fixed, study, work, deadline, timing, options):
    """Asks the study for a trial, trains it and tells the study how it ended; returns a summary dict."""
    import optuna

    from textclf.tuning import space
    from textclf.tuning.study import process_attrs
    from textclf.tuning.trial import TrialCut, TrialHook, metric_value, run_trial

    trial = study.ask()
    for key, value in process_attrs().items():
        trial.set_user_attr(key, value)
    changes = space.suggest(trial, config, fixed)
    hook, started, output = TrialHook(trial, deadline), time.monotonic(), work / f"trial-{trial.number}"
    summary = {"number": trial.number, "params": dict(trial.params), "value": None}
    try:
        classifier = run_trial(config, changes, output, hook, options.get("verbose", False))
    except optuna.TrialPruned:
        summary["state"] = "pruned"
        _tell(study, trial, hook, started, optuna.trial.TrialState.PRUNED)
    except TrialCut:
        summary["state"] = "cut"
        trial.set_user_attr("cut_at_deadline", True)
        _tell(study, trial, hook, started, optuna.trial.TrialState.FAIL)
    except TextclfError as error:  # a combination the training refuses: that point, not the search, fails
        summary["state"], summary["error"] = "failed", str(error)
        _tell(study, trial, hook, started, optuna.trial.TrialState.FAIL)
    else:
        summary["state"] = "complete"
        summary["value"] = metric_value(classifier.metadata["fitted"]["metrics"], options["metric"])
        summary["members"] = len(classifier.metadata["fitted"].get("members") or [None])
        if hook.first_epoch_at is not None:
            timing.before_fit = max(timing.before_fit or 0.0, hook.first_epoch_at - started)
            timing.after_fit = max(timing.after_fit or 0.0, time.monotonic() - hook.last_epoch_at)
        del classifier
        _tell(study, trial, hook, started, None, summary["value"])
    finally:
        _clear_keras()
    summary.update(seconds=time.monotonic() - started, epochs=hook.epochs)
    return summary


def _tell(study, trial, hook, started, state, value=None):
    trial.set_user_attr("epochs", hook.epochs)
    trial.set_user_attr("seconds", round(time.monotonic() - started, 2))
    if state is None:
        study.tell(trial, value)
    else:
        study.tell(trial, state=state)


def _clear_keras():
    """Frees the trial's models and traced functions: memory stays flat across trials."""
    import keras

    from textclf.runtime.memory import release_freed_memory

    keras.backend.clear_session()
    gc.collect()
    release_freed_memory()


def _trial_line(outcome, options):
    params = " ".join(f"{name}={_short(value)}" for name, value in outcome["params"].items())
    if outcome["state"] == "complete":
        result = f"{options['metric']} {outcome['value']:.4f}"
    elif outcome["state"] == "pruned":
        result = f"pruned after {outcome['epochs']} epochs"
    elif outcome["state"] == "cut":
        result = "cut at the deadline"
    else:
        result = f"failed: {outcome.get('error', '')}"
    return (f"trial {outcome['number']}: {result} in {duration(outcome['seconds'])} ({params}); "
            f"budget left {duration(options['clock'].left())}")


def _short(value):
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _work_directory(output):
    """`.<output-name>.tuning/` beside the output: the trials' models while the search runs."""
    output = Path(output).absolute()
    work = output.parent / f".{output.name}.tuning"
    work.mkdir(exist_ok=True)
    return work


def _best_kept(study, work):
    """The best finished trial whose model is in `work` (one left by a run that was stopped), or None."""
    from optuna.trial import TrialState

    kept = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if (work / f"trial-{t.number}" / "metadata.json").is_file()]
    return max(kept, key=lambda t: t.value, default=None)


def _finish(config, fixed, study, work, best, options, counts):
    """Writes `trials.csv` and `tune.html` into the best trial's directory and moves it onto the output."""
    from textclf.artifacts.outputs import atomic_directory
    from textclf.tuning import space
    from textclf.tuning.page import write_page
    from textclf.tuning.table import write_trials

    chosen = work / f"trial-{best.number}"
    command = space.train_command(config, fixed, best.params)
    trials = study.get_trials(deepcopy=False)
    write_trials(chosen / "trials.csv", trials)
    write_page(chosen / "tune.html", study, trials, best, command, options)
    with atomic_directory(config.output, kind="model") as tmp:
        for entry in chosen.iterdir():
            entry.replace(tmp / entry.name)
    with contextlib.suppress(OSError):
        shutil.rmtree(work)
    params = {name: best.params.get(name, AUTO) for name in best.params}
    return TuneResult(output=str(config.output), value=float(best.value), params=params, command=command,
                      trials=counts[0], pruned=counts[1])
