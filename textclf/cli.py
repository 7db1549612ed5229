"""The `textclf` command line: a thin layer over the library.

Each subcommand lives in `textclf/commands/<name>.py` and defines `HELP`,
`add_arguments(parser)` and `run(args) -> int`. Nothing here imports
TensorFlow, so `textclf --help` answers at once; commands import it lazily.

Errors textclf raises on purpose (`TextclfError`) are printed as one line on
standard error and exit with status 2, without a traceback. TensorFlow's own
C++ log lines are kept off standard error unless `--verbose` is given
(`textclf.quiet`).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from textclf import __version__
from textclf.errors import TextclfError
from textclf.quiet import quiet_tensorflow

COMMANDS = ("train", "predict", "evaluate", "export", "info", "merge-predictions", "explain", "compare", "tune")
EXIT_USAGE = 2


def _available_commands():
    for name in COMMANDS:
        try:
            yield name, importlib.import_module(f"textclf.commands.{name.replace('-', '_')}")
        except ModuleNotFoundError as exc:
            if exc.name != f"textclf.commands.{name.replace('-', '_')}":
                raise


class _Parser(argparse.ArgumentParser):
    """Usage errors as the one line `textclf: error: ...` (exit 2), like every other error."""

    def error(self, message):
        command = self.prog.split(" ", 1)[1] + ": " if " " in self.prog else ""
        message = " ".join(str(message).split())
        self.exit(EXIT_USAGE, f"textclf: error: {command}{message} (see `{self.prog} --help`)\n")


def _add_verbose(parser, default):
    parser.add_argument("--verbose", action="store_true", default=default,
                        help="also show TensorFlow's own log lines on standard error")


def build_parser():
    """The argument parser of `textclf` with every subcommand."""
    parser = _Parser(
        prog="textclf",
        description="Text classification with GloVe embeddings and recurrent heads (Keras 3).",
    )
    parser.add_argument("--version", action="version", version=f"textclf {__version__}")
    _add_verbose(parser, default=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in _available_commands():
        command = sub.add_parser(
            name, help=module.HELP, description=module.__doc__,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(command)
        _add_verbose(command, default=argparse.SUPPRESS)  # `textclf train ... --verbose` works too
        command.set_defaults(_run=module.run)
    return parser


def main(argv=None):
    """Runs `textclf` with `argv` (default: `sys.argv[1:]`).

    Returns:
        The exit status: 0 on success, 2 on bad input or usage.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        with quiet_tensorflow(enabled=not args.verbose):
            return args._run(args) or 0
    except TextclfError as exc:
        print(f"textclf: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("textclf: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
