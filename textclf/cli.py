"""The `textclf` command line: a thin layer over the library.

Each subcommand lives in `textclf/commands/<name>.py` and defines `HELP`,
`add_arguments(parser)` and `run(args) -> int`. Nothing here imports
TensorFlow, so `textclf --help` answers at once; commands import it lazily.

A command that writes declares its outputs (`outputs(args)`: `(path, kind,
inputs)` triples); they are claimed (`textclf.artifacts.outputs.claim`) before the
command runs, so a bad output is refused before any work.

Errors textclf raises on purpose (`TextclfError`) are printed as one line on
standard error and exit with status 2, without a traceback. SIGINT, SIGTERM
and SIGHUP remove the temporary files, print one line and exit with status
128 + the signal's number. TensorFlow's own
C++ log lines are kept off standard error unless `--verbose` is given
(`textclf.runtime.quiet`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys

from textclf import __version__
from textclf.commands.options import DEPRECATIONS, HelpFormatter, add_verbose
from textclf.errors import TextclfError
from textclf.runtime.quiet import quiet_tensorflow

COMMANDS = ("train", "predict", "evaluate", "export", "info", "explain", "compare", "serve", "tune")
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

    def parse_known_args(self, args=None, namespace=None):
        """Checks after parsing the required options that an old spelling may also give (`add_old_spelling`)."""
        later = self._required_after_parsing()
        with _required(later, False):
            namespace, extras = super().parse_known_args(args, namespace)
        missing = ["/".join(action.option_strings) for action in later if getattr(namespace, action.dest, None) is None]
        if missing:
            self.error(f"the following arguments are required: {', '.join(missing)}")
        return namespace, extras

    def format_help(self):
        """The help, which `--help` prints while parsing: those options are shown as required still."""
        with _required(self._required_after_parsing(), True):
            return super().format_help()

    def _required_after_parsing(self):
        return [action for action in self._actions if getattr(action, "required_after_parsing", False)]


@contextlib.contextmanager
def _required(actions, required):
    for action in actions:
        action.required = required
    try:
        yield
    finally:
        for action in actions:
            action.required = not required


def build_parser():
    """The argument parser of `textclf` with every subcommand."""
    parser = _Parser(
        prog="textclf",
        description="Text classification with GloVe embeddings and recurrent heads (Keras 3).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"textclf {__version__}")
    add_verbose(parser, default=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help="the command to run:")
    sub.required = True
    for name, module in _available_commands():
        command = sub.add_parser(
            name, help=module.HELP, description=module.__doc__,
            formatter_class=HelpFormatter,
        )
        module.add_arguments(command)
        add_verbose(command, default=argparse.SUPPRESS)  # `textclf train ... --verbose` works too
        command.set_defaults(_run=module.run, _outputs=getattr(module, "outputs", None))
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
    from textclf.artifacts.outputs import Terminated, claim_all, signals_as_exceptions

    try:
        with signals_as_exceptions(), quiet_tensorflow(enabled=not args.verbose):
            with claim_all(args._outputs(args) if args._outputs else ()):
                status = args._run(args) or 0
        for line in getattr(args, DEPRECATIONS, None) or ():
            print(line, file=sys.stderr)
        return status
    except TextclfError as exc:
        from textclf.runtime.terminal import visible

        print(f"textclf: error: {visible(exc)}", file=sys.stderr)  # paths, labels and texts are data
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("textclf: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Terminated as exc:
        print(f"textclf: terminated by {signal.Signals(exc.signum).name}; temporary files were removed",
              file=sys.stderr)
        return 128 + exc.signum


if __name__ == "__main__":
    sys.exit(main())
