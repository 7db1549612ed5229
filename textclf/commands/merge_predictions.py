"""Reassemble the part files of `textclf predict --shard I/N` into one file, in input order.

Each part file has an index `<part>.shard.json` written next to it; the parts
may be given in any order, and all N must be present. The result is byte for
byte what one unsharded `textclf predict` writes.
"""

from __future__ import annotations

from textclf.commands import options

HELP = "merge the part files of `textclf predict --shard` into one file"


def add_arguments(parser):
    parser.add_argument("parts", nargs="+", metavar="PART", help="part files written by `textclf predict --shard`")
    options.add_output(parser, required=True, help="merged file (.gz compresses), or - for standard output")
    options.add_quiet(parser, help="no summary line")


def outputs(args):
    """The merged file (not standard output), claimed before the parts are read (`textclf.outputs`)."""
    return [(args.output, "file", tuple(args.parts))]


def run(args):
    import sys

    from textclf.prediction import merge_parts

    rows = merge_parts(args.parts, args.output)
    if not args.quiet:
        where = "standard output" if args.output == "-" else args.output
        from textclf.terminal import visible

        print(visible(f"textclf: merged {len(args.parts)} parts, {rows:,} rows, into {where}"), file=sys.stderr)
    return 0
