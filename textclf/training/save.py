"""Stage 5, save: the metadata (schema 2), then model.keras, metadata.json and reports/ in one atomic rename.

The model and its metadata are written before any report: a report that fails (a figure matplotlib cannot
draw) is a warning, never a lost model.
"""

from __future__ import annotations

import sys
from pathlib import Path


def describe_run(config, requested, prepared, recurrent, assembled, runtime, seconds, batch_rule=None):
    """The metadata of the run (`textclf.artifacts.metadata`, schema 2), metrics still to come.

    Args:
        config: The `TrainConfig` as run (output, batch size and learning rate resolved).
        requested: `config.to_dict()` as given.
        prepared, recurrent, assembled: The results of the stages.
        runtime: The `textclf.training.distribute.Runtime`.
        seconds: Training time.
        batch_rule: How the default batch size and learning rate were decided (`resolve_batch`).
    """
    from textclf.artifacts import metadata

    embedding = prepared.embedding
    fitted = {
        "max_length": int(prepared.max_length),
        "max_length_rule": prepared.max_length_rule,
        "max_chars": int(prepared.max_chars),
        "max_chars_rule": prepared.max_chars_rule,
        "vocabulary_size": len(prepared.vocabulary),
        "embeddings": {"source": embedding.source, "format": embedding.format, "dim": int(embedding.dim),
                       **prepared.coverage},
        "members": recurrent.members,
        "ensemble_rule": recurrent.rule,
        "ensemble_combine": recurrent.combine,
        "training_tokens": prepared.training_tokens,
        "ngram": assembled.ngram,
        "split": prepared.split.record,
        "training": {"seconds": round(seconds, 2), "epochs": len(recurrent.history), "peak_rss_mb": peak_rss_mb(),
                     "batch_size": config.batch_size, "learning_rate": config.learning_rate,
                     "batch_rule": batch_rule},
        "distribute": runtime.describe(config.batch_size),
        "output": config.output,
    }
    return metadata.new(requested, fitted, labels=prepared.labels, text_column=config.text_column,
                        label_column=config.label_column, task=assembled.task.to_config())


def save(classifier, evaluation, history, output, runtime):
    """Writes the model directory (on the chief; other workers write a private one that is removed).

    Returns:
        The metrics, also stored in `classifier.metadata["fitted"]["metrics"]`.
    """
    with runtime.output_directory(output) as tmp:
        return write_model_directory(tmp, classifier, evaluation, history)


def write_model_directory(directory, classifier, evaluation, history):
    """Writes `model.keras`, `metadata.json` (its metrics computed from `evaluation`) and `reports/` into
    `directory`, the model first: the reports never cost it.

    Args:
        directory: An existing, empty directory.
        classifier: The `TextClassifier` to save.
        evaluation: Its `textclf.training.report.Evaluation`.
        history: Per-epoch dicts for the training curves, or None.

    Returns:
        The metrics, also stored in `classifier.metadata["fitted"]["metrics"]`.
    """
    from textclf.training import report

    metrics = report.final_metrics(evaluation, classifier)
    classifier.metadata["fitted"]["metrics"] = metrics
    classifier.save(directory)
    report.write(Path(directory) / "reports", evaluation, classifier, history)
    return metrics


def peak_rss_mb():
    """Peak resident memory of this process so far, in MiB (Linux/macOS), else None."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
