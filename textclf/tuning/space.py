"""The search space of `textclf tune`: `TrainConfig` fields, their candidate values and the defaults' point.

A field the user fixed (any `textclf train` option given to `tune`) is not searched. Values `textclf train`
decides by itself (`None` in `TrainConfig`: units, batch size, learning rate, max length)
are the choice "auto", so the defaults are a point of the space and the first trial runs exactly them.
Choices that another makes moot are not drawn: the n-gram weighting without an n-gram branch, poolings a
head does not accept. The ensemble size is not drawn: a drawn trial trains `DRAWN_MEMBERS` member, and the
kept model's members are the trials `textclf.tuning.ensemble` averages (see `trial_changes`). The first drawn
trials are neighbours of the defaults (`neighbour_params`).
"""

from __future__ import annotations

import random
import shlex

from textclf.config import CLASS_WEIGHTS, EMBEDDING_MODES, TrainConfig
from textclf.models.heads import HEADS, POOLINGS, head_names
from textclf.models.wide import WEIGHTINGS, WIDE_CHOICES

AUTO = "auto"
# Fields whose `TrainConfig` default is None (textclf decides): "auto" in the space. `wide_weighting`'s "auto"
# is a value of its own.
AUTOMATIC = ("units", "learning_rate", "batch_size", "max_length")
# benchmarks/HISTORY.md, issue 34, "Session 4": at 3x the defaults' time a drawn trial of the defaults' 3
# members left room for one or two; one member each buys three times the points, and the mean of the trials
# that score best together is the ensemble.
DRAWN_MEMBERS = 1
# benchmarks/HISTORY.md, issue 34, "Session 5": the first drawn trials are the defaults with `NEIGHBOUR_CHANGES`
# of their values drawn anew (Optuna's sampler draws those), instead of points drawn at random in the whole
# space: at 3x the defaults' time the search runs 5-11 trials, all inside TPE's random start-up, and random
# points scored far below the defaults (trec: 0.74-0.88 against 0.90), too low to raise their mean.
NEIGHBOUR_TRIALS = 10
NEIGHBOUR_CHANGES = 2
DRAWN_SEED_OFFSET = 1000  # a drawn trial's member seed: past the defaults' members' (`--seed` + 0, 1, ...)
# name -> candidate values (a tuple: categorical), or (low, high) floats in a dict: uniform.
SPACE = {
    "head": tuple(sorted(HEADS)),
    "units": (AUTO, 16, 32, 64, 128),
    "layers": (1, 2),
    "dropout": {"low": 0.0, "high": 0.5},
    "pooling": POOLINGS,
    "learning_rate": (AUTO, 0.0005, 0.001, 0.002, 0.004, 0.008),
    "batch_size": (AUTO, 32, 64, 128),
    "max_length": (AUTO, 32, 64, 128, 256),
    "embedding_mode": EMBEDDING_MODES,
    "wide": WIDE_CHOICES,
    "wide_weighting": WEIGHTINGS,
    "class_weight": CLASS_WEIGHTS,
}


def _pooling_choices(config, fixed):
    """The poolings every head that may be drawn accepts (the space may not change from trial to trial)."""
    heads = head_names(config.head) if "head" in fixed else SPACE["head"]
    return tuple(p for p in POOLINGS if all(p in HEADS[h].poolings for h in heads))


def default_params(config, fixed):
    """The defaults as a point of the space (`study.enqueue_trial`): every searched field at `config`'s value."""
    params = {}
    for name in searched(fixed):
        value = getattr(config, name)
        params[name] = AUTO if value is None and name in AUTOMATIC else value
    if "wide_weighting" in params and params.get("wide", config.wide) == "none":
        del params["wide_weighting"]
    return params


def neighbour_params(defaults, seed, number):
    """The point a neighbour trial keeps: the defaults' values but `NEIGHBOUR_CHANGES` of them, which it draws.

    Args:
        defaults: `default_params`'s point.
        seed: The search's seed.
        number: The trial's place in the study (which values are drawn anew follows it and `seed`).

    Returns:
        `{field: value}` for `optuna.Study.enqueue_trial`: the fields left out are drawn by the sampler.
    """
    names = sorted(defaults)
    drawn = set(random.Random(f"{seed}:{number}").sample(names, min(NEIGHBOUR_CHANGES, len(names))))
    return {name: value for name, value in defaults.items() if name not in drawn}


def trial_changes(fixed, defaults, seed=0, number=0):
    """The `TrainConfig` changes a trial makes beside the values it draws: a drawn trial's ensemble size and the
    seed of its member.

    Args:
        fixed: Names of the fields the user fixed (a fixed `--ensemble` or `--member-seed` holds for every trial).
        defaults: Whether the trial is the defaults' (textclf's own ensemble size and seeds).
        seed: The search's `--seed`.
        number: The trial's number.

    Returns:
        `{field: value}`, given to the trial's training and written into its `textclf train` command.
    """
    if defaults:
        return {}
    changes = {} if "ensemble" in fixed else {"ensemble": DRAWN_MEMBERS}
    if "member_seed" not in fixed:
        # A point drawn again (a neighbour often redraws a default value) trains a new member, not the same one.
        changes["member_seed"] = seed + DRAWN_SEED_OFFSET + number
    return changes


def searched(fixed):
    """The names of the searched fields, in the order they are drawn."""
    return [name for name in SPACE if name not in fixed]


def suggest(trial, config, fixed):
    """Draws one point for `trial` (an `optuna.Trial`).

    Args:
        trial: The trial.
        config: The `TrainConfig` holding the fixed values.
        fixed: The names of the fields the user fixed.

    Returns:
        `{field: value}`, "auto" already turned into `None`: the `TrainConfig` changes of this trial.
    """
    values = {}
    for name in searched(fixed):
        wide = values.get("wide", config.wide)
        if name == "wide_weighting" and wide == "none":
            continue
        choices = _pooling_choices(config, fixed) if name == "pooling" else SPACE[name]
        if isinstance(choices, dict):
            values[name] = trial.suggest_float(name, choices["low"], choices["high"])
        else:
            values[name] = trial.suggest_categorical(name, choices)
    return {name: None if name in AUTOMATIC and value == AUTO else value for name, value in values.items()}


def train_command(config, fixed, params, changes=None):
    """The `textclf train` command line that trains the configuration: the fixed options and `params`.

    Args:
        config: The `TrainConfig` of the tuning run (paths and fixed values).
        fixed: The fixed field names.
        params: A trial's parameters as drawn ("auto" kept).
        changes: The trial's `trial_changes`.

    Returns:
        The command as one shell-quoted line.
    """
    defaults = TrainConfig(train="")
    words = ["textclf", "train", "--input", config.train]
    chosen = {name: getattr(config, name) for name in sorted(fixed) if name != "train"}
    chosen.update({name: value for name, value in params.items() if not (name in AUTOMATIC and value == AUTO)})
    chosen.update(changes or {})
    for name, value in chosen.items():
        option = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            words += [option] if value else []
        elif value is not None and (name in fixed or value != getattr(defaults, name)):
            words += [option, str(value)]
    return " ".join(shlex.quote(word) for word in words)
