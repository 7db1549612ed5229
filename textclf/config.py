"""Training configuration: one dataclass shared by the CLI and the library.

`TrainConfig.validate()` checks every parameter and raises `ConfigError`
naming the allowed values and what was received, the scikit-learn way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from textclf.errors import ConfigError
from textclf.models.heads import POOLINGS, check_pooling, head_names
from textclf.models.wide import WEIGHTINGS, WIDE_CHOICES

EMBEDDING_MODES = ("frozen", "finetune", "two-phase")
CLASS_WEIGHTS = ("none", "balanced")
OOV_POLICIES = ("random", "zeros")
DEFAULT_EMBEDDINGS = "glove-6b-50d"
DISTRIBUTE_MODES = ("none", "mirrored", "multi-worker")
SPLIT_BY = ("rows", "documents")
MEMBER_STARTS = ("scratch", "frozen")
ENSEMBLE_COMBINES = ("probabilities", "weights")
STOP_ON = ("mixed", "recurrent")


@dataclass
class TrainConfig:
    """Every setting of a training run; saved whole in `metadata.json`.

    See `textclf train --help` for the meaning of each field.
    """

    train: str
    test: Optional[str] = None
    validation: Optional[str] = None
    validation_split: float = 0.1
    validation_split_by: str = "documents"
    text_column: str = "text"
    label_column: str = "label"
    multi_label: bool = False
    label_separator: str = "|"
    at_least_one: bool = False
    encoding: str = "utf-8"
    embeddings: str = DEFAULT_EMBEDDINGS
    embedding_dim: Optional[int] = None
    embedding_mode: str = "two-phase"
    oov: str = "random"
    head: str = "bigru"
    units: Optional[int] = None  # None: textclf.models.ensemble.resolve_units
    layers: int = 1
    dropout: float = 0.3
    embedding_dropout: float = 0.1
    pooling: str = "max"
    max_tokens: int = 40000
    wide: str = "bigrams"
    wide_max_tokens: int = 200000
    wide_weighting: str = "auto"
    ensemble: Optional[int] = None
    member_start: str = "scratch"
    ensemble_combine: str = "probabilities"
    max_length: Optional[int] = None
    epochs: int = 20
    batch_size: Optional[int] = None  # None: textclf.training.batch.resolve_batch (by training-set size)
    learning_rate: Optional[float] = None  # None: likewise
    finetune_learning_rate: Optional[float] = None
    patience: int = 2
    min_delta: float = 1e-3
    stop_on: str = "mixed"
    class_weight: str = "none"
    seed: int = 42
    member_seed: Optional[int] = None  # None: `seed`; the validation split follows `seed` either way
    output: Optional[str] = None
    name: Optional[str] = None
    distribute: str = "none"

    def validate(self):
        """Raises `ConfigError` for the first invalid field."""
        _choice("embedding_mode", self.embedding_mode, EMBEDDING_MODES)
        _choice("pooling", self.pooling, POOLINGS)
        for name in head_names(self.head):
            check_pooling(name, self.pooling)
        _choice("class_weight", self.class_weight, CLASS_WEIGHTS)
        _choice("oov", self.oov, OOV_POLICIES)
        _choice("wide", self.wide, WIDE_CHOICES)
        _choice("wide_weighting", self.wide_weighting, WEIGHTINGS)
        _choice("distribute", self.distribute, DISTRIBUTE_MODES)
        _choice("validation_split_by", self.validation_split_by, SPLIT_BY)
        _choice("member_start", self.member_start, MEMBER_STARTS)
        _choice("ensemble_combine", self.ensemble_combine, ENSEMBLE_COMBINES)
        _choice("stop_on", self.stop_on, STOP_ON)
        for field in ("layers", "epochs", "max_tokens", "wide_max_tokens"):
            _positive_int(field, getattr(self, field))
        for field in ("units", "batch_size"):
            if getattr(self, field) is not None:
                _positive_int(field, getattr(self, field))
        if self.max_length is not None:
            _positive_int("max_length", self.max_length)
        if self.embedding_dim is not None:
            _positive_int("embedding_dim", self.embedding_dim)
        if self.ensemble is not None:
            _positive_int("ensemble", self.ensemble)
        if self.max_tokens < 3:
            raise ConfigError(f"max_tokens must be at least 3. Received: max_tokens={self.max_tokens}")
        _positive_int("patience", self.patience, allow_zero=True)
        if not isinstance(self.min_delta, (int, float)) or isinstance(self.min_delta, bool) or not self.min_delta >= 0:
            raise ConfigError(f"min_delta must be a number >= 0. Received: min_delta={self.min_delta!r}")
        for field in ("dropout", "embedding_dropout"):
            value = getattr(self, field)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"{field} must be in [0, 1). Received: {field}={value}")
        if not 0.0 < self.validation_split < 1.0:
            raise ConfigError(
                f"validation_split must be in (0, 1). Received: validation_split={self.validation_split}"
            )
        for field in ("learning_rate", "finetune_learning_rate"):
            value = getattr(self, field)
            if value is not None and not value > 0:
                raise ConfigError(f"{field} must be > 0. Received: {field}={value}")
        if not isinstance(self.label_separator, str) or not self.label_separator:
            raise ConfigError(f"label_separator must be a non-empty string. Received: "
                              f"label_separator={self.label_separator!r}")
        for field in ("multi_label", "at_least_one"):
            if not isinstance(getattr(self, field), bool):
                raise ConfigError(f"{field} must be True or False. Received: {field}={getattr(self, field)!r}")
        if self.at_least_one and not self.multi_label:
            raise ConfigError("at_least_one applies to multi-label models only; pass multi_label=True "
                              "(--multi-label) as well")
        for field in ("seed", "member_seed"):
            value = getattr(self, field)
            if (value is not None or field == "seed") and (not isinstance(value, int) or isinstance(value, bool)):
                raise ConfigError(f"{field} must be an integer. Received: {field}={value!r}")
        return self

    @property
    def first_member_seed(self):
        """The first ensemble member's seed (`member_seed`, else `seed`); the others follow it."""
        return self.seed if self.member_seed is None else self.member_seed

    def to_dict(self):
        """The configuration as a JSON-ready dict."""
        return dataclasses.asdict(self)


def config_fields():
    """Names of all `TrainConfig` fields."""
    return [f.name for f in dataclasses.fields(TrainConfig)]


def _choice(name, value, allowed):
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {allowed}. Received: {name}={value!r}")


def _positive_int(name, value, allow_zero=False):
    ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be an integer {bound}. Received: {name}={value!r}")
