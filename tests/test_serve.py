"""`textclf serve` over real HTTP on loopback: answers, refusals, batching, queue, timeout, token, SIGTERM."""

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import ROOT, make_texts

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

WAIT = 60  # seconds any wait below may take before the test fails


def call(address, method, path, body=None, headers=None):
    """One HTTP request; returns (status, headers, parsed JSON body)."""
    connection = http.client.HTTPConnection(*address, timeout=WAIT)
    try:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        raw = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw) if raw else None
    finally:
        connection.close()


def wait_until(condition, what):
    """Polls `condition()` (an HTTP call each time) until it holds; fails after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        threading.Event().wait(0.02)


def pending(address, headers=None):
    return call(address, "GET", "/healthz", headers=headers)[2]["pending_requests"]


def in_thread(function, *args):
    """Runs `function(*args)` in a thread; returns a callable giving its result (re-raising its error)."""
    box = {}

    def target():
        try:
            box["result"] = function(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()

    def result():
        thread.join(WAIT)
        assert not thread.is_alive(), "the request did not come back"
        if "error" in box:
            raise box["error"]
        return box["result"]

    return result


@contextlib.contextmanager
def running(classifier, token=None, **limits):
    """The app serving `classifier` on 127.0.0.1 (a free port) in a thread, ready; stopped on exit."""
    from textclf.serving.app import create_app
    from textclf.serving.limits import Limits
    from textclf.serving.server import bind, make_server

    sock = bind("127.0.0.1", 0)
    server = make_server(create_app(classifier, limits=Limits(**limits), token=token))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    address = sock.getsockname()[:2]
    try:
        wait_until(lambda: call(address, "GET", "/readyz")[0] == 200, "the warm-up")
        yield address
    finally:
        server.should_exit = True
        thread.join(WAIT)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


@pytest.fixture(scope="module")
def classifier(trained_model_dir):
    from textclf.inference.classifier import TextClassifier

    return TextClassifier.load(trained_model_dir)


@pytest.fixture(scope="module")
def server(classifier):
    with running(classifier, max_texts=4, max_chars=300) as address:
        yield address


def gated(classifier):
    """A `TextClassifier` on the same model that records the size of each model call and can hold one."""
    from textclf.inference.classifier import TextClassifier

    class Gated(TextClassifier):
        def __init__(self):
            super().__init__(classifier.model, classifier.metadata)
            self.calls, self.hold, self.entered, self.gate = [], False, threading.Event(), threading.Event()

        def predict_proba(self, texts, batch_size=256):
            self.calls.append(len(texts))
            if self.hold:  # the next call waits in the model until the test opens the gate
                self.hold = False
                self.entered.set()
                self.gate.wait(WAIT)
            return super().predict_proba(texts, batch_size)

    return Gated()


def texts_of(seed, n=8):
    return [text for text, _ in make_texts(n, seed=seed)]


def assert_answers(body, classifier, texts):
    """The answer holds `TextClassifier.predict`'s labels and `predict_proba`'s confidences for `texts`."""
    predictions = body["predictions"]
    assert [p["predicted_label"] for p in predictions] == classifier.predict(texts).tolist()
    np.testing.assert_allclose([p["confidence"] for p in predictions],
                               classifier.predict_proba(texts).max(axis=1), atol=1e-5)


def test_cli_help_imports_neither_the_server_nor_tensorflow():
    code = ("import sys, textclf, textclf.cli\n"
            "textclf.cli.build_parser().parse_args(['serve', '--model', 'm'])\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'fastapi', 'uvicorn', 'starlette', 'pydantic') "
            "if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=WAIT)


def test_predict_equals_the_classifier(server, classifier, trained_model_dir):
    texts = texts_of(5, n=4)
    status, _, body = call(server, "POST", "/predict", {"texts": texts, "probabilities": True, "top_k": 2})
    assert status == 200
    assert_answers(body, classifier, texts)
    labels = [str(label) for label in classifier.classes_]
    probabilities = classifier.predict_proba(texts)
    for prediction, row in zip(body["predictions"], probabilities):
        np.testing.assert_allclose([prediction[f"proba_{label}"] for label in labels], row, atol=1e-5)
        assert prediction["top1_label"] == prediction["predicted_label"]
        assert prediction["top2_label"] == labels[int(np.argsort(-row)[1])]
    assert body["model"]["textclf_version"] == __import__("textclf").__version__
    assert body["model"]["fingerprint"]
    status, _, metadata = call(server, "GET", "/metadata")
    assert status == 200 and metadata["labels"] == labels and metadata["task"]["name"] == "single_label"
    assert metadata["limits"]["max_texts"] == 4
    schema = call(server, "GET", "/openapi.json")[2]
    post = schema["paths"]["/predict"]["post"]
    assert "texts" in post["requestBody"]["content"]["application/json"]["schema"]["properties"]
    answer = post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "predictions" in schema["components"]["schemas"][answer]["properties"]  # the reference resolves
    assert {"400", "405", "413", "422", "503", "504"} <= set(post["responses"])
    assert call(server, "GET", "/healthz")[:1] == (200,)


BAD_REQUESTS = [
    (b"{not json", 400, "not valid JSON"),
    (b"\xff\xfe", 400, "not valid JSON"),
    ([{"texts": ["a"]}], 422, "JSON object"),
    ({}, 422, '"texts"'),
    ({"texts": "one bare string"}, 422, "not a single str"),
    ({"texts": {"a": "b"}}, 422, "list of strings"),
    ({"texts": ["fine", 3]}, 422, "texts[1]"),
    ({"texts": ["fine", None]}, 422, "missing"),
    ({"texts": []}, 422, "empty"),
    ({"texts": ["fine", ""]}, 422, "texts[1] is empty or whitespace"),
    ({"texts": ["fine", " \t\n"]}, 422, "texts[1] is empty or whitespace"),
    ({"texts": ["a dog"] * 5}, 413, "the most is 4"),
    ({"texts": ["x" * 301]}, 413, "the most is 300"),
    ({"texts": ["a dog"], "top_k": 99}, 422, "top_k"),
    ({"texts": ["a dog"], "top_k": "2"}, 422, "top_k"),
    ({"texts": ["a dog"], "probabilities": "yes"}, 422, "probabilities"),
    ({"texts": ["a dog"], "threshold": 0.3}, 422, "multi-label"),
    ({"texts": ["a dog"], "colour": "red"}, 422, "unknown field 'colour'"),
    (b'{"texts": ["' + b"x" * 70_000 + b'"]}', 413, "bytes"),
]


def test_every_bad_request_is_a_json_error_and_the_server_stays_up(server, classifier):
    for body, status, words in BAD_REQUESTS:
        got, _, answer = call(server, "POST", "/predict", body)
        assert (got, answer["status"]) == (status, status), (body, answer)
        assert words in answer["error"], (body, answer)
        assert "Traceback" not in json.dumps(answer)
    got, _, answer = call(server, "POST", "/predict", b"{}", headers={"Content-Length": "999999999"})
    assert got == 413 and "bytes" in answer["error"]
    status, headers, answer = call(server, "GET", "/predict")
    assert (status, answer["status"], headers["allow"]) == (405, 405, "POST")
    assert call(server, "GET", "/nowhere")[2] == {"error": "Not Found", "status": 404}
    texts = texts_of(6, n=3)
    status, _, body = call(server, "POST", "/predict", {"texts": texts})
    assert status == 200
    assert_answers(body, classifier, texts)


def test_concurrent_requests_share_one_model_call(classifier):
    model = gated(classifier)
    with running(model, max_batch_texts=256, max_wait=0) as address:
        before = len(model.calls)  # the warm-up
        model.hold = True
        first = in_thread(call, address, "POST", "/predict", {"texts": texts_of(0)})
        assert model.entered.wait(WAIT)
        batches = {seed: in_thread(call, address, "POST", "/predict", {"texts": texts_of(seed)}) for seed in (1, 2, 3)}
        wait_until(lambda: pending(address) == 4, "three requests queued behind the held one")
        model.gate.set()
        answers = {0: first(), **{seed: result() for seed, result in batches.items()}}
    assert model.calls[before:] == [8, 24]  # the three waiting requests went through the model together
    for seed, (status, _, body) in answers.items():
        assert status == 200
        assert_answers(body, classifier, texts_of(seed))


def test_a_batch_closes_once_every_open_connection_has_a_request_in_it(classifier):
    """Two keep-alive clients: the second's request closes the batch at once, long before --max-wait-ms."""
    model = gated(classifier)
    with running(model, max_batch_texts=256, max_wait=2 * WAIT) as address:  # waiting it out fails the test
        before = len(model.calls)
        second = http.client.HTTPConnection(*address, timeout=WAIT)  # open, and known to the server, first

        def on_second(method, path, body=None):
            second.request(method, path, body=json.dumps(body) if body else None,
                           headers={"Content-Type": "application/json"})
            response = second.getresponse()
            return response.status, json.loads(response.read())

        assert on_second("GET", "/healthz")[1]["pending_requests"] == 0
        first = in_thread(call, address, "POST", "/predict", {"texts": texts_of(0)})
        wait_until(lambda: on_second("GET", "/healthz")[1]["pending_requests"] == 1, "the first request gathered")
        status, body = on_second("POST", "/predict", {"texts": texts_of(1)})
        second.close()
        assert status == 200 and first()[0] == 200
    assert model.calls[before:] == [16]  # one model call for both, made before --max-wait-ms ran out
    assert_answers(body, classifier, texts_of(1))


