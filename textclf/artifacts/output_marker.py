"""Which existing directories textclf may replace: the marker it leaves in each, and the check against it.

Every directory textclf writes (a model, a reports directory, a SavedModel)
holds `.textclf-output.json`, naming its kind and every entry textclf wrote
below it. An existing directory is replaced only when it is empty, or when
its marker names the same kind and nothing beyond the listed entries exists
anywhere below it. Anything else (a directory with no marker, such as one
written before markers existed, or one holding a single file of the user's)
is refused with one line naming the first entry in the way: textclf cannot
tell its own files from the user's there, and it never deletes the user's.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from textclf.errors import InputDataError

MARKER = ".textclf-output.json"
FORMAT = 1
KINDS = ("model", "reports", "saved_model", "predictions")  # the last: `predict --engine ray`


def _walk(directory, prefix=""):
    """`(listed, shown)` for everything below `directory`, depth first in name order.

    `listed` is how the marker spells the entry ("a/b" for a file, "a/" for
    a directory), or None for a link or special file (never textclf's).
    Symbolic links are not followed.
    """
    with os.scandir(directory) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        relative = prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            yield relative + "/", relative + "/"
            yield from _walk(entry.path, relative + "/")
        elif entry.is_file(follow_symlinks=False):
            yield relative, relative
        else:
            yield None, relative


def write_marker(directory, kind):
    """Lists everything below `directory` (just written by textclf) in its marker.

    Args:
        directory: The finished temporary directory, about to be renamed into place.
        kind: One of `KINDS`.
    """
    entries = [listed for listed, _ in _walk(directory) if listed is not None and listed != MARKER]
    data = {"textclf_output": FORMAT, "kind": kind, "entries": entries}
    (Path(directory) / MARKER).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _read_marker(directory):
    """`(kind, entries)` of the marker in `directory`, None if there is none; raises if unreadable."""
    path = Path(directory) / MARKER
    if not path.is_file() or path.is_symlink():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        kind, entries = data["kind"], data["entries"]
        if data.get("textclf_output") != FORMAT or kind not in KINDS or not isinstance(entries, list):
            raise ValueError("unknown format")
        return kind, {str(entry) for entry in entries}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "unreadable", set()


def check_replaceable(path, kind, shown=None):
    """Raises `InputDataError` unless `path` is absent, empty, or textclf's own `kind` directory.

    Args:
        path: The output directory about to be written (links already resolved).
        kind: One of `KINDS`.
        shown: How the error names the path (default: `path`).
    """
    shown = path if shown is None else shown
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        raise InputDataError(
            f"exists and is not a directory (found a {'link' if stat.S_ISLNK(mode) else 'file'}); textclf writes "
            f"a {kind} directory here and never replaces anything else: choose another output path", file=shown,
        )
    first = next(_walk(path), None)
    if first is None:
        return  # empty: nothing to lose
    marker = _read_marker(path)
    if marker is None:
        raise InputDataError(
            f"holds {first[1]!r} and no {MARKER}, so textclf cannot tell its own files from yours (a directory "
            "written before textclf marked its outputs, or not by textclf); nothing was changed: delete or "
            "rename it yourself, or choose another output path", file=shown,
        )
    if marker[0] != kind:
        what = f"its {MARKER} cannot be read" if marker[0] == "unreadable" else f"it is a textclf {marker[0]} directory"
        raise InputDataError(f"{what}, not a {kind} directory textclf may replace; nothing was changed: choose "
                             "another output path", file=shown)
    for listed, relative in _walk(path):
        if listed != MARKER and listed not in marker[1]:
            raise InputDataError(
                f"holds {relative!r}, which textclf did not write; textclf never deletes the user's files, so "
                "nothing was changed: move it out or choose another output path", file=shown,
            )
