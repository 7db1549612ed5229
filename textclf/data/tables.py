"""Reading labeled text tables (CSV, TSV, optionally gzipped, or Parquet).

Every cell is read as a string so that labels such as `0`, `1` or `NA` keep
their spelling. Problems are reported as `InputDataError` with the file, the
row as a spreadsheet shows it (the header is row 1, the first record row 2)
and the column.
"""

from __future__ import annotations

import codecs
import csv
import os
from dataclasses import dataclass
from pathlib import Path

from textclf.errors import InputDataError

PARQUET_SUFFIXES = (".parquet", ".pq")
TSV_SUFFIXES = (".tsv", ".tab")


def _suffixes(path):
    name = os.fspath(path).lower()
    for comp in (".gz", ".bz2", ".xz", ".zst", ".zip"):
        if name.endswith(comp):
            name = name[: -len(comp)]
            break
    return name


def is_parquet(path):
    """Whether `path` names a Parquet file (by its extension)."""
    return _suffixes(path).endswith(PARQUET_SUFFIXES)


def delimiter_for(path):
    """The field delimiter implied by the file name: tab for .tsv/.tab, else comma."""
    return "\t" if _suffixes(path).endswith(TSV_SUFFIXES) else ","


def spreadsheet_row(record_index):
    """The 1-based spreadsheet row of the 0-based data record `record_index`."""
    return int(record_index) + 2


def check_readable_file(path):
    """Raises `InputDataError` unless `path` is an existing, readable file.

    Args:
        path: A path; `-` (standard input) is accepted as is.
    """
    if os.fspath(path) == "-":
        return
    p = Path(path)
    if not p.exists():
        raise InputDataError("file not found", file=path)
    if p.is_dir():
        raise InputDataError("is a directory, expected a data file", file=path)
    if not os.access(p, os.R_OK):
        raise InputDataError("file is not readable (permission denied)", file=path)
    if p.stat().st_size == 0:
        raise InputDataError("file is empty", file=path)


def csv_read_options(path, encoding="utf-8"):
    """Keyword arguments for `pandas.read_csv` that textclf uses everywhere.

    Args:
        path: The file (its name picks the delimiter and compression).
        encoding: Text encoding; "utf-8" also accepts a byte-order mark.

    Returns:
        A dict of keyword arguments.
    """
    return dict(
        sep=delimiter_for(path),
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        encoding="utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding,
        engine="c",
        quoting=csv.QUOTE_MINIMAL,
        compression="infer",
    )


# Longest first: a UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32 LE", "utf-32"), (codecs.BOM_UTF32_BE, "UTF-32 BE", "utf-32"),
         (codecs.BOM_UTF8, "UTF-8", "utf-8"), (codecs.BOM_UTF16_LE, "UTF-16 LE", "utf-16"),
         (codecs.BOM_UTF16_BE, "UTF-16 BE", "utf-16"))


def sniff_encoding(path):
    """What the first bytes of `path` say about its encoding, or None.

    Returns:
        `(description, encoding)`: e.g. `("a UTF-16 LE byte-order mark", "utf-16")`, or for text without a
        mark whose every other byte is NUL `("UTF-16 LE text without a byte-order mark", "utf-16-le")`.
    """
    name = os.fspath(path)
    if name == "-" or is_parquet(name) or not os.path.isfile(name):
        return None
    try:
        if name.lower().endswith(".gz"):
            import gzip

            with gzip.open(name, "rb") as handle:
                head = handle.read(64)
        else:
            with open(name, "rb") as handle:
                head = handle.read(64)
    except (OSError, EOFError):
        return None
    for mark, label, encoding in _BOMS:
        if head.startswith(mark):
            return f"a {label} byte-order mark", encoding
    even, odd = head[0::2], head[1::2]
    if len(head) >= 8 and odd.count(0) == len(odd) and 0 not in even:
        return "UTF-16 LE text without a byte-order mark", "utf-16-le"
    if len(head) >= 8 and even.count(0) == len(even) and 0 not in odd:
        return "UTF-16 BE text without a byte-order mark", "utf-16-be"
    return None


def encoding_hint(path, encoding):
    """` (the file starts with ...: pass --encoding X)` when its first bytes name another encoding, else ""."""
    sniffed = sniff_encoding(path)
    if sniffed is None or codecs.lookup(sniffed[1]).name == codecs.lookup(encoding).name:
        return ""
    return f" (its first bytes are {sniffed[0]}: pass --encoding {sniffed[1]})"