def test_a_full_queue_is_answered_503_with_retry_after(classifier):
    model = gated(classifier)
    with running(model, max_queue=1) as address:
        model.hold = True
        held = in_thread(call, address, "POST", "/predict", {"texts": texts_of(0)})
        assert model.entered.wait(WAIT)
        queued = in_thread(call, address, "POST", "/predict", {"texts": texts_of(1)})
        wait_until(lambda: pending(address) == 2, "one request in the model and one queued")
        status, headers, body = call(address, "POST", "/predict", {"texts": texts_of(2)})
        model.gate.set()
        assert (status, body["status"]) == (503, 503) and int(headers["retry-after"]) >= 1
        assert "busy" in body["error"]
        assert held()[0] == 200 and queued()[0] == 200


def test_a_request_over_the_timeout_is_answered_504(classifier):
    model = gated(classifier)
    with running(model, timeout=0.5) as address:
        model.hold = True
        status, _, body = call(address, "POST", "/predict", {"texts": texts_of(0)})
        model.gate.set()
        assert (status, body["status"]) == (504, 504) and "timeout" in body["error"]
        status, _, body = call(address, "POST", "/predict", {"texts": texts_of(1)})
        assert status == 200
        assert_answers(body, classifier, texts_of(1))


def test_token_is_required_when_given(classifier):
    with running(classifier, token="s3cret-token") as address:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"},
                        {"Authorization": "Basic s3cret-token"}):
            status, answer_headers, body = call(address, "POST", "/predict", {"texts": ["a dog"]}, headers)
            assert (status, body["status"]) == (401, 401) and answer_headers["www-authenticate"] == "Bearer"
            assert call(address, "GET", "/metadata", headers=headers)[0] == 401
        good = {"Authorization": "Bearer s3cret-token"}
        assert call(address, "POST", "/predict", {"texts": ["a dog"]}, good)[0] == 200
        assert call(address, "GET", "/metadata", headers=good)[0] == 200
        assert call(address, "GET", "/healthz")[0] == 200  # probes stay open for the orchestrator


