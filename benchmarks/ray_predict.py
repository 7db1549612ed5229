"""`textclf predict --engine ray` against local `textclf predict`, 1 vs 2 workers, peak memory per worker.

    python benchmarks/ray_predict.py [--model DIR] [--train-rows 3000] [--local-rows 20000] [--scale-rows 100000]
                                     [--memory-rows 100000 500000]

1. Whole-process time of both commands on `--local-rows` IMDB test reviews (Ray started by the command),
   and the largest difference of their probabilities (target: ratio <= 1.25, difference <= 1e-5).
2. Rows/s of one worker of one CPU and of two on `--scale-rows` rows, start-up excluded (rows done after
   the first batch over the time from the first batch to the last) (target: >= 1.7x).
3. Memory of each worker over `--memory-rows` rows (target: flat): peak resident set, and apart from it the
   worker's own memory (RssAnon) and the pages of Ray's object store it has mapped (RssShmem).

Without `--model`, the default model is trained on 3,000 IMDB training reviews first. Parts 2 and 3 use
`--scale-model`, by default a small model trained on the same reviews (one 16-unit bigru, 64 tokens): it
predicts about 4x the default model's rows/s (4,200 against 970 IMDB rows/s per worker of one CPU), which keeps
the 500,000-row run short and makes scaling harder (less work per row to hide the engine's overhead); pass the
default model as `--scale-model` to measure its scaling too.
"""

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
IMDB = ROOT.parent / "shared" / "data" / "imdb"


def _imdb(split, rows, directory):
    """`rows` IMDB reviews of `split` (shuffled, repeated when fewer) as a CSV with a `text` column.

    The files list every negative review before every positive one: the rows are taken in a fixed
    shuffled order, so a training sample holds both classes.
    """
    frame = pd.read_csv(next(IMDB.glob(f"{split}.csv*")), dtype=str, keep_default_na=False)
    order = np.random.default_rng(0).permutation(len(frame))
    frame = frame.iloc[order[np.arange(rows) % len(frame)]].reset_index(drop=True)
    path = Path(directory) / f"{split}_{rows}.csv"
    frame.to_csv(path, index=False)
    return path


