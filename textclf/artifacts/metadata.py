"""`metadata.json`: what a model directory records (schema 2), and reading older directories.

Schema 2 has three parts:

* the top level: the model's interface and provenance: `schema_version`,
  `textclf_version`, `keras_version`, `tensorflow_version`, `created`,
  `labels` (the order of the model's outputs), `text_column`, `label_column`,
  and `task` (what the outputs mean and how they are decided: `textclf.tasks`,
  e.g. `{"name": "multi_label", "separator": "|", "thresholds": {...}, "at_least_one": false}`);
* `requested`: the options as given (every `TrainConfig` field, `auto` and
  `null` included);
* `fitted`: what training chose: `max_length` and `max_chars` (with their rules), the vocabulary
  size, the embeddings and their coverage, the `members` (head, units, seed, epochs
  and phases, each with whether it was `kept`), the ensemble rule, the
  `ngram` branch (features, vocabulary size, C, weight, `kept`), the `split`
  (row counts and grouped rows as numbers), `training` (seconds, epochs, peak
  memory, the batch size and learning rate and their rule), `distribute`, `output` and the `metrics`.

Schema-1 directories (textclf 0.1 before this schema) are read through
`upgrade`, which rearranges their fields into schema 2 in memory.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from textclf.errors import ModelFileError

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
METADATA_FILE = "metadata.json"


def new(requested, fitted, *, labels, text_column, label_column, task):
    """A schema-2 metadata dict for a model trained now.

    Args:
        requested: The options as given (`TrainConfig.to_dict()` before any default was resolved).
        fitted: What training chose (see the module docstring).
        labels: The model's output order.
        text_column: Column of the texts.
        label_column: Column of the labels.
        task: The `task` block (`textclf.tasks.Task.to_config()`).
    """
    import keras
    import tensorflow as tf

    from textclf.version import __version__

    return {
        "schema_version": SCHEMA_VERSION,
        "textclf_version": __version__,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "labels": list(labels),
        "text_column": text_column,
        "label_column": label_column,
        "task": task,
        "requested": requested,
        "fitted": fitted,
    }


def read(directory):
    """`metadata.json` of a model directory, as stored, after checking its schema version and labels.

    Raises:
        ModelFileError: no directory or file, not JSON, an unknown schema version, no labels, or a field of the
            wrong type or shape (`schema_problem`): one line naming it.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(f"{directory}: model directory not found")
    path = directory / METADATA_FILE
    if not path.is_file():
        raise ModelFileError(f"{path}: file not found; is {directory} a textclf model directory?")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: has no 'labels' list")
    version = metadata.get("schema_version", 1)  # the first files had none
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        from textclf.version import __version__

        raise ModelFileError(
            f"{path}: schema_version {version!r} is not one textclf {__version__} reads {READABLE_VERSIONS}; "
            "the model was written by a newer textclf: upgrade textclf to load it"
        )
    if not isinstance(metadata.get("labels"), list) or not metadata["labels"]:
        raise ModelFileError(f"{path}: has no 'labels' list")
    problem = schema_problem(metadata, SCHEMA_1 if version == 1 else SCHEMA_2)
    if problem:
        raise ModelFileError(f"{path}: {problem}; the file was changed or damaged")
    return metadata


# The shape of what textclf reads back. A type, a tuple of types (None: null allowed), `[spec]` (a list of
# items of that spec), or a dict (an object whose listed keys, when present, follow their spec; others are free;
# "*": every value follows it).
# Missing keys stay allowed: files of older versions lack some.
_NUM = (int, float)
_PHASE = {"epochs": int, "best_epoch": (int, type(None)), "best_loss": _NUM, "best_val_loss": _NUM,
          "kept": bool, "embeddings": str, "monitor": (str, type(None))}
_MEMBER = {"head": str, "units": (int, type(None)), "seed": (int, type(None)), "epochs": int, "phases": [_PHASE]}
_COMMON = {"labels": [str], "text_column": str, "label_column": str, "textclf_version": str, "keras_version": str,
           "tensorflow_version": str, "created": str}
SCHEMA_2 = {
    **_COMMON,
    "requested": {"multi_label": bool, "label_separator": (str, type(None)), "head": (str, type(None)),
                  "units": (int, type(None)), "patience": int, "min_delta": _NUM},
    "fitted": {"max_length": (int, type(None)), "max_length_rule": (str, type(None)), "max_chars": (int, type(None)),
               "max_chars_rule": (str, type(None)), "vocabulary_size": int,
               "embeddings": {"dim": int, "vocabulary_types": int, "vocabulary_types_found": int},
               "members": [_MEMBER], "ensemble_rule": (str, type(None)),
               "ensemble_combine": (str, type(None)), "ngram": {"mode": str, "weight": (*_NUM, type(None)),
                                                                "vocabulary_size": (int, type(None)),
                                                                "validation_accuracy": {"*": (*_NUM, type(None))},
                                                                "validation_branch_log_loss": {"*": _NUM}},
               "split": dict, "training": {"batch_size": (int, type(None)), "learning_rate": (*_NUM, type(None))},
               "distribute": (dict, type(None)), "output": (str, type(None)), "metrics": dict,
               "thresholds": {"*": _NUM}, "at_least_one": bool},
}
SCHEMA_1 = {**_COMMON, "config": dict, "max_length": (int, type(None)), "embeddings": dict, "head": dict,
            "data": dict, "training": {"phases": [dict]}, "ensemble": {"heads": [str], "seeds": [int]},
            "wide": dict, "metrics": dict, "distribute": (dict, type(None))}

