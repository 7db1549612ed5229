"""The options every `textclf` command spells the same way, their old spellings, and how help shows defaults.

One function per idea, so no command can spell it its own way:

    -i/--input FILE   the table of texts a command reads (`-` for standard input where streamed)
    -m/--model DIR    a model directory written by `textclf train`
    -o/--output PATH  what the command writes
    -q/--quiet        no progress display
    --text-column, --label-column   the columns of texts and labels

Positional arguments are kept for lists of like things (texts, part files, runs). A renamed
option keeps its old spelling for one release: hidden from `--help`, it still works and says
once on standard error what replaces it. Options whose documented default is `auto` accept
`auto` and store None, which the library reads as "choose".
"""

from __future__ import annotations

import argparse

AUTO = "auto"
DEPRECATIONS = "_deprecations"  # where the parsed namespace keeps the old spellings it met


def auto(kind):
    """An argparse `type`: 'auto' -> None, else `kind(value)` (int or float).

    Args:
        kind: `int` or `float`.

    Returns:
        A function from the option's string to None or a number.
    """
    noun = "an integer" if kind is int else "a number"

    def parse(value):
        if value == AUTO:
            return None
        try:
            return kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected '{AUTO}' or {noun}. Received: {value!r}") from None

    return parse


class HelpFormatter(argparse.HelpFormatter):
    """Each option's default once, at the end of its help: `(default: X)` or `(required)`.

    Nothing is added to flags, to options without a default, or to help that states its
    default itself (`(default: the model's)`).
    """

    def _get_help_string(self, action):
        text = (action.help or "").replace(" (default: %(default)s)", "")  # BooleanOptionalAction adds it
        if action.required and action.option_strings:
            return f"{text} (required)"
        if "(default: " in text or not action.option_strings:
            return text
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)"


class _OldSpelling(argparse.Action):
    """A renamed option's old spelling: stores into the new option's destination and says so on stderr."""

    def __init__(self, option_strings, dest, new, old=None, as_list=False, **kwargs):
        self.new, self.old, self.as_list = new, old, as_list
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        # Said once the command has succeeded (`textclf.cli.main`): a failing run's stderr stays its one error line.
        deprecations = getattr(namespace, DEPRECATIONS, None) or []
        deprecations.append(f"textclf: warning: {option_string or self.old} is deprecated (removed in the next "
                            f"release); use {self.new}")
        setattr(namespace, DEPRECATIONS, deprecations)
        setattr(namespace, self.dest, [values] if self.as_list and not isinstance(values, list) else values)


def add_old_spelling(parser, new_action, old):
    """Keeps `old` (an option string, or a positional's metavar) working for `new_action`, hidden from help.

    A required `new_action` is then checked after parsing (`textclf.cli`'s parser), since the old
    spelling may stand for it.

    Args:
        parser: the command's parser.
        new_action: the action `parser.add_argument` returned for the new spelling.
        old: e.g. "--train", or "INPUT" for a positional argument.
    """
    new = max(new_action.option_strings, key=len)  # the long spelling
    as_list = new_action.nargs in ("+", "*")  # the value has the new spelling's shape
    if old.startswith("-"):
        parser.add_argument(old, dest=new_action.dest, action=_OldSpelling, new=new, metavar=new_action.metavar,
                            as_list=as_list)
    else:
        parser.add_argument(new_action.dest, nargs="?", default=argparse.SUPPRESS, action=_OldSpelling,
                            new=f"{new} {old}", old=f"the positional {old}", metavar=old, as_list=as_list)
    new_action.required_after_parsing = new_action.required


def add_input(parser, help, dest="input", metavar="FILE", old=None, **kwargs):
    """`-i/--input`: the table of texts the command reads.

    Args:
        parser: the command's parser (or an argument group).
        help: what the file is, for this command.
        dest: the attribute the value is stored in.
        metavar: how help names the value.
        old: an old spelling kept for one release (`add_old_spelling`).
        **kwargs: passed to `add_argument` (e.g. `required=True`).

    Returns:
        The argparse action.
    """
    action = parser.add_argument("-i", "--input", dest=dest, metavar=metavar, help=help, **kwargs)
    if old:
        add_old_spelling(parser, action, old)
    return action


def add_model(parser):
    """`-m/--model DIR` (required). Returns the argparse action."""
    return parser.add_argument("-m", "--model", required=True, metavar="DIR",
                               help="model directory written by `textclf train`")


def add_output(parser, help, dest="output", metavar="FILE", old=None, **kwargs):
    """`-o/--output`: what the command writes; arguments as for `add_input`. Returns the argparse action."""
    action = parser.add_argument("-o", "--output", dest=dest, metavar=metavar, help=help, **kwargs)
    if old:
        add_old_spelling(parser, action, old)
    return action


def add_quiet(parser, help="no progress display"):
    """`-q/--quiet`. Returns the argparse action."""
    return parser.add_argument("-q", "--quiet", action="store_true", help=help)


def add_columns(parser, text_default=None, label_default=None, labels=True):
    """`--text-column` and (with `labels`) `--label-column`; a None default means the model's column.

    Args:
        parser: the command's parser (or an argument group).
        text_default, label_default: the column names, or None for the model's.
        labels: whether the command reads labels.
    """
    for name, default, what in (("text", text_default, "texts"), ("label", label_default, "labels")):
        if name == "label" and not labels:
            continue
        shown = "" if default is not None else " (default: the model's)"
        parser.add_argument(f"--{name}-column", default=default, metavar="NAME", help=f"column of {what}{shown}")


def add_verbose(parser, default):
    """`-v/--verbose`, accepted before the command and after it. Returns the argparse action."""
    return parser.add_argument("-v", "--verbose", action="store_true", default=default,
                               help="also show TensorFlow's own log lines on standard error")
