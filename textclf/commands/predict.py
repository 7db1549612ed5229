"""Predict every row of a CSV/TSV file (optionally .gz; `-` for stdin), streamed in chunks.

With `--engine ray` the inputs (files, globs, directories or URIs of CSV/TSV/Parquet) are predicted
on Ray Data, on this machine or a cluster (`--address`), into a directory of part files.

The output holds every input row, in order, with all its columns (cells kept
as written, so an id `007` stays `007`), plus `predicted_label` and
`confidence` (and, on request, one `proba_<label>` column per class and the
top-k labels). A multi-label model writes `predicted_labels` instead: the
labels passing their thresholds, joined by the model's label separator in
label order (empty when none passes). It is written under a temporary name and renamed when
complete: an interrupted run never leaves a truncated file.
"""

from __future__ import annotations

from textclf.inference.classifier import BATCH_CHARACTERS_PER_ROW
from textclf.commands import options
from textclf.inference.batch_predictor import BAD_ROW_POLICIES, DEFAULT_BATCH_SIZE
from textclf.inference.prediction import DEFAULT_CHUNK_SIZE

HELP = "predict labels for every row of a CSV/TSV or Parquet file (streamed; any size)"


def add_arguments(parser):
    options.add_input(parser, required=True, old="INPUT", nargs="+",
                      help="CSV/TSV (.gz accepted) or Parquet file, or - for standard input (CSV); with --engine ray, one or "
                           "more files, globs, directories or URIs (s3://, gs://, file://...) of CSV/TSV/Parquet")
    options.add_model(parser)
    options.add_output(parser, required=True,
                       help="output CSV/TSV (tab-separated if named .tsv, gzipped if .gz), or - for standard output; "
                            "with --engine ray, a directory of part files")
    options.add_columns(parser, labels=False)
    parser.add_argument("--encoding", default="utf-8", help="text encoding of --input (the output is UTF-8)")
    parser.add_argument("--probabilities", action="store_true", help="add one proba_<label> column per class")
    parser.add_argument("--top-k", type=int, default=0, metavar="K",
                        help="add top1_label, top1_proba, ... topK_label, topK_proba")
    add_decision_arguments(parser)
    parser.add_argument("--on-bad-rows", choices=BAD_ROW_POLICIES, default="error",
                        help="empty or missing texts: stop with an error, or write the row with an empty prediction")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                        help=f"most rows per model batch (long texts: fewer, at most this x {BATCH_CHARACTERS_PER_ROW:,} "
                             "characters)")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, metavar="N",
                        help="rows read, predicted and written at a time (bounds memory)")
    ray = parser.add_argument_group("beyond one machine (--engine ray; needs pip install \"textclf[ray]\")")
    ray.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local: this process; ray: Ray Data, started here for the run or joined with --address")
    ray.add_argument("--address", metavar="ADDR",
                     help="a running Ray cluster to join: auto, or ray://HOST:PORT; without it, Ray starts here for "
                          "the run and stops after")
    ray.add_argument("--workers", type=options.auto(int), default=options.AUTO, metavar="N",
                     help="prediction workers (auto: one per CPU, one CPU kept for reading)")
    ray.add_argument("--output-format", choices=("parquet", "csv"), default="parquet",
                     help="format of the part files")
    options.add_quiet(parser, help="no progress bar and no summary line")


def add_decision_arguments(parser):
    """`--threshold` and `--at-least-one` (multi-label models; `evaluate` takes them too)."""
    import argparse

    parser.add_argument("--threshold", type=float, default=None, metavar="T",
                        help="multi-label models: one decision threshold for every label instead of the per-label "
                             "thresholds chosen on validation (default: the model's)")
    parser.add_argument("--at-least-one", action=argparse.BooleanOptionalAction, default=None,
                        help="multi-label models: give a text for which no label passes its most probable label "
                             "(default: as at training)")


def outputs(args):
    """The output file (not standard output), or with `--engine ray` the output directory, claimed before the
    model is loaded (`textclf.artifacts.outputs`)."""
    if args.engine == "ray":
        return [(args.output.removeprefix("file://"), "predictions", ())]
    return [(args.output, "file", tuple(args.input))]


def run(args):
    if args.engine == "ray":
        from textclf.inference.ray_engine import run_command

        return run_command(args)
    for name in ("address", "workers"):
        if getattr(args, name) is not None:
            from textclf.errors import ConfigError

            raise ConfigError(f"--{name} applies to --engine ray")
    return _run_local(args)


def _run_local(args):
    import os
    import sys
    import time

    from textclf.inference.classifier import TextClassifier
    from textclf.errors import ConfigError
    from textclf.inference.prediction import predict_file
    from textclf.runtime.progress import Progress

    inputs = args.input
    if len(inputs) != 1:
        raise ConfigError(f"--input takes one file here ({len(inputs)} given); several need --engine ray")
    args.input = inputs[0]
    if args.input != "-":
        from textclf.data.tables import check_readable_file

        check_readable_file(args.input)  # before the seconds spent loading TensorFlow
    started = time.monotonic()
    classifier = TextClassifier.load(args.model)
    total = None if args.input == "-" else os.path.getsize(args.input)
    progress = Progress(total, enabled=None if not args.quiet else False)
    result = predict_file(
        classifier, args.input, args.output, text_column=args.text_column, encoding=args.encoding,
        chunk_size=args.chunk_size, batch_size=args.batch_size, probabilities=args.probabilities, top_k=args.top_k,
        on_bad_rows=args.on_bad_rows, progress=progress, threshold=args.threshold, at_least_one=args.at_least_one,
    )
    if not args.quiet:
        seconds = time.monotonic() - started
        where = "standard output" if args.output == "-" else args.output
        from textclf.runtime.terminal import visible

        print(visible(f"textclf: predicted {result.predicted:,} rows in {seconds:.1f}s, wrote {where}"), file=sys.stderr)
    if result.skipped:
        print(f"textclf: {result.skipped:,} rows skipped (empty text; written without a prediction)",
              file=sys.stderr)
    return 0
