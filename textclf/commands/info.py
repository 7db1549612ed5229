"""Describe a model directory: labels, every choice training made (members, embeddings, max_length, n-gram branch, split), metrics.

Reads only metadata.json (no TensorFlow), so it answers at once. `--json`
prints the metadata as it is stored.
"""

from __future__ import annotations

from textclf.commands import options

HELP = "describe a saved model (labels, head, embeddings, metrics)"


def add_arguments(parser):
    options.add_model(parser)
    parser.add_argument("--json", action="store_true", help="print metadata.json as JSON")


def _pct(value):
    return f"{value:.1%}" if isinstance(value, (int, float)) else "?"


def describe(metadata, directory):
    """The human-readable description of `metadata` (either schema), as lines: every fitted choice."""
    from textclf.artifacts.metadata import upgrade

    metadata = upgrade(metadata)
    requested, fitted = metadata.get("requested") or {}, metadata.get("fitted") or {}
    labels = metadata.get("labels", [])
    lines = [f"model: {directory}", f"labels ({len(labels)}): {', '.join(str(label) for label in labels)}",
             f"columns: text {metadata.get('text_column', '?')!r}, label {metadata.get('label_column', '?')!r}"]
    lines += _tuned_ensemble(fitted.get("tuned_ensemble"))
    from textclf.tasks import from_metadata

    lines += from_metadata(metadata).describe()
    if requested:
        lines.append(
            f"head: {requested.get('head', '?')} (units {_units(requested, fitted)}, layers "
            f"{requested.get('layers', '?')}, pooling {requested.get('pooling', '?')}, dropout "
            f"{requested.get('dropout', '?')}, embedding dropout {requested.get('embedding_dropout', '?')})"
        )
    lines += _members(fitted)
    lines += _embeddings(requested, fitted)
    rule = f" ({fitted['max_length_rule']})" if fitted.get("max_length_rule") else ""
    lines.append(f"max_length: {fitted.get('max_length', '?')} tokens{rule}")
    if fitted.get("max_chars"):  # models saved before the cap read texts whole
        lines.append(f"max_chars: {fitted['max_chars']:,} characters per text ({fitted.get('max_chars_rule')})")
    lines += _ngram(fitted.get("ngram") or {})
    lines += _split(fitted.get("split") or {})
    lines += _training(requested, fitted)
    lines += _metrics(fitted.get("metrics") or {})
    versions = [f"{name} {metadata[key]}" for name, key in
                (("textclf", "textclf_version"), ("keras", "keras_version"), ("tensorflow", "tensorflow_version"))
                if key in metadata]
    if versions:
        lines.append(f"trained with: {', '.join(versions)}" + (f" on {metadata['created']}" if "created" in metadata else ""))
    return lines


def _tuned_ensemble(record):
    """`textclf tune`'s mean of trials: which, at what weight (the lines below describe the first trial)."""
    if not record:
        return []
    trials = record.get("trials") or []
    averaged = ", ".join(f"{t.get('trial')} (weight {t.get('weight', 0):.2f})" for t in trials)
    return [f"tuned ensemble: the mean of trials {averaged}; the lines below describe trial "
            f"{trials[0].get('trial') if trials else '?'}, the best alone"]


def _units(requested, fitted):
    """The units asked for, or those the default gave the members (`resolve_units`)."""
    if requested.get("units") is not None:
        return requested["units"]
    units = {member.get("units") for member in fitted.get("members") or []} - {None}
    return f"{units.pop()}, the default" if len(units) == 1 else "?"


def _members(fitted):
    members = fitted.get("members") or []
    lines = []
    if len(members) > 1:
        heads = [member.get("head") for member in members]
        combined = "weights averaged into one model" if fitted.get("ensemble_combine") == "weights" else "averaged"
        lines.append(f"ensemble: {len(members)} models {combined} (seeds "
                     f"{', '.join(str(member.get('seed')) for member in members)}"
                     f"{'; heads ' + ', '.join(heads) if len(set(heads)) > 1 else ''}), by {fitted.get('ensemble_rule')}")
    for index, member in enumerate(members):
        phases = "; ".join(
            f"{p.get('embeddings', '?')} embeddings, "
            + (f"member {p['shared_with_member']}'s" if p.get("shared_with_member") else f"{p.get('epochs', '?')} epochs,")
            + f" best epoch {p.get('best_epoch', '?')}"
            f" ({'mixed ' if p.get('monitor') == 'val_mixed_loss' else ''}val loss "
            f"{p.get('best_loss', p.get('best_val_loss', float('nan'))):.4f}){'' if p.get('kept', True) else ', not kept'}"
            for p in member.get("phases", [])
        )
        name = "model" if len(members) == 1 else f"member {index + 1}"
        lines.append(f"{name}: {member.get('head', '?')}, seed {member.get('seed', '?')}: {phases}")
    return lines