_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
          bool: "true or false", type(None): "null"}


def _found(value):
    if isinstance(value, bool):
        return "true or false"
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _expected(spec):
    if isinstance(spec, dict):
        return "an object"
    if isinstance(spec, list):
        return "a list"
    types = spec if isinstance(spec, tuple) else (spec,)
    names = list(dict.fromkeys("a number" if t in (int, float) and float in types else _NAMES[t] for t in types))
    return " or ".join(names)


def _fits(value, spec):
    if isinstance(spec, dict):
        return isinstance(value, dict)
    if isinstance(spec, list):
        return isinstance(value, list)
    types = spec if isinstance(spec, tuple) else (spec,)
    if isinstance(value, bool):
        return bool in types  # JSON true is not a number here
    return isinstance(value, types)


def schema_problem(value, spec, where=""):
    """What in `value` does not follow `spec` (see `SCHEMA_2`), as "'fitted.members[0]' should be ...", or None."""
    if not _fits(value, spec):
        return f"{where!r} should be {_expected(spec)}, found {_found(value)}"
    if isinstance(spec, dict):
        pairs = [(key, spec["*"]) for key in value] if "*" in spec else spec.items()
        for key, inner in pairs:
            if key in value:
                problem = schema_problem(value[key], inner, f"{where}.{key}" if where else key)
                if problem:
                    return problem
    elif isinstance(spec, list):
        for index, item in enumerate(value):
            problem = schema_problem(item, spec[0], f"{where}[{index}]")
            if problem:
                return problem
    return None


def load(directory):
    """`read(directory)` in schema 2 (`upgrade`d when older)."""
    return upgrade(read(directory))


def upgrade(metadata):
    """The metadata in schema 2: schema 2 as it is, schema 1 rearranged (a new dict; missing fields stay missing).

    A directory written before the `task` block existed gets one from its older
    fields (`requested.multi_label`, `requested.label_separator`,
    `fitted.thresholds`, `fitted.at_least_one`: `textclf.tasks.base.config_block`).
    """
    from textclf.tasks.base import config_block

    if metadata.get("schema_version", 1) == SCHEMA_VERSION:
        if "task" in metadata:
            return metadata
        return {**metadata, "task": config_block(metadata.get("requested"), metadata.get("fitted"))}
    config = dict(metadata.get("config") or {})
    embeddings = {k: v for k, v in (metadata.get("embeddings") or {}).items() if k not in ("mode", "oov")}
    data = metadata.get("data") or {}
    training = metadata.get("training") or {}
    fitted = {
        "max_length": metadata.get("max_length"),
        "embeddings": embeddings,
        "members": _members_v1(metadata, config),
        "ensemble_rule": (metadata.get("ensemble") or {}).get("rule"),
        "ensemble_combine": "probabilities" if len((metadata.get("ensemble") or {}).get("seeds") or []) > 1 else None,
        "ngram": _ngram_v1(metadata.get("wide") or {}),
        "split": {"train_rows": data.get("train_rows"), "validation_rows": data.get("validation_rows"),
                  "test_rows": data.get("test_rows"), "description": data.get("validation")},
        "training": {k: training[k] for k in ("seconds", "epochs", "peak_rss_mb") if k in training},
        "distribute": metadata.get("distribute"),
        "output": config.get("output"),
        "metrics": metadata.get("metrics") or {},
    }
    top = {k: metadata[k] for k in ("textclf_version", "keras_version", "tensorflow_version", "created",
                                    "labels", "text_column", "label_column") if k in metadata}
    return {"schema_version": SCHEMA_VERSION, "upgraded_from": metadata.get("schema_version", 1), **top,
            "task": config_block(config), "requested": config, "fitted": fitted}


def _members_v1(metadata, config):
    ensemble = metadata.get("ensemble") or {}
    heads = ensemble.get("heads") or [(metadata.get("head") or {}).get("name", config.get("head"))]
    seeds = ensemble.get("seeds") or [config.get("seed")]
    phases = (metadata.get("training") or {}).get("phases") or []
    units = (metadata.get("head") or {}).get("units", config.get("units"))  # schema 1: one size for all members
    members = []
    for index, (head, seed) in enumerate(zip(heads, seeds)):
        own = [{k: v for k, v in p.items() if k != "member"} for p in phases if p.get("member", 1) == index + 1]
        for phase in own:
            phase.setdefault("kept", True)
        members.append({"head": head, "units": units, "seed": seed, "epochs": sum(p.get("epochs", 0) for p in own),
                        "start": "scratch", "phases": own})  # schema 1 had no shared start
    return members


def _ngram_v1(wide):
    if wide.get("mode", "none") == "none":
        return {"mode": "none", "kept": False}
    return {**wide, "kept": bool(wide.get("weight"))}


def ngram_weight(metadata):
    """The n-gram branch's mixing weight recorded in `metadata` (either schema), or None."""
    return ((upgrade(metadata).get("fitted") or {}).get("ngram") or {}).get("weight")
