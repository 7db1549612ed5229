"""The search: trials one after the other until the budget's deadline, then the best finished one kept.

Every trial trains through `run_training` into its own directory under `.<output>.tuning/` beside the
output, with its validation probabilities beside it; the best `ensemble.MAX_PICKS` finished ones are kept
there. After the defaults, the search draws points of its own, one member each (`space.trial_changes`): first
neighbours of the defaults (`space.neighbour_params`), then wherever Optuna's sampler leads. At
the end `ensemble.select` picks the trials whose mean scores best on validation: one trial's model is moved as
trained, several are averaged into one model (`ensemble.write_ensemble`); with
`trials.csv` and `tune.html` it replaces the output atomically. A killed run leaves that folder and the
study (with `--storage`); running it again continues both.
"""

from __future__ import annotations

import contextlib
import gc
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from textclf.errors import TextclfError
from textclf.tuning.budget import duration
from textclf.tuning.space import AUTO

FINAL_SECONDS = 3.0  # trials.csv, tune.html and the renames
VALIDATION_SUFFIX = ".validation.npy"  # beside trial-N/: the trial's validation probabilities
DEFAULTS, CHANGES = "defaults", "changes"  # trial user attributes: the defaults' trial; `space.trial_changes`
AFTER_FIT = "after_fit_seconds"  # trial user attribute: its seconds from its last epoch to its model saved


@dataclass
class TuneResult:
    """What `tune` found.

    Attributes:
        output: The model directory written (the kept model, `trials.csv`, `tune.html`).
        value: The kept model's validation metric.
        params: The parameters of its first trial, the best one ("auto": textclf's own choice).
        command: The `textclf train` command that trains that configuration.
        trials: Trials this process ran, and
        pruned: how many of them were pruned.
        ensemble: Trial number -> weight in the kept model (one trial: weight 1).
    """

    output: str
    value: float
    params: dict
    command: str
    trials: int
    pruned: int
    ensemble: dict = field(default_factory=dict)


@dataclass
class _Timing:
    """What finished trials took, to keep the deadline: before their first epoch and after their last."""

    before_fit: float | None = None
    after_fit: float | None = None

    def reserve(self, clock):
        """Seconds kept back from the fit deadline: a trial's assembling and saving (1.5 x what one took), the
        averaging of two trials (2 x: each predicts validation and test again) and the final files."""
        return FINAL_SECONDS + 3.5 * self.after(clock)

    def after(self, clock):
        """What a finished trial took after its last epoch (assembling, evaluating, saving), or a guess."""
        return self.after_fit if self.after_fit is not None else min(0.1 * clock.budget, 30.0)

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
    from textclf.tuning.ensemble import validation_rows

    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    work = _work_directory(config.output)
    if not study.trials:
        study.enqueue_trial(space.default_params(config, fixed), user_attrs={DEFAULTS: True}, skip_if_exists=True)
    validation = validation_rows(config)
    timing, ran, pruned = _Timing(), 0, 0
    kept = _kept(study, work)
    while options["clock"].left() > timing.reserve(options["clock"]):
        deadline = options["clock"].end - timing.reserve(options["clock"])
        if ran and not timing.worth_starting(deadline - time.monotonic()):
            break
        _queue_neighbour(study, config, fixed)
        outcome = _one_trial(config, fixed, study, work, deadline, timing, options, validation)
        ran += 1
        pruned += outcome["state"] == "pruned"
        log(_trial_line(outcome, options))
        if outcome["state"] == "cut":
            break
        if outcome["state"] == "complete":
            kept[outcome["number"]] = outcome["value"]
            _keep_best(kept, work)
    if not kept:
        shutil.rmtree(work, ignore_errors=True)
        raise TextclfError(f"the budget of {duration(options['clock'].budget)} ended before any trial finished "
                           "(the first one trains the defaults); give a longer --budget")
    return _finish(config, fixed, study, work, kept, validation, options, (ran, pruned), timing, log)


def _queue_neighbour(study, config, fixed):
    """Queues the next trial as a neighbour of the defaults (`space.neighbour_params`) while the study has fewer
    than `space.NEIGHBOUR_TRIALS` drawn trials and nothing is queued (the defaults, or one a killed run left)."""
    from optuna.trial import TrialState

    from textclf.tuning import space

    trials = study.get_trials(deepcopy=False)  # one read of the storage (a journal file is read whole)
    if not 0 < len(trials) <= space.NEIGHBOUR_TRIALS or any(t.state == TrialState.WAITING for t in trials):
        return
    study.enqueue_trial(space.neighbour_params(space.default_params(config, fixed), config.seed, len(trials)))