def test_cli_refuses_a_bad_token_file_and_a_busy_port(tmp_path, trained_model_dir, capsys):
    from textclf.cli import main
    from textclf.serving.server import bind

    empty = tmp_path / "token"
    empty.write_text("\n")
    assert main(["serve", "--model", str(trained_model_dir), "--token-file", str(empty), "--port", "0"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    busy = bind("127.0.0.1", 0)
    try:
        port = busy.getsockname()[1]
        assert main(["serve", "--model", str(trained_model_dir), "--port", str(port)]) == 2
    finally:
        busy.close()
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err


def test_sigterm_finishes_the_requests_in_flight_and_exits_0(tmp_path, trained_model_dir, classifier):
    token = tmp_path / "token"
    token.write_text("t0ken-for-test\n")
    token.chmod(0o600)
    process = subprocess.Popen(
        [sys.executable, "-m", "textclf", "serve", "--model", str(trained_model_dir), "--port", "0",
         "--token-file", str(token), "--max-wait-ms", "5000"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        first = process.stderr.readline()
        assert "serving" in first, first
        address = ("127.0.0.1", int(first.split("http://127.0.0.1:")[1].split()[0]))
        rest = in_thread(process.stderr.read)
        headers = {"Authorization": "Bearer t0ken-for-test"}
        wait_until(lambda: call(address, "GET", "/readyz")[0] == 200, "the warm-up")
        assert call(address, "POST", "/predict", {"texts": ["a dog"]})[0] == 401
        idle = http.client.HTTPConnection(*address, timeout=WAIT)  # open and idle: a batch cannot hold everyone's
        idle.request("GET", "/healthz")
        assert idle.getresponse().read()
        flying = {seed: in_thread(call, address, "POST", "/predict", {"texts": texts_of(seed)}, headers)
                  for seed in (1, 2, 3)}
        # The batcher waits up to 5 s for more texts (the idle connection might still send one): the three
        # requests are in flight when SIGTERM comes.
        wait_until(lambda: pending(address) == 3, "three requests in flight")
        process.send_signal(signal.SIGTERM)
        for seed, result in flying.items():
            status, _, body = result()
            assert status == 200
            assert_answers(body, classifier, texts_of(seed))
        assert process.wait(WAIT) == 0
        log = rest()
        idle.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert log.count('"POST /predict" 200 8 texts') == 3 and "Traceback" not in log
    assert "textclf: stopped" in log


def test_multi_label_answers_are_the_classifiers_label_sets():
    from textclf.inference.classifier import TextClassifier

    class Fixed(TextClassifier):
        """A multi-label classifier whose probabilities follow the text's length (no model needed)."""

        def predict_proba(self, texts, batch_size=256, *, validate=True):
            lengths = np.array([len(text) for text in texts], dtype=np.float32)[:, None]
            return ((lengths * np.array([[0.37, 0.61, 0.83]])) % 1.0).astype(np.float32)

    metadata = {"labels": ["a", "b", "c"], "requested": {"multi_label": True},
                "fitted": {"thresholds": {"a": 0.4, "b": 0.5, "c": 0.7}, "at_least_one": False}}
    classifier = Fixed(None, metadata)
    texts = ["x" * n for n in range(1, 12)]
    with running(classifier) as address:
        for options in ({}, {"threshold": 0.2}, {"threshold": 0.9, "at_least_one": True}):
            status, _, body = call(address, "POST", "/predict", {"texts": texts, **options})
            assert status == 200, body
            expected = classifier.predict(texts, **options)
            assert [p["predicted_labels"] for p in body["predictions"]] == [list(labels) for labels in expected]
        status, _, body = call(address, "POST", "/predict", {"texts": texts, "threshold": 1.5})
        assert status == 422 and "between 0 and 1" in body["error"]
        assert call(address, "GET", "/metadata")[2]["task"]["name"] == "multi_label"
