"""Running the application: the listening socket, uvicorn, logging and graceful shutdown.

SIGTERM or SIGINT makes uvicorn stop accepting connections, wait for the
requests in flight (each bounded by the request timeout), then run the
application's shutdown (the batcher answers what is still queued) and
return; `serve` then returns 0. uvicorn re-raises the signal it caught once
it has shut down, so that the process dies of it; `serve` keeps that from
turning a clean stop into a non-zero exit status.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys

from textclf.errors import ConfigError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def bind(host, port):
    """A listening TCP socket on `host:port` (port 0: any free port).

    Raises:
        ConfigError: the address cannot be bound (in use, not this machine's, no permission).
    """
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(info[0], socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigError(f"--host {host}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def make_server(app, *, log_level="warning"):
    """A `uvicorn.Server` for `app` (its own access log off: `AccessLog` writes one line per request).

    The app's batcher (`app.state.batcher`, when it has one) is told how many client connections are open,
    so that a batch closes once every open connection has a request in it.
    """
    import uvicorn

    config = uvicorn.Config(app, access_log=False, log_level=log_level, lifespan="on", server_header=False)
    server = uvicorn.Server(config)
    batcher = getattr(getattr(app, "state", None), "batcher", None)
    if batcher is not None:
        batcher.open_connections = lambda: len(server.server_state.connections)
    return server


def configure_access_log(enabled=True, stream=None):
    """Sends the `textclf.serve` log (one line per request) to `stream` (default: standard error)."""
    logger = logging.getLogger("textclf.serve")
    logger.setLevel(logging.INFO if enabled else logging.WARNING)
    if not logger.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
    logger.propagate = False


@contextlib.contextmanager
def _signals_ignored_after_shutdown():
    # uvicorn installs its own handlers while it runs, restores these after, then raises the signal again.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(app, sock, *, log_level="warning"):
    """Serves `app` on `sock` until SIGTERM/SIGINT, then shuts down gracefully (main thread only).

    Returns:
        True when the server started and stopped cleanly, False when its startup failed.
    """
    server = make_server(app, log_level=log_level)
    with _signals_ignored_after_shutdown():
        server.run(sockets=[sock])
    return bool(server.started)
