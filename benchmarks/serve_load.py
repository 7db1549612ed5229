"""Benchmark: `textclf serve` under concurrent clients against `textclf predict` on the same texts.

Texts are SST-2 test sentences (../shared/data/sst2/test.csv.gz, relative to
the repository root), repeated. Unless --model is given, a model with the
default architecture (three 32-unit bigru members, the n-gram branch) is trained
first on 3,000 SST-2 sentences, for one epoch only: prediction's cost depends on
the architecture, not on how long it was trained. Then, in subprocesses:

  * the baseline: `textclf predict` on all the texts as one CSV file; its
    rows/s is (rows - 1) / (seconds on the file - seconds on a 1-row file),
    so loading TensorFlow and the model is not counted;
  * `textclf serve --port 0 --quiet`, loaded by C concurrent clients (keep-alive
    connections on one asyncio loop, uvloop's when installed, in a separate
    process, for C in --clients),
    each sending --requests requests of --texts-per-request texts: rows/s,
    p50/p99 latency and the status counts (a 503 is "busy", any other non-200 an error);
  * both, --rounds times in turn (the server stays up): each round's ratio is
    serve's rows/s over that round's predict rows/s, and the median is printed;
  * memory: --memory-requests requests from 16 clients while the server's
    resident set is read from /proc every tenth of the run.

The clients run on the same machine as the server, so their CPU time is taken
from it: the serve figures are a lower bound.

    nice python benchmarks/serve_load.py                        # trains a model; 16 and 64 clients
    python benchmarks/serve_load.py --model models/sst2 --memory-requests 100000
"""

from __future__ import annotations

import argparse
import csv
import gzip
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SST2 = ROOT.parent / "shared" / "data" / "sst2"


def read_sentences(name):
    with gzip.open(SST2 / name, "rt", encoding="utf-8", newline="") as handle:
        return [(row["text"], row["label"]) for row in csv.DictReader(handle)]


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def train_model(directory, rows):
    """A model of `textclf train`'s default architecture on SST-2, one epoch (about 20 s on 2 cores)."""
    import textclf

    sentences = read_sentences("train.csv.gz")
    random.Random(0).shuffle(sentences)
    train = write_csv(directory / "train.csv", sentences[:rows])
    textclf.train(str(train), output=str(directory / "model"), epochs=1, patience=1,
                  embedding_mode="frozen")  # one phase: the saved model is the same as two-phase's
    return directory / "model"


def cli(*args):
    return [sys.executable, "-m", "textclf", *map(str, args)]


