"""Describe a model directory: labels, head, embeddings and their coverage, max_length, metrics.

Reads only metadata.json (no TensorFlow), so it answers at once. `--json`
prints the metadata as it is stored.
"""

from __future__ import annotations

HELP = "describe a saved model (labels, head, embeddings, metrics)"


def add_arguments(parser):
    parser.add_argument("--model", required=True, metavar="DIR", help="model directory written by `textclf train`")
    parser.add_argument("--json", action="store_true", help="print metadata.json as JSON")


def _pct(value):
    return f"{value:.1%}" if isinstance(value, (int, float)) else "?"


def describe(metadata, directory):
    """The human-readable description of `metadata`, as lines."""
    labels = metadata.get("labels", [])
    head = metadata.get("head", {}) or {}
    emb = metadata.get("embeddings", {}) or {}
    data = metadata.get("data", {}) or {}
    training = metadata.get("training", {}) or {}
    metrics = metadata.get("metrics", {}) or {}
    lines = [f"model: {directory}"]
    lines.append(f"labels ({len(labels)}): {', '.join(str(label) for label in labels)}")
    lines.append(f"columns: text {metadata.get('text_column', '?')!r}, label {metadata.get('label_column', '?')!r}")
    if head:
        lines.append(
            f"head: {head.get('name', '?')} (units {head.get('units', '?')}, layers {head.get('layers', '?')}, "
            f"pooling {head.get('pooling', '?')}, dropout {head.get('dropout', '?')}, "
            f"embedding dropout {head.get('embedding_dropout', '?')})"
        )
    ensemble = metadata.get("ensemble") or {}
    if ensemble.get("members", 1) > 1:
        heads = ensemble.get("heads")
        lines.append(f"ensemble: {ensemble['members']} models averaged (seeds "
                     f"{', '.join(str(seed) for seed in ensemble.get('seeds', []))}"
                     f"{'; heads ' + ', '.join(heads) if heads and len(set(heads)) > 1 else ''})")
    if emb:
        lines.append(
            f"embeddings: {emb.get('source', '?')} ({emb.get('format', '?')}, {emb.get('dim', '?')}d, "
            f"mode {emb.get('mode', '?')}, OOV {emb.get('oov', '?')})"
        )
        coverage = f"coverage: {_pct(emb.get('token_coverage'))} of tokens, {_pct(emb.get('type_coverage'))} of types"
        if "vocabulary_types" in emb:
            coverage += f" ({emb.get('vocabulary_types_found', '?'):,} of {emb['vocabulary_types']:,} vocabulary words found)"
        lines.append(coverage)
    lines.append(f"max_length: {metadata.get('max_length', '?')} tokens")
    wide = metadata.get("wide") or {}
    if wide.get("mode", "none") != "none":
        accuracy = wide.get("validation_accuracy", {})
        lines.append(
            f"n-gram branch: {wide['mode']} ({wide.get('vocabulary_size', '?'):,} n-grams, "
            f"{wide.get('weighting', 'binary')}), weight "
            f"{wide.get('weight', '?')}{' (left out: weight 0)' if wide.get('weight') == 0 else ''}; validation "
            f"accuracy recurrent {_pct(accuracy.get('recurrent'))}, n-gram {_pct(accuracy.get('ngram'))}, "
            f"mixed {_pct(accuracy.get('mixed'))}"
        )
    if data:
        lines.append(
            f"data: {data.get('train_rows') or 0} train, {data.get('validation_rows') or 0} validation, "
            f"{data.get('test_rows') or 0} test rows"
        )
    if training:
        lines.append(f"training: {training.get('epochs', '?')} epochs in {training.get('seconds', '?')}s")
    if metrics:
        text = f"metrics ({metrics.get('evaluated_on', '?')}): "
        text += ", ".join(
            f"{name.replace('_', ' ')} {metrics[name]:.4f}"
            for name in ("accuracy", "macro_f1", "weighted_f1") if isinstance(metrics.get(name), (int, float))
        )
        if "rows" in metrics:
            text += f" ({metrics['rows']} rows)"
        lines.append(text)
    versions = [f"{name} {metadata[key]}" for name, key in
                (("textclf", "textclf_version"), ("keras", "keras_version"), ("tensorflow", "tensorflow_version"))
                if key in metadata]
    if versions:
        lines.append(f"trained with: {', '.join(versions)}" + (f" on {metadata['created']}" if "created" in metadata else ""))
    return lines


def run(args):
    import json

    from textclf.classifier import MODEL_FILE, read_metadata
    from textclf.errors import ModelFileError

    metadata = read_metadata(args.model)
    from pathlib import Path

    if not (Path(args.model) / MODEL_FILE).is_file():
        raise ModelFileError(f"{Path(args.model) / MODEL_FILE}: file not found")
    if args.json:
        print(json.dumps(metadata, indent=2))
    else:
        print("\n".join(describe(metadata, args.model)))
    return 0
