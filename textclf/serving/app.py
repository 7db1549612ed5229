"""The HTTP application of `textclf serve` (FastAPI on uvicorn).

`POST /predict` answers what `TextClassifier.predict` answers, with the
columns `textclf predict` writes (`predicted_label`, `confidence`,
`proba_<label>`, `top<k>_label`/`top<k>_proba`; a multi-label model:
`predicted_labels`, as a list), computed by the same functions
(`textclf.inference.batch_predictor.prediction_values`, decided by the model's task). Every
refusal is a JSON object `{"error": ..., "status": ...}`; an unexpected
failure is logged on the server and answered 500 without its traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from pathlib import Path
from typing import Optional

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from textclf.serving.batcher import MicroBatcher, QueueFull
from textclf.serving.limits import Limits, RequestError, parse_predict_request, token_matches
from textclf.version import __version__

LOGGER = logging.getLogger("textclf.serve")
RETRY_AFTER_SECONDS = 1
WARM_UP_TEXTS = ["warm up"]
_LOG_KEY = "textclf.access"  # scope entry where the endpoint leaves the number of texts for the access log


class PredictBody(BaseModel):
    """The body of `POST /predict` (the schema shown in the OpenAPI document; parsed by `parse_predict_request`)."""

    texts: list[str] = Field(description="texts to classify (none empty or whitespace only)")
    probabilities: bool = Field(False, description="add proba_<label> for every label")
    top_k: int = Field(0, description="add top1_label, top1_proba, ... topK_label, topK_proba")
    threshold: Optional[float] = Field(None, description="multi-label models: one threshold for every label")
    at_least_one: Optional[bool] = Field(None, description="multi-label models: a text with no label passing "
                                                           "gets its most probable one (default: as at training)")


class Prediction(BaseModel):
    """The prediction of one text: `textclf predict`'s columns."""

    model_config = ConfigDict(extra="allow")
    predicted_label: Optional[str] = None
    confidence: Optional[float] = None
    predicted_labels: Optional[list[str]] = None


class ModelIdentity(BaseModel):
    textclf_version: str
    fingerprint: str


class PredictResponse(BaseModel):
    predictions: list[Prediction]
    model: ModelIdentity


class ErrorBody(BaseModel):
    error: str
    status: int


ERROR_RESPONSES = {status: {"model": ErrorBody, "description": text} for status, text in (
    (400, "not JSON"), (401, "missing or wrong token"), (413, "over a limit"), (422, "a field is wrong"),
    (503, "queue full; retry after Retry-After seconds"), (504, "timed out"))}