def baseline_rows_per_second(model, texts, directory, repeats=3):
    """`textclf predict`'s rows/s on `texts` as one file, without its start-up (a 1-row file's time).

    Each file is predicted `repeats` times, alternating, and the median time of each is used: the rate is a
    difference of two whole-process times, so one noisy run moved it by 15%."""
    runs = {"one": [], "all": []}
    for _ in range(repeats):
        for name, rows in (("one", texts[:1]), ("all", texts)):
            path = write_csv(directory / f"{name}.csv", [(text, "") for text in rows])
            started = time.perf_counter()
            subprocess.run(cli("predict", "--input", path, "--model", model, "--output", directory / f"{name}.out.csv",
                               "-q"), check=True, cwd=ROOT)
            runs[name].append(time.perf_counter() - started)
    seconds = {name: sorted(times)[len(times) // 2] for name, times in runs.items()}
    return (len(texts) - 1) / (seconds["all"] - seconds["one"])


def start_server(model, options=()):
    process = subprocess.Popen(cli("serve", "--model", model, "--port", "0", "--quiet", *options), cwd=ROOT,
                               stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()
    if "serving" not in line:
        process.kill()
        raise SystemExit(f"the server did not start: {line}{process.stderr.read()}")
    port = int(line.split("http://127.0.0.1:")[1].split()[0])
    threading.Thread(target=process.stderr.read, daemon=True).start()  # keep its pipe drained
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not get ready in 120 s")


def _request_bytes(texts):
    body = json.dumps({"texts": texts}).encode()
    return (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


async def _read_status(reader):
    """Reads one response (status line, headers, a Content-Length body); returns its status."""
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _client(port, requests, out, done):
    """One keep-alive connection sending each request in turn; appends (status, seconds)."""
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for request in requests:
        started = time.perf_counter()
        try:
            writer.write(request)
            status = await _read_status(reader)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            status = "connection error"
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        out.append((status, time.perf_counter() - started))
        with done.get_lock():
            done.value += 1
    writer.close()


def _load_process(port, batches, results, done):
    """The clients, in a process of their own (one event loop, one connection per client)."""
    import asyncio

    async def run():
        out = []
        requests = [[_request_bytes(texts) for texts in client] for client in batches]
        started = time.perf_counter()
        await asyncio.gather(*(_client(port, each, out, done) for each in requests))
        return out, time.perf_counter() - started

    try:  # uvloop (installed with the serve extra) when there: the clients take less of the server's CPU
        import uvloop
    except ImportError:
        uvloop = None
    results.put(uvloop.run(run()) if uvloop else asyncio.run(run()))


def load(port, texts, clients, requests, per_request, on_progress=None):
    """`clients` connections x `requests` requests of `per_request` texts, sent from a separate process
    (asyncio: the clients' Python does not share the server's interpreter); returns results and wall seconds."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    batches = [[[texts[(c * requests + r) * per_request % len(texts) + i] for i in range(per_request)]
                for r in range(requests)] for c in range(clients)]
    results, done = context.Queue(), context.Value("l", 0)
    process = context.Process(target=_load_process, args=(port, batches, results, done))
    process.start()
    if on_progress is not None:
        on_progress(done, clients * requests)
    out, seconds = results.get()
    process.join()
    return out, seconds


def _rounds(args, model, batch, directory, port, texts, clients):
    """--rounds rounds, each `textclf predict` on both files then every client count; the median ratio is printed.

    The machine's speed drifts by 15% from minute to minute, so each ratio is taken within one round."""
    import statistics

    ratios = {count: [] for count in clients}
    print("\n| round | predict rows/s | clients | texts/request | rows/s | vs predict | p50 ms | p99 ms | statuses |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for number in range(1, args.rounds + 1):
        baseline = baseline_rows_per_second(model, batch, directory, args.baseline_repeats)
        for count in clients:
            figures = summarize(*load(port, texts, count, args.requests, args.texts_per_request),
                                args.texts_per_request)
            ratios[count].append(figures["rows_per_s"] / baseline)
            print(f"| {number} | {baseline:,.0f} | {count} | {args.texts_per_request} | {figures['rows_per_s']:,.0f} | "
                  f"{ratios[count][-1]:.2f} | {figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} | "
                  f"{json.dumps(figures['statuses'])} |", flush=True)
    for count in clients:
        print(f"{count} clients: median ratio to predict {statistics.median(ratios[count]):.2f} over "
              f"{args.rounds} rounds ({len(batch):,} rows in predict's file)", flush=True)
    return ratios


def summarize(results, seconds, per_request):
    ok = sorted(latency for status, latency in results if status == 200)
    statuses = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    def quantile(q):
        return ok[min(len(ok) - 1, int(q * len(ok)))] * 1000 if ok else float("nan")

    return {"rows_per_s": len(ok) * per_request / seconds, "p50_ms": quantile(0.50), "p99_ms": quantile(0.99),
            "statuses": statuses}


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_run(process, port, texts, requests, per_request):
    """Resident set of the server at each tenth of `requests` requests from 16 clients."""
    samples = [(0, rss_mb(process.pid))]

    def follow(done, total):
        step = max(1, total // 10)
        while done.value < total:
            time.sleep(0.1)
            if done.value >= step * len(samples):
                samples.append((done.value, rss_mb(process.pid)))
        samples.append((done.value, rss_mb(process.pid)))

    results, seconds = load(port, texts, 16, requests // 16, per_request, on_progress=follow)
    return samples, results, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model directory (default: train a small one on SST-2)")
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--requests", type=int, default=100, help="requests per client in the load runs")
    parser.add_argument("--texts-per-request", type=int, default=8)
    parser.add_argument("--memory-requests", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, default=102_400, help="least rows in predict's file")
    parser.add_argument("--baseline-repeats", type=int, default=1, help="predict runs of each file in a round (median)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of predict, then the clients (median ratio)")
    parser.add_argument("--serve-options", default="", metavar="OPTIONS",
                        help="more `textclf serve` options, as one string (e.g. \"--max-batch-texts 64\")")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    per_request = args.texts_per_request
    texts = [text for text, _ in read_sentences("test.csv.gz")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model or train_model(tmp, 3000)
        clients = [int(c) for c in args.clients.split(",")]
        # At least --baseline-rows: on a small file the difference from the 1-row file is mostly noise.
        total = max(args.baseline_rows, max(clients) * args.requests * per_request)
        batch = (texts * (total // len(texts) + 1))[:total]
        process, port = start_server(model, args.serve_options.split())
        try:
            load(port, texts, 4, 20, per_request)  # warm: connections, first batches
            _rounds(args, model, batch, tmp, port, texts, clients)
            if args.memory_requests:
                samples, results, seconds = memory_run(process, port, texts, args.memory_requests, per_request)
                figures = summarize(results, seconds, per_request)
                print(f"\nmemory over {len(results):,} requests ({figures['rows_per_s']:,.0f} rows/s, statuses "
                      f"{json.dumps(figures['statuses'])}): RSS MB at requests "
                      + ", ".join(f"{n:,}: {mb:.0f}" for n, mb in samples))
                tenth = samples[min(1, len(samples) - 1)][1]
                print(f"growth from the first tenth to the end: {samples[-1][1] - tenth:+.0f} MB")
        finally:
            process.send_signal(__import__("signal").SIGTERM)
            code = process.wait(120)
            print(f"\nserver exit status after SIGTERM: {code}")


if __name__ == "__main__":
    main()