def translate_read_error(exc, path, encoding):
    """Turns a pandas/pyarrow read exception into a one-line `InputDataError`."""
    import pandas as pd

    if isinstance(exc, UnicodeDecodeError):
        hint = encoding_hint(path, encoding)
        return InputDataError(
            f"is not valid {encoding} text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start} of a block)"
            + (hint or "; pass --encoding with the file's encoding, e.g. --encoding latin-1 or --encoding cp1252"),
            file=path,
        )
    if isinstance(exc, pd.errors.EmptyDataError):
        return InputDataError("file has no header and no rows", file=path)
    if isinstance(exc, pd.errors.ParserError):
        import re

        text = " ".join(str(exc).split())
        match = re.search(r"EOF inside string starting at row (\d+)", text)
        if match:  # pandas counts the header as row 0
            return InputDataError(
                'unbalanced quote: the quoted cell starting on this row has no closing "; '
                'write a quote inside a quoted cell as ""',
                file=path, row=int(match.group(1)) + 1,
            )
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
        if match:  # lines are 1-based, like spreadsheet rows
            return InputDataError(
                f"has {match.group(3)} fields where the header has {match.group(1)} (an unquoted "
                f"delimiter in a cell? wrong delimiter?)", file=path, row=int(match.group(2)),
            )
        return InputDataError(f"cannot be parsed as {_kind(path)}: {text}", file=path)
    if isinstance(exc, (OSError, EOFError)):
        return InputDataError(f"cannot be read: {exc}", file=path)
    return InputDataError(f"cannot be read as {_kind(path)}: {exc}", file=path)


def _kind(path):
    if is_parquet(path):
        return "Parquet"
    return "TSV" if delimiter_for(path) == "\t" else "CSV"


def read_table(path, *, encoding="utf-8", columns=None):
    """Reads a whole table with every cell as a string.

    Args:
        path: CSV/TSV (optionally compressed) or Parquet file.
        encoding: Text encoding of CSV/TSV files.
        columns: If given, columns that must be present.

    Returns:
        A `pandas.DataFrame`.

    Raises:
        InputDataError: the file is missing, unreadable, malformed or lacks a column.
    """
    import pandas as pd

    check_readable_file(path)
    try:
        if is_parquet(path):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, **csv_read_options(path, encoding))
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one line
        raise translate_read_error(exc, path, encoding) from None
    check_header(frame.columns, path)
    for column in columns or ():
        require_column(frame.columns, column, path)
    return frame


def check_header(columns, path):
    """Raises `InputDataError` for duplicated column names (pandas would rename them)."""
    names = [str(c) for c in columns]
    seen = set()
    for name in names:
        base = name.rsplit(".", 1)[0] if "." in name else name
        if name in seen:
            raise InputDataError(f"column name {name!r} appears more than once", file=path, row=1)
        # pandas renames a repeated "text" to "text.1": report the original.
        if base != name and name.rsplit(".", 1)[1].isdigit() and base in names:
            raise InputDataError(f"column name {base!r} appears more than once", file=path, row=1)
        seen.add(name)


def require_column(columns, column, path):
    """Raises `InputDataError` listing the columns found if `column` is missing."""
    if column not in columns:
        found = ", ".join(repr(str(c)) for c in columns)
        hint = ""
        if len(columns) == 1 and ("\t" in str(columns[0]) or ";" in str(columns[0])):
            hint = " (the file seems to use another delimiter; name it .tsv for tabs)"
        if any("\x00" in str(c) for c in columns):
            hint = " (the header holds NUL bytes: is the file UTF-16? pass --encoding utf-16)"
        sniffed = sniff_encoding(path)
        if sniffed is not None and (hint or not str(columns[0]).isascii()):  # a mark read as other characters
            hint = f" (its first bytes are {sniffed[0]}: pass --encoding {sniffed[1]})"
        raise InputDataError(
            f"no column {column!r}; columns found: {found}{hint}", file=path, row=1, column=column
        )



@dataclass
class LabeledData:
    """Texts and their labels as read from one file."""

    texts: list
    labels: list
    path: str


def read_labeled(path, *, text_column="text", label_column="label", encoding="utf-8"):
    """Reads and checks a labeled table.

    Args:
        path: CSV/TSV (optionally compressed) or Parquet file.
        text_column: Column holding the texts.
        label_column: Column holding the labels.
        encoding: Text encoding of CSV/TSV files.

    Returns:
        A `LabeledData`.

    Raises:
        InputDataError: missing file or column, no rows, an empty text or label.
    """
    from textclf.data.inputs import NUL, check_column

    frame = read_table(path, encoding=encoding, columns=(text_column, label_column))
    if len(frame) == 0:
        raise InputDataError("has a header but no data rows", file=path)
    texts = frame[text_column].tolist()
    labels = frame[label_column].tolist()
    check_column(texts, path, text_column)  # the one text rule (textclf.data.inputs)
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            raise InputDataError(
                "label is empty", file=path, row=spreadsheet_row(i), column=label_column
            )
        if "\x00" in label:
            raise InputDataError(NUL, file=path, row=spreadsheet_row(i), column=label_column)
    return LabeledData(texts=texts, labels=[label.strip() for label in labels], path=str(path))
