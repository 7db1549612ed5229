"""What textclf prints for people: user strings shown as data, never as terminal commands.

Label names, column names, paths and texts come from the user's files. A
control character among them (ESC starting a sequence that retitles or
clears the terminal, a carriage return hiding the start of a line, a bidi
override reordering what is read) would act on the terminal instead of being
shown. `visible` replaces each with its escape, written out (`\\x1b`,
`\\u202e`), so it is seen and nothing is executed. Every line textclf prints
about the user's data goes through it: `textclf info`, the one-line errors and
warnings, the training log and the closing lines of each command.
"""

from __future__ import annotations

import sys
import unicodedata

# Bidirectional embeddings, overrides and isolates (format characters that reorder the text shown).
_BIDI = {"\u200e", "\u200f", "\u061c", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


def _escape(char):
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text, *, keep_newlines=False):
    """`text` with every control character replaced by its written escape (`\\x1b`).

    Args:
        text: Any value; non-strings are shown with `str`.
        keep_newlines: Keep `\\n` (text printed as several lines); otherwise it is escaped too.

    Returns:
        A `str` safe to print to a terminal.
    """
    text = str(text)
    if text.isprintable() and not _BIDI.intersection(text):
        return text  # the common case, without a per-character pass
    return "".join(
        char if (char == "\n" and keep_newlines) or (char == " ")
        or not (unicodedata.category(char) == "Cc" or char in _BIDI) else _escape(char)
        for char in text
    )


def warn(message):
    """Prints `textclf: warning: <message>` as one visible line on standard error."""
    print(f"textclf: warning: {' '.join(visible(message).split())}", file=sys.stderr, flush=True)