def _timed(command):
    started = time.monotonic()
    subprocess.run(command, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.monotonic() - started


def local_vs_ray(model, rows, tmp):
    data = _imdb("test", rows, tmp)
    base = [sys.executable, "-m", "textclf", "predict", "-i", str(data), "-m", str(model), "-q", "--probabilities"]
    local = _timed(base + ["-o", str(tmp / "local.csv")])
    ray = _timed(base + ["-o", str(tmp / "ray_out"), "--engine", "ray"])
    a = pd.read_csv(tmp / "local.csv")
    b = pd.concat([pd.read_parquet(p) for p in sorted((tmp / "ray_out").glob("*.parquet"))])
    b = b.sort_values("row").reset_index(drop=True)
    proba = [c for c in a.columns if c.startswith("proba_")]
    diff = float(np.abs(a[proba].to_numpy() - b[proba].to_numpy()).max())
    print(f"local vs ray, {rows:,} rows: local {local:.1f}s, ray {ray:.1f}s, ratio {ray / local:.2f} "
          f"(target <= 1.25); max |proba difference| {diff:.2e} (CSV rounds to 1e-6)")


class _MeasuredPredict:
    """The engine's predictor actor as `textclf predict` runs it (writing its parts), adding this worker's peak
    RSS (MiB) to each block's row count."""

    def __init__(self, **kwargs):
        from textclf.inference.ray_engine import _Predict

        self.inner = _Predict(**kwargs)

    def __call__(self, batch):
        out = self.inner(batch)  # the block's row count: the actor wrote the block's part
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        status = _proc_status()
        # The resident set counts the pages of Ray's shared object store that this worker has read (RssShmem):
        # they grow with the rows that pass, though they belong to the store. RssAnon is the worker's own memory.
        out["anon_mib"], out["shmem_mib"] = status.get("RssAnon", 0) / 1024, status.get("RssShmem", 0) / 1024
        out["worker_pid"] = os.getpid()
        out["done_at"] = time.time()
        return out[["rows", "peak_rss_mib", "anon_mib", "shmem_mib", "worker_pid", "done_at"]]


def _proc_status():
    """`/proc/self/status` memory lines in KiB (Linux)."""
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                values[name] = int(rest.split()[0])
    return values


def _run(ray, model, path, workers):
    import shutil

    from textclf.inference.ray_engine import _PartWriter, read_inputs

    parts = path.parent / "parts"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir()
    dataset = read_inputs([str(path)], text_column="text", chunk_size=2048)
    predicted = dataset.map_batches(
        _MeasuredPredict, batch_size=2048, batch_format="pandas", num_cpus=1,
        compute=ray.data.ActorPoolStrategy(size=workers),
        fn_constructor_kwargs=dict(model=str(model), threads=1, options={},
                                   parts=_PartWriter(parts, "parquet", [str(path)])),
    )
    stats = predicted.to_pandas()
    del dataset, predicted  # the executor holds the actors (and their CPUs) in cycles: freed before the next run
    gc.collect()
    print(f"  {workers} worker(s) asked, {stats.worker_pid.nunique()} predicted", flush=True)
    # Rows/s from the first batch done to the last: start-up (Ray, actors, the model's load) excluded.
    first, last = stats.done_at.min(), stats.done_at.max()
    rate = int(stats.rows[stats.done_at > first].sum()) / max(last - first, 1e-9)
    return rate, stats.groupby("worker_pid")[["peak_rss_mib", "anon_mib", "shmem_mib"]].max()


def scaling_and_memory(model, scale_rows, memory_rows, tmp):
    import ray

    ray.init(num_cpus=3, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        big = _imdb("test", scale_rows, tmp)
        rates = {}
        for workers in (1, 2):
            rates[workers], _ = _run(ray, model, big, workers)
            print(f"{workers} worker(s) of 1 CPU: {rates[workers]:,.0f} rows/s on {scale_rows:,} rows")
        print(f"2 vs 1 workers: {rates[2] / rates[1]:.2f}x (target >= 1.7)")
        for rows in memory_rows:
            _, peaks = _run(ray, model, _imdb("test", rows, tmp), 2)
            print(f"{rows:,} rows, per worker: peak RSS {', '.join(f'{p:,.0f}' for p in peaks.peak_rss_mib)} MiB; "
                  f"largest own memory (RssAnon) {', '.join(f'{p:,.0f}' for p in peaks.anon_mib)} MiB; "
                  f"largest object-store pages (RssShmem) {', '.join(f'{p:,.0f}' for p in peaks.shmem_mib)} MiB")
    finally:
        ray.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--scale-model", help="model of parts 2 and 3 (default: a small one, see above)")
    parser.add_argument("--train-rows", type=int, default=3_000)
    parser.add_argument("--local-rows", type=int, default=20_000)
    parser.add_argument("--scale-rows", type=int, default=100_000)
    parser.add_argument("--memory-rows", type=int, nargs="*", default=[100_000, 500_000])
    parser.add_argument("--skip", nargs="*", default=[], choices=["local", "scaling"])
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None and "local" not in args.skip:
            import textclf

            model = tmp / "model"
            textclf.train(str(_imdb("train", args.train_rows, tmp)), output=str(model))
        if "local" not in args.skip:
            local_vs_ray(model, args.local_rows, tmp)
        if "scaling" not in args.skip:
            small = args.scale_model
            if small is None:
                import textclf

                small = tmp / "small_model"
                textclf.train(str(_imdb("train", args.train_rows, tmp)), output=str(small), ensemble=1, units=16,
                              max_length=64)
            scaling_and_memory(small, args.scale_rows, args.memory_rows, tmp)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
