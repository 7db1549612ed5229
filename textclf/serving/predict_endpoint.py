"""`POST /predict` as a plain ASGI application, beside the FastAPI app that serves every other path.

The hot path of the server skips FastAPI's routing, dependencies and middleware: with 16 clients in lock-step
the model waits while the event loop answers one round of requests and reads the next, and that per-request
work was about a fifth of the server's rows/s (benchmarks/HISTORY.md, issue 35, "Session 4"). What the
endpoint does is what the FastAPI route did: the token, the body limit, `parse_predict_request`, the batcher,
the timeout, the records; every refusal is `{"error": ..., "status": ...}` and an unexpected failure is logged
here and answered 500 without its traceback. Its schema is in the app's OpenAPI document (`document`).
"""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np
from starlette.responses import JSONResponse

from textclf.serving.batcher import QueueFull
from textclf.serving.limits import RequestError, parse_predict_request, token_matches

LOGGER = logging.getLogger("textclf.serve")
RETRY_AFTER_SECONDS = 1
ACCESS_LOG_KEY = "textclf.access"  # scope entry where an endpoint leaves the number of texts for the access log
PATH = "/predict"


def error_response(status, message, extra=None, headers=None):
    """The JSON answer to a refused or failed request: `{"error": message, "status": status, **extra}`."""
    return JSONResponse({"error": message, "status": status, **(extra or {})}, status_code=status, headers=headers)


class PredictEndpoint:
    """The ASGI application answering `POST /predict` (see the module's text).

    Args:
        classifier: The served `TextClassifier`.
        batcher: The `MicroBatcher` running its model.
        limits: The server's `Limits`.
        identity: What `model_identity` returns.
        token: None, or the token every request must carry as `Authorization: Bearer <token>`.
    """

    def __init__(self, classifier, batcher, limits, identity, token=None):
        self.classifier, self.batcher, self.limits = classifier, batcher, limits
        self.identity, self.token = identity, token

    async def __call__(self, scope, receive, send):
        try:
            response = await self._answer(scope, receive)
        except RequestError as exc:
            response = error_response(exc.status, exc.message, exc.extra, exc.headers)
        except Exception as exc:  # noqa: BLE001 - logged here, never sent to the client
            LOGGER.error("textclf: %s %s failed: %r", scope["method"], PATH, exc, exc_info=exc)
            response = error_response(500, "internal error (the server's log has the details)")
        if response is not None:
            await response(scope, receive, send)

    async def _answer(self, scope, receive):
        """The response to one request (None when the client went away before its body was read)."""
        if scope["method"] != "POST":
            raise RequestError(405, "Method Not Allowed", headers={"Allow": "POST"})
        headers = dict(scope["headers"])
        if self.token is not None and not token_matches(_header(headers, b"authorization"), self.token):
            raise RequestError(401, "missing or wrong access token; send the header Authorization: Bearer <token>",
                               headers={"WWW-Authenticate": "Bearer"})
        started = time.monotonic()
        body = await _read_body(receive, _header(headers, b"content-length") or "", self.limits.max_body_bytes)
        if body is None:
            return None
        parsed = parse_predict_request(body, self.limits, self.classifier)
        scope.get(ACCESS_LOG_KEY, {})["texts"] = len(parsed.texts)
        left = self.limits.timeout - (time.monotonic() - started)
        try:
            probabilities, decisions = await asyncio.wait_for(self.batcher.predict(parsed.texts), max(left, 0.0))
        except QueueFull as exc:
            raise RequestError(503, f"the server is busy: {exc}; retry later",
                               headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
        except asyncio.TimeoutError:
            raise RequestError(504, f"no answer within the timeout of {self.limits.timeout:g} seconds",
                               extra={"limits": self.limits.as_json()}) from None
        if parsed.task is not self.classifier.task:  # this request's threshold / at_least_one
            decisions = parsed.task.decide(probabilities)
        return JSONResponse({"predictions": records(self.classifier, probabilities, decisions, parsed),
                             "model": self.identity})


def _header(headers, name):
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


async def _read_body(receive, length, limit):
    """The request body, refused (413) as soon as it is known to exceed `limit` bytes; None if the client left."""
    too_large = RequestError(413, f"the body is over {limit:,} bytes")
    if length.isdigit() and int(length) > limit:
        raise too_large
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def records(classifier, probabilities, decisions, parsed):
    """One JSON object per text with `textclf predict`'s columns (multi-label: `predicted_labels` as a list),
    from the request's task's `decisions` (the columns and the label lists below both come from them)."""
    from textclf.inference.batch_predictor import prediction_values

    task = parsed.task
    columns = prediction_values(probabilities, None, [str(label) for label in classifier.classes_], task,
                                probabilities_columns=parsed.probabilities, top_k=parsed.top_k, decisions=decisions)
    # Plain Python values, row by row: no DataFrame for a handful of rows (it cost more than the model's share).
    names, values = list(columns), [np.asarray(column).tolist() for column in columns.values()]
    rows = [dict(zip(names, row)) for row in zip(*values)]
    decided = task.prediction_columns()[0]
    for row, value in zip(rows, task.values(decisions)):
        # A label set as a JSON list, not the CSV cell joined by the separator.
        row[decided] = value if isinstance(value, str) else list(value)
    return rows


def document(schema, *, body_model, response_model, error_model, errors, secured):
    """Adds `POST /predict` to the OpenAPI document `schema` (a dict, changed in place).

    Args:
        schema: The FastAPI app's OpenAPI document.
        body_model, response_model, error_model: The pydantic models of the body, the answer and a refusal.
        errors: `{status: description}` of the refusals.
        secured: Whether the token is required (the app's `HTTPBearer` scheme).
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})

    def ref(model, mode):
        found = model.model_json_schema(mode=mode, ref_template="#/components/schemas/{model}")
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def content(model_schema):
        return {"application/json": {"schema": model_schema}}

    body = body_model.model_json_schema(mode="validation")  # inline: the body's fields at a glance
    answers = {"200": {"description": "one prediction per text", "content": content(ref(response_model,
                                                                                          "serialization"))}}
    error = ref(error_model, "serialization")
    answers.update({str(status): {"description": text, "content": content(error)} for status, text in errors.items()})
    operation = {"summary": "predict the labels of texts", "operationId": "predict",
                 "requestBody": {"required": True, "content": content(body)}, "responses": answers}
    if secured:
        operation["security"] = [{"HTTPBearer": []}]
    schema.setdefault("paths", {})[PATH] = {"post": operation}
    return schema