def model_identity(directory):
    """The served model's identity: the textclf version and a fingerprint of `model.keras` and `metadata.json`."""
    from textclf.inference.classifier import METADATA_FILE, MODEL_FILE

    digest = hashlib.sha256()
    for name in (MODEL_FILE, METADATA_FILE):
        with open(Path(directory) / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return {"textclf_version": __version__, "fingerprint": f"sha256:{digest.hexdigest()[:16]}"}


def create_app(classifier, *, limits=None, token=None, identity=None):
    """The FastAPI application serving `classifier`.

    Args:
        classifier: A `TextClassifier` (anything with its `predict_proba`,
            `classes_`, `metadata` and `task`).
        limits: `Limits` (default: the defaults).
        token: When given, every request but `/healthz` and `/readyz` must carry
            `Authorization: Bearer <token>`.
        identity: What `model_identity` returns (default: the version and "unknown").

    Returns:
        A `FastAPI` application; its lifespan starts and stops the batcher and warms the model up.
    """
    limits = limits or Limits()
    identity = identity or {"textclf_version": __version__, "fingerprint": "unknown"}
    batcher = MicroBatcher(_predict_and_decide(classifier), max_batch_texts=limits.max_batch_texts,
                           max_wait=limits.max_wait, max_queue=limits.max_queue)
    ready = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        batcher.start()
        warm_up = asyncio.create_task(_warm_up(batcher, ready))
        try:
            yield
        finally:
            await warm_up
            await asyncio.to_thread(batcher.stop)  # the requests still queued are answered first

    app = FastAPI(title="textclf", version=__version__, lifespan=lifespan,
                  description="A textclf model over HTTP: POST /predict {\"texts\": [...]}.")
    app.state.batcher = batcher  # the server tells it how many connections are open (`serving.server.serve`)
    _add_error_handlers(app)
    app.add_middleware(AccessLog)
    guard = [Depends(_token_check(token))] if token is not None else []
    _add_probes(app, batcher, ready)
    _add_metadata(app, classifier, limits, identity, guard)
    _add_predict(app, classifier, batcher, limits, identity, guard)
    return app


def _predict_and_decide(classifier):
    """The batcher's function: probabilities and the model's own decisions, both for a whole batch (deciding
    request by request cost more than the model: `Task.decide` runs TensorFlow ops)."""
    def predict(texts):
        probabilities = classifier.predict_proba(texts)
        return probabilities, classifier.task.decide(probabilities)

    return predict


async def _warm_up(batcher, ready):
    """Traces the model's function (seconds) before `/readyz` says ready."""
    try:
        await batcher.predict(WARM_UP_TEXTS)
    except Exception:  # noqa: BLE001 - logged; /readyz stays 503
        LOGGER.exception("textclf: the model failed on its warm-up text")
        return
    ready.set()


def _token_check(token):
    from fastapi.security import HTTPBearer

    bearer = HTTPBearer(auto_error=False)  # declares the scheme in the OpenAPI document

    async def check(request: Request, _=Depends(bearer)):
        if not token_matches(request.headers.get("authorization"), token):
            raise RequestError(401, "missing or wrong access token; send the header Authorization: Bearer <token>",
                               headers={"WWW-Authenticate": "Bearer"})

    return check


def _add_probes(app, batcher, ready):
    @app.get("/healthz", summary="alive")
    async def healthz():
        return {"status": "alive", "pending_requests": batcher.pending}

    @app.get("/readyz", summary="model loaded and warmed up", responses={503: {"model": ErrorBody}})
    async def readyz():
        if not ready.is_set():
            raise RequestError(503, "the model is warming up", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        return {"status": "ready"}


def _add_metadata(app, classifier, limits, identity, guard):
    metadata = classifier.metadata
    fitted = metadata.get("fitted") or {}
    described = {
        "labels": [str(label) for label in classifier.classes_],
        "task": classifier.task.to_config(),
        "text_column": metadata.get("text_column"),
        "metrics": fitted.get("metrics") or {},
        "fitted": fitted,
        "requested": metadata.get("requested") or {},
        "limits": limits.as_json(),
        "model": identity,
    }

    @app.get("/metadata", summary="labels, task, metrics and fitted choices", dependencies=guard,
             responses={401: ERROR_RESPONSES[401]})
    async def describe():
        return described


def _add_predict(app, classifier, batcher, limits, identity, guard):
    schema = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": PredictBody.model_json_schema()}}}}

    @app.post("/predict", summary="predict the labels of texts", response_model=PredictResponse,
              dependencies=guard, openapi_extra=schema, responses=ERROR_RESPONSES)
    async def predict(request: Request):
        started = time.monotonic()
        parsed = parse_predict_request(await _read_body(request, limits.max_body_bytes), limits, classifier)
        request.scope.get(_LOG_KEY, {})["texts"] = len(parsed.texts)
        left = limits.timeout - (time.monotonic() - started)
        try:
            probabilities, decisions = await asyncio.wait_for(batcher.predict(parsed.texts), max(left, 0.0))
        except QueueFull as exc:
            raise RequestError(503, f"the server is busy: {exc}; retry later",
                               headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
        except asyncio.TimeoutError:
            raise RequestError(504, f"no answer within the timeout of {limits.timeout:g} seconds",
                               extra={"limits": limits.as_json()}) from None
        if parsed.task is not classifier.task:  # this request's --threshold / --at-least-one
            decisions = parsed.task.decide(probabilities)
        return JSONResponse({"predictions": _records(classifier, probabilities, decisions, parsed),
                             "model": identity})


async def _read_body(request, limit):
    """The request body, refused (413) as soon as it is known to exceed `limit` bytes."""
    length = request.headers.get("content-length", "")
    too_large = RequestError(413, f"the body is over {limit:,} bytes")
    if length.isdigit() and int(length) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _records(classifier, probabilities, decisions, parsed):
    """One JSON object per text with `textclf predict`'s columns (multi-label: `predicted_labels` as a list),
    from the request's task's `decisions` (the columns and the label lists below both come from them)."""
    from textclf.inference.batch_predictor import prediction_values

    task = parsed.task
    columns = prediction_values(probabilities, None, [str(label) for label in classifier.classes_], task,
                                probabilities_columns=parsed.probabilities, top_k=parsed.top_k, decisions=decisions)
    # Plain Python values, row by row: no DataFrame for a handful of rows (it cost more than the model's share).
    names, values = list(columns), [np.asarray(column).tolist() for column in columns.values()]
    records = [dict(zip(names, row)) for row in zip(*values)]
    decided = task.prediction_columns()[0]
    for record, value in zip(records, task.values(decisions)):
        # A label set as a JSON list, not the CSV cell joined by the separator.
        record[decided] = value if isinstance(value, str) else list(value)
    return records


def _add_error_handlers(app):
    def answer(status, message, extra=None, headers=None):
        return JSONResponse({"error": message, "status": status, **(extra or {})}, status_code=status,
                            headers=headers)

    @app.exception_handler(RequestError)
    async def refused(request, exc):
        return answer(exc.status, exc.message, exc.extra, exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc):
        return answer(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        return answer(422, "; ".join(str(error.get("msg")) for error in exc.errors()) or "invalid request")

    @app.exception_handler(Exception)
    async def failed(request, exc):
        LOGGER.error("textclf: %s %s failed: %r", request.method, request.url.path, exc, exc_info=exc)
        return answer(500, "internal error (the server's log has the details)")


class AccessLog:
    """ASGI middleware: one log line per request (client, method, path, status, texts, milliseconds)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, line = time.monotonic(), {"status": 500, "texts": 0}
        scope[_LOG_KEY] = line

        async def send_logged(message):
            if message["type"] == "http.response.start":
                line["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            client = scope.get("client") or ("-", 0)
            path = scope.get("raw_path") or scope["path"].encode("utf-8", "backslashreplace")
            LOGGER.info('%s "%s %s" %d %d texts %.1f ms', client[0], scope["method"],
                        path.decode("ascii", "backslashreplace"), line["status"], line["texts"],
                        (time.monotonic() - started) * 1000)
