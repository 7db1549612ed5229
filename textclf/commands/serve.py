"""Serve a saved model over HTTP: `POST /predict` with `{"texts": [...]}` answers one prediction per text.

Concurrent requests are gathered into one model call (micro-batching); a full
queue is answered 503 with Retry-After, a request over a limit 413, a
malformed one 400/422, a slow one 504, each with a JSON error. `GET /healthz`,
`GET /readyz` (model warmed up), `GET /metadata`; the OpenAPI document is at
`/openapi.json` and `/docs`. SIGTERM or Ctrl-C finishes the requests in
flight and exits 0. Needs the optional extra: pip install "textclf[serve]".
"""

from __future__ import annotations

HELP = "serve a saved model over HTTP (POST /predict), with batching, limits and graceful shutdown"


def add_arguments(parser):
    from textclf.commands import options

    options.add_model(parser)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0: every interface; put a TLS proxy in front)")
    parser.add_argument("--port", type=int, metavar="PORT", default=8000, help="TCP port (0: any free port, printed at start)")
    parser.add_argument("--token-file", metavar="FILE",
                        help="require `Authorization: Bearer <token>` with the token this file holds")
    parser.add_argument("--max-texts", type=int, metavar="N", default=256, help="most texts in one request (more: 413)")
    parser.add_argument("--max-chars", type=int, metavar="N", default=500_000,
                        help="most characters of all texts of one request together (more: 413)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="longest a request may take, waiting included (longer: 504)")
    parser.add_argument("--max-batch-texts", type=int, metavar="N", default=256,
                        help="most texts of concurrent requests gathered into one model call")
    parser.add_argument("--max-wait-ms", type=float, metavar="MS", default=2.0,
                        help="how long the first request of a batch waits for others to join it (no longer "
                             "once every open connection has a request in the batch)")
    parser.add_argument("--max-queue", type=int, metavar="N", default=256,
                        help="most requests waiting for the model (more: 503 with Retry-After)")
    options.add_quiet(parser, help="no access log (one line per request)")


def run(args):
    import sys

    from textclf.errors import ConfigError

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"`textclf serve` needs the serve extra ({exc.name} is missing): "
                          'pip install "textclf[serve]"') from None
    from textclf.inference.classifier import TextClassifier
    from textclf.serving.app import create_app, model_identity
    from textclf.serving.limits import Limits, read_token
    from textclf.serving.server import bind, configure_access_log, serve

    limits = Limits(max_texts=args.max_texts, max_chars=args.max_chars, timeout=args.timeout,
                    max_batch_texts=args.max_batch_texts, max_wait=args.max_wait_ms / 1000, max_queue=args.max_queue)
    token = read_token(args.token_file) if args.token_file else None
    sock = bind(args.host, args.port)  # a busy port is reported before the seconds spent loading the model
    try:
        classifier = TextClassifier.load(args.model)
        app = create_app(classifier, limits=limits, token=token, identity=model_identity(args.model))
    except BaseException:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    configure_access_log(enabled=not args.quiet)
    print(f"textclf: serving {args.model} on http://{shown}:{port} (POST /predict; /docs; "
          f"{'token required' if token else 'no token'}); Ctrl-C or SIGTERM stops", file=sys.stderr, flush=True)
    try:
        started = serve(app, sock, log_level="info" if args.verbose else "warning")
    finally:
        sock.close()
    if not started:
        raise ConfigError("the server did not start (see the lines above)")
    print("textclf: stopped", file=sys.stderr)
    return 0
