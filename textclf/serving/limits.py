"""What a request to `textclf serve` must be: its limits, its options, its token.

No web framework here: `parse_predict_request` turns the raw body of
`POST /predict` into the texts and prediction options, or raises
`RequestError` with the HTTP status and a message naming the problem. Texts
pass the library's own checks (`textclf.data.inputs.check_texts`: a list of
strings, not one string) and the CLI's rule for empty cells
(`textclf.data.inputs.check_texts`); the options are `textclf predict`'s
(`--probabilities`, `--top-k`, `--threshold`, `--at-least-one`), decided by
the model's task (`Task.with_overrides`).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from pathlib import Path

from textclf.errors import ConfigError, TextclfError

OPTIONS = ("texts", "probabilities", "top_k", "threshold", "at_least_one")
# A JSON string may spell one character as an escaped surrogate pair ("\ud83d\ude00", 12 bytes).
BODY_BYTES_PER_CHARACTER = 12
BODY_BYTES_OVERHEAD = 64 * 1024


class RequestError(Exception):
    """A request the server refuses: `status` (4xx/5xx), a one-line `message`, extra JSON fields and headers."""

    def __init__(self, status, message, *, extra=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = " ".join(str(message).split())
        self.extra = extra or {}
        self.headers = headers or {}


@dataclass(frozen=True)
class Limits:
    """The limits of the server (each a `textclf serve` option).

    Args:
        max_texts: Most texts in one request (more: 413).
        max_chars: Most characters of all texts of one request together (more: 413).
        timeout: Seconds a request may take, queue included (longer: 504).
        max_batch_texts: Most texts gathered into one model call.
        max_wait: Seconds the batcher waits for more requests before calling the model.
        max_queue: Most requests waiting for the model (more: 503 with Retry-After).
    """

    max_texts: int = 256
    max_chars: int = 500_000
    timeout: float = 30.0
    max_batch_texts: int = 256
    max_wait: float = 0.002
    max_queue: int = 256

    def __post_init__(self):
        for name in ("max_texts", "max_chars", "max_batch_texts", "max_queue"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not self.timeout > 0:
            raise ConfigError(f"--timeout must be above 0 seconds, got {self.timeout}")
        if not self.max_wait >= 0:
            raise ConfigError(f"--max-wait-ms must be 0 or more, got {self.max_wait * 1000:g}")

    @property
    def max_body_bytes(self):
        """Most bytes of a request body: `max_chars` characters, each escaped at its longest, and the rest."""
        return self.max_chars * BODY_BYTES_PER_CHARACTER + BODY_BYTES_OVERHEAD

    def as_json(self):
        """The limits a client must keep, as the JSON of error answers and `/metadata` shows them."""
        return {"max_texts": self.max_texts, "max_chars": self.max_chars, "timeout_seconds": self.timeout}


@dataclass
class PredictRequest:
    """A valid `POST /predict`: its texts and `textclf predict`'s options."""

    texts: list
    probabilities: bool = False
    top_k: int = 0
    task: object = None  # the model's task with this request's overrides (`Task.with_overrides`)


def parse_predict_request(body, limits, classifier):
    """The texts and options of a `POST /predict` body.

    Args:
        body: The raw request body (bytes).
        limits: The server's `Limits`.
        classifier: The served `TextClassifier` (its classes bound `top_k`; its
            kind decides whether `threshold`/`at_least_one` apply).

    Returns:
        A `PredictRequest`.

    Raises:
        RequestError: 400 (not JSON), 413 (over a limit), 422 (anything else wrong).
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(400, f"the body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RequestError(422, 'the body must be a JSON object such as {"texts": ["some text"]}, '
                                f"not a JSON {type(data).__name__}")
    unknown = sorted(set(data) - set(OPTIONS))
    if unknown:
        raise RequestError(422, f"unknown field {unknown[0]!r}; the fields are {', '.join(OPTIONS)}")
    if "texts" not in data:
        raise RequestError(422, 'the field "texts" (a list of strings) is missing')
    texts = _check_texts(data["texts"], limits)
    request = PredictRequest(texts, probabilities=_flag(data, "probabilities", False),
                             top_k=_top_k(data.get("top_k", 0), len(classifier.classes_)))
    threshold, at_least_one = data.get("threshold"), _flag(data, "at_least_one", None)
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise RequestError(422, f"threshold must be a number between 0 and 1 or null, got {threshold!r}")
    try:
        request.task = classifier.task.with_overrides(threshold, at_least_one)
    except ConfigError as exc:
        raise RequestError(422, str(exc).replace("--threshold", "threshold").replace("--at-least-one",
                                                                                      "at_least_one")) from None
    return request


def _check_texts(texts, limits):
    """`texts` as a list of non-blank strings within the limits, or `RequestError`."""
    from textclf.data.inputs import check_texts

    if not isinstance(texts, (list, str)):
        raise RequestError(422, f"texts must be a list of strings, not a JSON {_json_type(texts)}")
    try:
        texts = check_texts(texts)
    except TextclfError as exc:
        raise RequestError(422, str(exc)) from None
    if not texts:
        raise RequestError(422, "texts is empty; send at least one text")
    if len(texts) > limits.max_texts:
        raise RequestError(413, f"{len(texts):,} texts in one request; the most is {limits.max_texts:,}",
                           extra={"limits": limits.as_json()})
    characters = sum(map(len, texts))
    if characters > limits.max_chars:
        raise RequestError(413, f"{characters:,} characters in one request; the most is {limits.max_chars:,}",
                           extra={"limits": limits.as_json()})
    return texts


def _flag(data, name, default):
    value = data.get(name, default)
    if value is not default and not isinstance(value, bool):
        allowed = "true or false" if default is not None else "true, false or null"
        raise RequestError(422, f"{name} must be {allowed}, got {value!r}")
    return value


def _top_k(value, classes):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= classes:
        raise RequestError(422, f"top_k must be a whole number between 0 and the number of classes ({classes}), "
                                f"got {value!r}")
    return value


def _json_type(value):
    names = {dict: "object", int: "number", float: "number", bool: "boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def read_token(path):
    """The access token in `path` (surrounding whitespace dropped).

    Raises:
        ConfigError: the file cannot be read, is empty, or holds more than one line.
    """
    path = Path(path)
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--token-file {path}: cannot be read ({exc.strerror or exc})") from None
    if not token or any(c.isspace() for c in token):
        raise ConfigError(f"--token-file {path}: must hold one token (a line without spaces)")
    return token


def token_matches(authorization, token):
    """Whether an `Authorization` header carries `Bearer <token>` (compared in constant time).

    Args:
        authorization: The header's value, or None.
        token: The expected token.
    """
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))
