"""Compare runs side by side on one self-contained HTML page.

Each DIR is a model directory written by `textclf train` or a reports
directory written by `textclf evaluate`. The page shows the metrics of every
run, per-class F1 with each run's difference to the first, and the recorded
settings that differ.
"""

from __future__ import annotations

from textclf.commands import options

HELP = "compare runs (model or reports directories) side by side in one HTML page"


def add_arguments(parser):
    parser.add_argument("runs", nargs="+", metavar="DIR", help="model directories or reports directories")
    options.add_output(parser, required=True, help="HTML page to write, e.g. compare.html")


def outputs(args):
    """The HTML page, claimed before the runs are read (`textclf.artifacts.outputs`)."""
    return [(args.output, "file", ())]


def run(args):
    from textclf.evaluation.compare import write_comparison

    runs = write_comparison(args.runs, args.output)
    from textclf.runtime.terminal import visible

    print(visible(f"compared {len(runs)} runs: {args.output}"))
    return 0
