"""Where trials are kept: in memory, a journal file (`journal:PATH`), or a database URL shared by machines.

Optuna is imported here only, lazily: `textclf --help` and `import textclf` never load it.
"""

from __future__ import annotations

import os
import socket

from textclf.errors import ConfigError

DEFAULT_STUDY = "textclf"
# Median pruning: a trial whose per-epoch validation score falls below the median of the earlier trials at the
# same epoch stops there; the first trials and first epochs are never pruned (too little to compare with).
STARTUP_TRIALS = 3
WARMUP_EPOCHS = 1


def import_optuna():
    """`optuna`, or `ConfigError` naming the extra that installs it."""
    try:
        import optuna
    except ImportError:
        raise ConfigError("textclf tune needs Optuna: pip install 'textclf[tune]' (or pip install optuna)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def open_storage(spec):
    """The Optuna storage for `--storage`: None (in memory), `journal:PATH`, or a database URL.

    Raises:
        ConfigError: a storage that cannot be opened (one line naming it and why).
    """
    if spec is None:
        return None
    optuna = import_optuna()
    try:
        if spec.startswith("journal:"):
            from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

            path = os.path.abspath(spec[len("journal:"):])
            if not spec[len("journal:"):] or os.path.isdir(path):
                raise ConfigError(f"--storage {spec}: journal:PATH needs the path of a file")
            backend = JournalFileBackend(path, lock_obj=JournalFileOpenLock(path))
            return optuna.storages.JournalStorage(backend)
        if "://" in spec:
            import warnings

            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 4-5: nothing to act on
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(spec, heartbeat_interval=60, grace_period=180)
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - any driver or file error is the storage's, reported in one line
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        raise ConfigError(f"--storage {spec}: cannot be opened ({reason})") from None
    raise ConfigError(f"--storage must be journal:PATH or a database URL (postgresql://..., mysql://..., "
                      f"sqlite:///...). Received: {spec!r}")


def open_study(storage, name, metric, seed):
    """Creates the study `name` in `storage`, or loads it to continue it.

    Args:
        storage: `open_storage`'s result.
        name: The study name (`--study`).
        metric: The metric maximized; a study made for another metric is refused.
        seed: The sampler's seed.

    Returns:
        An `optuna.Study` (TPE sampler, median pruner), its trials left running by a dead process of this
        machine marked failed.
    """
    optuna = import_optuna()
    try:
        study = optuna.create_study(
            study_name=name or DEFAULT_STUDY, storage=storage, load_if_exists=True, direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=WARMUP_EPOCHS),
        )
    except Exception as error:  # noqa: BLE001 - as in open_storage
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        raise ConfigError(f"--storage: study {name or DEFAULT_STUDY!r} cannot be opened ({reason})") from None
    known = study.user_attrs.get("metric")
    if known is None:
        study.set_user_attr("metric", metric)
    elif known != metric:
        raise ConfigError(f"study {study.study_name!r} maximizes {known!r}, not {metric!r}; "
                          "pass --metric " + known + " or another --study")
    _fail_abandoned(study)
    return study


def process_attrs():
    """The user attributes that tell which process runs a trial."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _fail_abandoned(study):
    """Marks failed the running trials of killed `tune` processes of this machine, so they are not waited on."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("host") == host and not _alive(trial.user_attrs.get("pid")):
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)


def _alive(pid):
    if not isinstance(pid, int):
        return True  # not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
