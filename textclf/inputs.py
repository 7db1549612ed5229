"""The library's check of the texts it is given: a sequence of strings, refused at the door otherwise.

A bare string is itself a sequence (of characters), so without this check
`predict("some text")` would classify every character. Like scikit-learn,
textclf refuses a single `str` or `bytes` where an iterable of texts is
expected. A missing text (`None`, NaN from pandas) or any other non-string item
is named by its position instead of failing deep inside TensorFlow.
"""

from __future__ import annotations

from textclf.errors import InputDataError, InputTypeError

_SHOWN = 60  # characters of a refused value quoted in a message


def _shown(value):
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def check_texts(texts, name="texts"):
    """`texts` as a list of `str`, or an error saying what is wrong and where.

    Args:
        texts: A list, tuple, NumPy array, pandas Series or other iterable of
            `str` (NumPy's `str_` is a `str`).
        name: The argument's name in messages.

    Returns:
        A new list holding the same strings.

    Raises:
        InputTypeError: `texts` is a single `str`/`bytes`, or not iterable
            (also a `TypeError`).
        InputDataError: an item is not a string, e.g. `None` (also a `ValueError`).
    """
    if isinstance(texts, (str, bytes, bytearray)):
        raise InputTypeError(
            f"{name} must be a list of strings, not a single {type(texts).__name__}; for one text pass a list "
            f"holding it, e.g. [text]. Received: {_shown(texts)}"
        )
    try:
        items = list(texts)
    except TypeError:
        raise InputTypeError(
            f"{name} must be a list (or tuple, NumPy array, pandas Series) of strings. "
            f"Received: an object of type {type(texts).__name__}"
        ) from None
    for position, item in enumerate(items):
        if not isinstance(item, str):
            missing = " (a missing text)" if item is None or item != item else ""  # NaN != NaN
            raise InputDataError(
                f"{name}[{position}] is {_shown(item)}{missing}, of type {type(item).__name__}; every item must be "
                "a string (decode bytes, and drop or fill missing texts first)"
            )
    return items