def _embeddings(requested, fitted):
    emb = fitted.get("embeddings") or {}
    if not emb:
        return []
    coverage = f"coverage: {_pct(emb.get('token_coverage'))} of tokens, {_pct(emb.get('type_coverage'))} of types"
    if "vocabulary_types" in emb:
        coverage += f" ({emb.get('vocabulary_types_found', '?'):,} of {emb['vocabulary_types']:,} vocabulary words found)"
    size = f"; vocabulary {fitted['vocabulary_size']:,} entries" if "vocabulary_size" in fitted else ""
    return [f"embeddings: {emb.get('source', '?')} ({emb.get('format', '?')}, {emb.get('dim', '?')}d, "
            f"mode {requested.get('embedding_mode', '?')}, OOV {requested.get('oov', '?')}){size}", coverage]


def _ngram(ngram):
    if ngram.get("mode", "none") == "none":
        return ["n-gram branch: none"]
    if "validation_branch_log_loss" in ngram:  # multi-label
        loss = ngram["validation_branch_log_loss"]
        scores = (f"log loss recurrent {loss.get('recurrent', 0):.4f}, n-gram {loss.get('ngram', 0):.4f}, "
                  f"mixed {loss.get('mixed', 0):.4f}")
    else:
        accuracy = ngram.get("validation_accuracy", {})
        scores = (f"accuracy recurrent {_pct(accuracy.get('recurrent'))}, n-gram {_pct(accuracy.get('ngram'))}, "
                  f"mixed {_pct(accuracy.get('mixed'))}")
    return [
        f"n-gram branch: {ngram['mode']} ({ngram.get('vocabulary_size', '?'):,} n-grams, "
        f"{ngram.get('weighting', 'binary')} features, C {ngram.get('C', '?')}), weight "
        f"{ngram.get('weight', '?')}{' (left out: weight 0)' if ngram.get('weight') == 0 else ''}; validation "
        + scores
    ]


def _split(split):
    if not split:
        return []
    line = (f"data: {split.get('train_rows') or 0} train, {split.get('validation_rows') or 0} validation, "
            f"{split.get('test_rows') or 0} test rows")
    if split.get("grouped_rows"):
        line += f"; {split['grouped_rows']} rows grouped with the documents containing them"
    if "validation_documents" in split:
        line += f"; n-gram weight chosen on {split['validation_documents']} validation documents"
    return [line, f"validation: {split.get('description', '?')}"]


def _training(requested, fitted):
    training = fitted.get("training") or {}
    lines = []
    if training:
        lines.append(f"training: {training.get('epochs', '?')} epochs in {training.get('seconds', '?')}s"
                     + (f", batch {training['batch_size']} at learning rate {training['learning_rate']:g}"
                        if training.get("batch_size") else "")
                     + (f", peak memory {training['peak_rss_mb']} MiB" if training.get("peak_rss_mb") else ""))
    if "patience" in requested:
        followed = "mixed model's " if requested.get("stop_on") == "mixed" and requested.get("wide") != "none" else ""
        lines.append(f"early stopping: patience {requested['patience']} epochs, minimum improvement "
                     f"{requested.get('min_delta', 0)} of the {followed}validation loss"
                     + (" summed over the labels" if requested.get("multi_label") else ""))
    distribute = fitted.get("distribute") or {}
    if distribute.get("mode", "none") != "none":
        lines.append(f"distribute: {distribute['mode']}, {distribute.get('num_workers', '?')} worker(s), "
                     f"{distribute.get('num_replicas', '?')} replica(s), global batch {distribute.get('global_batch_size', '?')}")
    return lines


def _metrics(metrics):
    if not metrics:
        return []
    text = f"metrics ({metrics.get('evaluated_on', '?')}): "
    text += ", ".join(
        f"{name.replace('_', ' ')} {metrics[name]:.4f}"
        for name in ("accuracy", "micro_f1", "macro_f1", "weighted_f1", "samples_f1", "subset_accuracy", "hamming_loss",
                     "validation_accuracy", "validation_micro_f1", "validation_macro_f1")
        if isinstance(metrics.get(name), (int, float))
    )
    if "rows" in metrics:
        text += f" ({metrics['rows']} rows)"
    return [text]


def run(args):
    import json

    from textclf.artifacts import metadata as metadata_file
    from pathlib import Path

    from textclf.inference.classifier import MODEL_FILE, check_model_archive

    metadata = metadata_file.read(args.model)  # as stored (--json prints it so)
    check_model_archive(Path(args.model) / MODEL_FILE)
    if args.json:
        print(json.dumps(metadata, indent=2))
    else:
        from textclf.runtime.terminal import visible

        print("\n".join(visible(line) for line in describe(metadata, args.model)))  # labels are data
    return 0
