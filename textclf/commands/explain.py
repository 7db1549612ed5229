"""Explain predictions: how much each token moves the predicted class's probability.

A token's score is the drop in the predicted class's probability when the
token is left out (positive: it speaks for the prediction). On a terminal the
tokens are shaded (green for, red against); otherwise each text gives
`token<TAB>score` lines followed by a blank line, or with --format csv one
row per token. --input explains every row of a CSV/TSV file; --output writes
the CSV (tab-separated if named .tsv) to a file.
"""

from __future__ import annotations

from textclf.commands import options

HELP = "show how much each token of a text moves its prediction"

FORMATS = ("auto", "color", "tsv", "csv")
GROUP = 64  # texts explained per call (their occluded variants are predicted together)


def add_arguments(parser):
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to explain")
    options.add_model(parser)
    options.add_input(parser, help="CSV/TSV/Parquet file whose texts to explain (instead of TEXT)")
    options.add_output(parser, help="write CSV (or .tsv) here instead of standard output")
    options.add_columns(parser, labels=False)
    parser.add_argument("--encoding", default="utf-8", help="text encoding of --input")
    parser.add_argument("--format", choices=FORMATS, default="auto",
                        help="standard output: shaded tokens on a terminal (auto), token<TAB>score lines, or CSV")
    parser.add_argument("--batch-size", type=int, default=256, metavar="N", help="texts per model batch")
    parser.add_argument("--max-spans", type=int, default=None, metavar="N",
                        help="texts longer than N tokens are occluded in runs of consecutive tokens, each token "
                             "scored with its run (the cost of a text grows with the square of its length) "
                             "(default: every token left out alone)")


def outputs(args):
    """The --output file, if any, claimed before the model is loaded (`textclf.artifacts.outputs`)."""
    return [(args.output, "file", (args.input,))] if args.output else []


def run(args):
    import sys

    from textclf.inference.classifier import TextClassifier
    from textclf.errors import ConfigError

    if bool(args.texts) == bool(args.input):
        raise ConfigError(f"give either TEXT arguments or --input FILE. Received: {len(args.texts)} texts and "
                          f"--input {args.input!r}")
    for name in ("batch_size", "max_spans"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer. Received: {value}")
    if args.input:
        from textclf.data.tables import check_readable_file

        check_readable_file(args.input)
    classifier = TextClassifier.load(args.model)
    texts = _read_texts(args, classifier) if args.input else list(args.texts)
    if args.output:
        from textclf.data.tables import delimiter_for
        from textclf.artifacts.outputs import atomic_file

        with atomic_file(args.output, "w", encoding="utf-8", newline="") as handle:
            _write_csv(handle, classifier, texts, args, delimiter_for(args.output))
        from textclf.runtime.terminal import visible

        print(visible(f"explained {len(texts):,} texts: {args.output}"), file=sys.stderr)
        return 0
    style = args.format if args.format != "auto" else ("color" if sys.stdout.isatty() else "tsv")
    if style == "csv":
        _write_csv(sys.stdout, classifier, texts, args, ",")
        return 0
    for explanation in _explanations(classifier, texts, args):
        print(_render(explanation, style))
    return 0


def _read_texts(args, classifier):
    from textclf.data.tables import read_table
    from textclf.data.inputs import check_column

    column = args.text_column or classifier.metadata.get("text_column", "text")
    frame = read_table(args.input, encoding=args.encoding, columns=[column])
    texts = frame[column].tolist()
    check_column(texts, args.input, column)
    return texts


def _explanations(classifier, texts, args):
    for begin in range(0, len(texts), GROUP):
        yield from classifier.explain(texts[begin:begin + GROUP], batch_size=args.batch_size, max_spans=args.max_spans)


def _render(explanation, style):
    if style == "color":
        from textclf.inference.explain import shade_ansi

        return f"{explanation.label} ({explanation.probability:.3f}): {shade_ansi(explanation)}"
    lines = [f"{token}\t{score:.6f}" for token, score in zip(explanation.tokens, explanation.scores)]
    return "\n".join(lines) + "\n"


def _write_csv(handle, classifier, texts, args, delimiter):
    """One row per token: row (0-based text index), predicted label, its probability, position, token, score."""
    import csv

    writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["row", "predicted_label", "confidence", "position", "token", "score"])
    for row, explanation in enumerate(_explanations(classifier, texts, args)):
        for position, (token, score) in enumerate(zip(explanation.tokens, explanation.scores)):
            writer.writerow([row, explanation.label, f"{explanation.probability:.6f}", position, token, f"{score:.6f}"])