def _keep_best(kept, work):
    """Removes the models of finished trials beyond the best `MAX_PICKS` (only those can be picked)."""
    from textclf.tuning.ensemble import MAX_PICKS

    for number in sorted(kept, key=lambda n: (-kept[n], n))[MAX_PICKS:]:
        del kept[number]
        shutil.rmtree(work / f"trial-{number}", ignore_errors=True)
        (work / f"trial-{number}{VALIDATION_SUFFIX}").unlink(missing_ok=True)


def _one_trial(config, fixed, study, work, deadline, timing, options, validation):
    """Asks the study for a trial, trains it and tells the study how it ended; returns a summary dict."""
    import numpy as np

    import optuna

    from textclf.tuning import space
    from textclf.tuning.study import process_attrs
    from textclf.tuning.trial import TrialCut, TrialHook, metric_value, run_trial

    trial = study.ask()
    for key, value in process_attrs().items():
        trial.set_user_attr(key, value)
    extra = space.trial_changes(fixed, bool(trial.user_attrs.get(DEFAULTS)), config.seed, trial.number)
    changes = {**space.suggest(trial, config, fixed), **extra}
    if extra:
        trial.set_user_attr(CHANGES, extra)
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
        trial.set_user_attr("members", len(classifier.metadata["fitted"].get("members") or [None]))
        np.save(work / f"trial-{trial.number}{VALIDATION_SUFFIX}",
                classifier.predict_proba(validation.split.val_texts))  # what the kept model is chosen on
        if hook.first_epoch_at is not None:
            after_fit = time.monotonic() - hook.last_epoch_at
            trial.set_user_attr(AFTER_FIT, round(after_fit, 2))  # what averaging this trial will cost, about
            timing.before_fit = max(timing.before_fit or 0.0, hook.first_epoch_at - started)
            timing.after_fit = max(timing.after_fit or 0.0, after_fit)
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


def _kept(study, work):
    """Trial number -> value of the finished trials whose model and validation probabilities are in `work`
    (left by a run that was stopped)."""
    from optuna.trial import TrialState

    return {t.number: t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if (work / f"trial-{t.number}" / "metadata.json").is_file()
            and (work / f"trial-{t.number}{VALIDATION_SUFFIX}").is_file()}


def _finish(config, fixed, study, work, kept, validation, options, counts, timing, log):
    """Picks the kept model (`ensemble.select`), writes it with `trials.csv` and `tune.html`, moves it onto the
    output."""
    import numpy as np

    from textclf.artifacts.outputs import atomic_directory
    from textclf.tuning.ensemble import scorer, select, write_ensemble

    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    candidates = {n: np.load(work / f"trial-{n}{VALIDATION_SUFFIX}") for n in kept}
    picks, score = select(candidates, scorer(validation, options["metric"]))
    commands = {n: _command(config, fixed, trials[n]) for n in picks}
    first = next(iter(picks))  # the first pick: the best trial alone
    chosen, value = work / f"trial-{first}", float(trials[first].value)
    needed = FINAL_SECONDS + _averaging_seconds([trials[n] for n in picks], timing, options["clock"])
    if len(picks) > 1 and options["clock"].left() < needed:
        log(f"no time left to average trials {', '.join(map(str, sorted(picks)))} (about {duration(needed)}); "
            f"kept trial {first}")
        picks = {first: 1}
    if len(picks) > 1:
        chosen, value = work / "ensemble", float(score[0])
        chosen.mkdir(exist_ok=True)
        write_ensemble(chosen, picks, {n: work / f"trial-{n}" for n in picks}, validation, commands, config.test)
    weights = {n: count / sum(picks.values()) for n, count in picks.items()}
    _write_search_files(chosen, study, trials, weights, commands, options)
    with atomic_directory(config.output, kind="model") as tmp:
        for entry in chosen.iterdir():
            entry.replace(tmp / entry.name)
    with contextlib.suppress(OSError):
        shutil.rmtree(work)
    params = {name: trials[first].params.get(name, AUTO) for name in trials[first].params}
    return TuneResult(output=str(config.output), value=value, params=params, command=commands[first],
                      trials=counts[0], pruned=counts[1], ensemble=weights)


def _averaging_seconds(picked, timing, clock):
    """About what averaging the `picked` trials takes: the mean is assembled, evaluated and saved once, as each
    trial was after its last epoch, so the slowest of theirs (measured: 2.5 s for two trials that took up to
    8.8 s). Their own times, not the slowest trial's of the search: one slow trial drawn late kept two fast
    ones from being averaged."""
    return max(t.user_attrs.get(AFTER_FIT, timing.after(clock)) for t in picked)


def _command(config, fixed, trial):
    from textclf.tuning import space

    return space.train_command(config, fixed, trial.params, trial.user_attrs.get(CHANGES))


def _write_search_files(directory, study, trials, weights, commands, options):
    from textclf.tuning.page import write_page
    from textclf.tuning.table import write_trials

    ordered = list(trials.values())
    write_trials(directory / "trials.csv", ordered, weights)
    write_page(directory / "tune.html", study, ordered, weights, commands, options)
