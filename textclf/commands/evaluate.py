"""Evaluate a model on a labeled CSV/TSV file (streamed) and write the training reports.

Writes confusion_matrix.csv/.png and classification_report.json/.txt into
--output (replaced atomically) and prints accuracy and macro F1. Labels
the model never saw are reported (they count as errors), not a crash. A
multi-label model reads label cells joined by its separator and writes the
multi-label reports (`textclf.tasks.multilabel_reports`); there a label unknown to
the model is a one-line error.
"""

from __future__ import annotations

from textclf.commands import options
from textclf.inference.batch_predictor import BAD_ROW_POLICIES, DEFAULT_BATCH_SIZE
from textclf.inference.prediction import DEFAULT_CHUNK_SIZE

HELP = "evaluate a model on a labeled CSV/TSV file and write reports"


def add_arguments(parser):
    options.add_input(parser, required=True, old="INPUT",
                      help="labeled CSV/TSV (.gz accepted) or Parquet file, or - for standard input")
    options.add_model(parser)
    options.add_output(parser, dest="report_dir", metavar="DIR", required=True, old="--report-dir",
                       help="directory for the reports (replaced only if it is textclf's own earlier output)")
    options.add_columns(parser)
    parser.add_argument("--encoding", default="utf-8", help="text encoding of --input")
    from textclf.commands.predict import add_decision_arguments

    add_decision_arguments(parser)
    parser.add_argument("--on-bad-rows", choices=BAD_ROW_POLICIES, default="error",
                        help="rows with an empty text or label: stop with an error, or leave them out of the metrics")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N", help="rows per model batch")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, metavar="N", help="rows read at a time")
    options.add_quiet(parser, help="no progress bar")


def outputs(args):
    """The reports directory, claimed before anything is read (`textclf.artifacts.outputs`)."""
    return [(args.report_dir, "reports", ())]


def run(args):
    import os

    from textclf.inference.classifier import TextClassifier
    from textclf.evaluation.evaluate import evaluate_file
    from textclf.runtime.progress import Progress

    if args.input != "-":
        from textclf.data.tables import check_readable_file

        check_readable_file(args.input)
    classifier = TextClassifier.load(args.model)
    total = None if args.input == "-" else os.path.getsize(args.input)
    progress = Progress(total, enabled=None if not args.quiet else False)
    outcome = evaluate_file(
        classifier, args.input, args.report_dir, text_column=args.text_column, label_column=args.label_column,
        encoding=args.encoding, chunk_size=args.chunk_size, batch_size=args.batch_size,
        on_bad_rows=args.on_bad_rows, progress=progress, threshold=args.threshold, at_least_one=args.at_least_one,
    )
    m = outcome["metrics"]
    from textclf.evaluation.reports import metrics_line
    from textclf.runtime.terminal import visible

    print(visible(f"{metrics_line(m)} ({m['rows']:,} rows)"))
    if outcome["unseen"]:
        counts = ", ".join(f"{label!r} ({n:,} rows)" for label, n in outcome["unseen"].items())
        print(visible(f"labels the model never saw (counted as errors): {counts}"))
    if outcome["skipped"]:
        print(f"{outcome['skipped']:,} rows skipped (empty text or label)")
    print(visible(f"reports: {args.report_dir}"))
    return 0
