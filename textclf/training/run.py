"""The stages in order: claim the output, then prepare -> ngram -> recurrent -> assemble -> save -> report."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
from pathlib import Path

from textclf.config import TrainConfig
from textclf.runtime.memory import release_freed_memory


def train(train, **options):
    """Trains a classifier and saves it; the library twin of `textclf train`.

    Args:
        train: Path of the training table (CSV/TSV, optionally .gz, or Parquet).
        **options: Any `TrainConfig` field (test, head, epochs, output, ...).

    Returns:
        The trained `TextClassifier` (also saved to its output directory,
        `classifier.metadata["fitted"]["output"]`).
    """
    config = TrainConfig(train=os.fspath(train), **options)
    return run_training(config)


def default_output(config):
    """`models/<name>`: `--name`, else the training file's name or folder."""
    if config.name:
        return str(Path("models") / config.name)
    path = Path(config.train)
    stem = path.name.split(".")[0]
    if stem in ("train", "training", "data") and path.absolute().parent.name:
        stem = path.absolute().parent.name
    return str(Path("models") / stem)


def _log(message):
    from textclf.runtime.terminal import visible

    print(visible(message, keep_newlines=True), file=sys.stderr, flush=True)


def run_training(config, *, log=_log, keras_verbose="auto", resume=False, progress=None):
    """Runs one training from a `TrainConfig`.

    The output is locked against concurrent runs (`textclf.artifacts.locking`) and,
    except under multi-worker, each epoch's progress is checkpointed in
    `.<output-name>.partial/` (`textclf.training.resume`), removed once the
    model is saved.

    Args:
        config: The configuration (validated here; `config.output` is resolved in place).
        log: Where progress lines go (stderr by default).
        keras_verbose: `verbose` of `Model.fit` (progress bars).
        resume: Continue from the checkpoint of an interrupted run, if any.
        progress: A progress store to use instead of the checkpoints (`textclf.training.state.NoProgress`'s
            methods); tuning's hook for pruning and its deadline (`textclf.tuning.trial`).

    Returns:
        The trained `TextClassifier`.
    """
    from textclf.training.resume import open_progress

    config.validate()
    requested = config.to_dict()  # as given, before the output default
    with _claimed_output(config):
        progress = progress or open_progress(config, resume, log)
        return _run_stages(config, requested, progress, log, keras_verbose)


@contextlib.contextmanager
def _claimed_output(config):
    """Resolves the default output and claims it (`textclf.artifacts.outputs.claim`) while the run lasts.

    A parent directory this run made for the default output is removed again on failure.
    """
    from textclf.artifacts.outputs import claim

    created = None
    if config.output is None:
        config.output = default_output(config)
        parent = Path(config.output).absolute().parent
        if not parent.exists():
            parent.mkdir(parents=True)
            created = parent
    try:
        # Before training: the user's files are never replaced. Multi-worker workers share --output
        # (only the chief writes it), so none of them locks it.
        with claim(config.output, "model", lock=config.distribute != "multi-worker"):
            yield
    except BaseException:
        if created is not None:
            with contextlib.suppress(OSError):
                created.rmdir()  # only if still empty
        raise


def _run_stages(config, requested, progress, log, verbose):
    from textclf.training import distribute
    from textclf.training.prepare import prepare, read_tables

    tables = read_tables(config, log)  # before the slow imports, so bad input fails fast
    started = time.time()
    runtime = distribute.setup(config, log)  # before any TensorFlow op: MultiWorkerMirroredStrategy requires it
    from textclf.inference.classifier import TextClassifier
    from textclf.training import report
    from textclf.training.assemble import assemble
    from textclf.training.ngram import fit_ngram
    from textclf.training.recurrent import fit_members, set_determinism
    from textclf.training.save import describe_run, save

    set_determinism(config.seed)
    # Its lines wait until it succeeds: bad input (an embeddings file found ragged) stays one line on stderr.
    lines = []
    prepared = prepare(config, tables, lines.append)
    for line in lines:
        log(line)
    config, batch_rule = _with_batch(config, prepared.training_tokens, runtime, log)
    ngram = fit_ngram(config, prepared, log)  # first: the members' early stopping follows their mix with it
    # What the sparse fit freed would otherwise stay in glibc's arenas while the members train (trec: -16 MB of peak).
    gc.collect()
    release_freed_memory()
    recurrent = fit_members(config, prepared, runtime, progress, log, verbose, ngram)
    assembled = assemble(prepared, recurrent, ngram, log)
    seconds = time.time() - started
    classifier = TextClassifier(assembled.model, describe_run(config, requested, prepared, recurrent, assembled,
                                                              runtime, seconds, batch_rule))
    evaluation = report.evaluate(classifier, prepared.split, tables.test, config.test,
                                 report.training_summary(prepared))
    metrics = save(classifier, evaluation, recurrent.history, config.output, runtime)
    progress.finish()  # the model is saved: the checkpoints are no longer needed
    report.log_result(metrics, config.output, seconds, runtime.is_chief(), log)
    return classifier


def _with_batch(config, training_tokens, runtime, log):
    """`(config, rule)`: `config` with the batch size and learning rate it trains with (`resolve_batch`)."""
    import dataclasses

    from textclf.training.batch import resolve_batch

    batch_size, learning_rate, rule = resolve_batch(config.batch_size, config.learning_rate, training_tokens)
    if config.batch_size is None or config.learning_rate is None:
        log(f"training: batch {batch_size}, learning rate {learning_rate:g} ({rule}; here {training_tokens:,})")
    if config.batch_size is None:  # a batch size given was checked by `distribute.setup`
        runtime.check_batch_size(batch_size)
    return dataclasses.replace(config, batch_size=batch_size, learning_rate=learning_rate), rule
