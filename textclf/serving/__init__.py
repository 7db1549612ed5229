"""`textclf serve`: a saved model behind an HTTP API (the optional `serve` extra: FastAPI and uvicorn).

The modules, leaves first: `limits` (the limits a request must keep and the
access token, no web framework), `batcher` (gathers the texts of concurrent
requests into one `TextClassifier.predict_proba` call, behind a bounded
queue), `app` (the FastAPI application: validation, errors as JSON, access
log, graceful shutdown). Nothing here is imported by `import textclf` or
`textclf --help`; `textclf.commands.serve` imports it when the command runs.
"""
