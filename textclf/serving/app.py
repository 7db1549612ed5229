"""The HTTP application of `textclf serve` (FastAPI on uvicorn; `POST /predict` a plain ASGI endpoint beside it).

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
import time
from pathlib import Path
from typing import Optional

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from textclf.serving import predict_endpoint
from textclf.serving.batcher import MicroBatcher
from textclf.serving.limits import Limits, RequestError, token_matches
from textclf.serving.predict_endpoint import (ACCESS_LOG_KEY, LOGGER, RETRY_AFTER_SECONDS, PredictEndpoint,
                                              error_response)
from textclf.version import __version__

WARM_UP_TEXTS = ["warm up"]


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


ERRORS = {400: "not JSON", 401: "missing or wrong token", 405: "not POST", 413: "over a limit",
          422: "a field is wrong", 500: "failed (the server's log has the details)",
          503: "queue full; retry after Retry-After seconds", 504: "timed out"}
ERROR_RESPONSES = {status: {"model": ErrorBody, "description": text} for status, text in ERRORS.items()}


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
        The ASGI application: `POST /predict` (`PredictEndpoint`) and the `FastAPI` app for every other path,
        whose lifespan starts and stops the batcher and warms the model up; both behind the access log. Its
        `state.batcher` is the batcher.
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
    app.state.batcher = batcher  # the server tells it how many connections are open (`serving.server.make_server`)
    _add_error_handlers(app)
    guard = [Depends(_token_check(token))] if token is not None else []
    _add_probes(app, batcher, ready)
    _add_metadata(app, classifier, limits, identity, guard)
    _document_predict(app, secured=token is not None)
    return AccessLog(Dispatch(app, PredictEndpoint(classifier, batcher, limits, identity, token)))


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


def _document_predict(app, *, secured):
    """Puts `POST /predict` (served by `PredictEndpoint`, not a FastAPI route) into the app's OpenAPI document."""
    generate = app.openapi

    def openapi():
        if app.openapi_schema is None:
            predict_endpoint.document(generate(), body_model=PredictBody, response_model=PredictResponse,
                                      error_model=ErrorBody, errors=ERRORS, secured=secured)
        return app.openapi_schema

    app.openapi = openapi


class Dispatch:
    """ASGI: `/predict` to its endpoint, everything else (lifespan included) to the FastAPI app."""

    def __init__(self, app, predict):
        self.app, self.predict, self.state = app, predict, app.state

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == predict_endpoint.PATH:
            await self.predict(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _add_error_handlers(app):
    answer = error_response

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
        self.app, self.state = app, getattr(app, "state", None)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, line = time.monotonic(), {"status": 500, "texts": 0}
        scope[ACCESS_LOG_KEY] = line

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
