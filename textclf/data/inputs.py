"""The one check of the texts textclf is given, by the command line (files) and the library (sequences).

The rule, the same everywhere (`train`, `predict`, `evaluate`, `explain` and
`TextClassifier.predict`/`predict_proba`): a text is a string that is neither
empty, nor whitespace only, nor holding a NUL byte (the mark of a binary or
UTF-16 file read as text). Files name the offending row and column; the
library names the position, `texts[3]`.

A bare string is itself a sequence (of characters), so without this check
`predict("some text")` would classify every character. Like scikit-learn,
textclf refuses a single `str` or `bytes` where an iterable of texts is
expected. A missing text (`None`, NaN from pandas) or any other non-string item
is named by its position instead of failing deep inside TensorFlow. A 2-D
array of shape `(n, 1)` (one column of a table) is `n` texts; other shapes are
refused with a line naming the shape.
"""

from __future__ import annotations

from textclf.errors import InputDataError, InputTypeError

_SHOWN = 60  # characters of a refused value quoted in a message
EMPTY = "text is empty or whitespace only"
NUL = "contains a NUL byte (a binary or UTF-16 file? pass --encoding utf-16 for UTF-16 text)"


def _shown(value):
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def text_problem(text):
    """What is wrong with one text under textclf's rule, or None.

    Args:
        text: A `str`.

    Returns:
        `EMPTY` (empty or whitespace only), `NUL` (holds a NUL byte) or None.
    """
    if not text or text.isspace():
        return EMPTY
    if "\x00" in text:
        return NUL
    return None


def bad_text_masks(texts):
    """The rule over a pandas Series of strings, without a stripped copy of the texts.

    Returns:
        `(empty, nul)`: boolean NumPy arrays, empty-or-whitespace texts and texts holding a NUL byte.
    """
    empty = (texts.str.len().eq(0) | texts.str.isspace()).to_numpy(dtype=bool)
    nul = texts.str.contains("\x00", regex=False).to_numpy(dtype=bool)
    return empty, nul


def check_column(texts, path, column, *, offset=0):
    """Raises `InputDataError` at the first text of a file's column that breaks the rule.

    Args:
        texts: Sequence of cell values.
        path: The file, for the message.
        column: The column name, for the message.
        offset: Index of `texts[0]` among the file's records.
    """
    from textclf.data.tables import spreadsheet_row

    for i, text in enumerate(texts):
        problem = f"text is not a string (got {type(text).__name__})" if not isinstance(text, str) else text_problem(text)
        if problem:
            raise InputDataError(problem, file=path, row=spreadsheet_row(offset + i), column=column)


def _items(texts, name):
    """`texts` as a list (a column of shape (n, 1) flattened), or the `InputTypeError`/`InputDataError` of its shape."""
    if isinstance(texts, (str, bytes, bytearray)):
        raise InputTypeError(
            f"{name} must be a list of strings, not a single {type(texts).__name__}; for one text pass a list "
            f"holding it, e.g. [text]. Received: {_shown(texts)}"
        )
    shape = getattr(texts, "shape", None)
    if isinstance(shape, tuple) and len(shape) != 1:
        import numpy as np

        if len(shape) == 2 and shape[1] == 1:
            texts = np.asarray(texts, dtype=object).reshape(-1)  # one column of a table: n texts
        else:
            raise InputDataError(
                f"{name} must be one text per row: a 1-D array, or 2-D with one column (n, 1). "
                f"Received: an array of shape {shape}"
            )
    try:
        return list(texts)
    except TypeError:
        raise InputTypeError(
            f"{name} must be a list (or tuple, NumPy array, pandas Series) of strings. "
            f"Received: an object of type {type(texts).__name__}"
        ) from None


def check_texts(texts, name="texts", *, content=True):
    """`texts` as a list of `str`, or an error saying what is wrong and where.

    Args:
        texts: A list, tuple, NumPy array (1-D, or 2-D of shape (n, 1)), pandas
            Series or other iterable of `str` (NumPy's `str_` is a `str`).
        name: The argument's name in messages.
        content: Also apply the rule on each text (see the module doc); False
            checks types and shape only (the bare Keras model predicts any string).

    Returns:
        A new list holding the same strings.

    Raises:
        InputTypeError: `texts` is a single `str`/`bytes`, or not iterable
            (also a `TypeError`).
        InputDataError: an item is not a string (e.g. `None`), breaks the rule,
            or `texts` has another shape (also a `ValueError`).
    """
    items = _items(texts, name)
    for position, item in enumerate(items):
        if not isinstance(item, str):
            missing = " (a missing text)" if item is None or item != item else ""  # NaN != NaN
            raise InputDataError(
                f"{name}[{position}] is {_shown(item)}{missing}, of type {type(item).__name__}; every item must be "
                "a string (decode bytes, and drop or fill missing texts first)"
            )
        problem = text_problem(item) if content else None
        if problem:
            what = "is empty or whitespace only" if problem == EMPTY else "contains a NUL byte"
            raise InputDataError(f"{name}[{position}] {what} ({_shown(item)}); textclf refuses empty, "
                                 "whitespace-only and NUL-bearing texts, in files and in lists alike")
    return items
