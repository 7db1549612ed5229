"""Batch prediction on Ray Data (`textclf predict --engine ray`), on this machine or a cluster.

Inputs (files, globs, directories or pyarrow-filesystem URIs of CSV/TSV, optionally .gz, or Parquet)
are read one file per read task, a chunk at a time, each row tagged with its `source_file` and its
0-based `row` in that file so each file's order can be restored. A pool of long-lived actors, each
holding one `textclf.inference.batch_predictor.BatchPredictor` (the model loaded once per worker, TensorFlow's
thread pools sized to the worker's CPUs), predicts the batches and, under `textclf predict`, writes each
predicted block as a part file itself (`_PartWriter`) into a directory under a temporary name.

The actors hold one CPU each and one CPU is always left for the read tasks (which ask for a quarter of
one): without it the actors take every CPU and the reads starve (ray-project/ray#44687).
Ray is imported only when this engine runs (`textclf.runtime.ray_cluster`): `import textclf` never imports it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import gc
import glob
import os
import re
import sys
import time

from textclf import errors
from textclf.errors import ConfigError, InputDataError, TextclfError
from textclf.runtime.ray_cluster import import_ray, ray_session

ORDER_COLUMNS = ("source_file", "row")
INPUT_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet", ".txt", ".txt.gz")
OUTPUT_FORMATS = ("parquet", "csv")
IO_CPUS = 0.25  # what a read task asks for: four fit in the CPU kept free of actors
PREDICT_BATCH_ROWS = 1024  # most rows read as one block and handed to a worker at a time: balanced to the end
PARTIAL_SUFFIX = ".partial"  # a part file being written (left behind by a worker killed while writing)


def _filesystem(name):
    """`(pyarrow filesystem, path)` of a local path or a URI."""
    import pyarrow.fs as pafs

    if "://" in name:
        return pafs.FileSystem.from_uri(name)
    return pafs.LocalFileSystem(), os.path.abspath(name)


def _uri(name, path):
    """`path` (as found on the filesystem of `name`) spelled so that `_filesystem` finds it again."""
    if "://" not in name or name.startswith("file://"):
        return path
    return f"{name.split('://', 1)[0]}://{path.lstrip('/')}"


def expand_inputs(inputs):
    """The files named by `inputs`, in order: files as given, globs and directories expanded (sorted).

    Args:
        inputs: Local paths or URIs (`s3://`, `gs://`, `hdfs://`, `file://`); globs and directories
            give their files ending in one of `INPUT_SUFFIXES`.

    Returns:
        A list of local paths and URIs.

    Raises:
        InputDataError: An input that names nothing.
    """
    import pyarrow.fs as pafs

    files = []
    for name in inputs:
        name = os.fspath(name)
        fs, path = _filesystem(name)
        found = []
        if glob.has_magic(path):
            parts = path.split("/")
            base = "/".join(parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]) or "/"
            selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
            found = sorted(i.path for i in fs.get_file_info(selector)
                           if i.type == pafs.FileType.File and fnmatch.fnmatchcase(i.path, path))
        else:
            info = fs.get_file_info(path)
            if info.type == pafs.FileType.File:
                found = [path]
            elif info.type == pafs.FileType.Directory:
                found = sorted(i.path for i in fs.get_file_info(pafs.FileSelector(path, recursive=True))
                               if i.type == pafs.FileType.File and i.path.lower().endswith(INPUT_SUFFIXES)
                               and not os.path.basename(i.path).startswith((".", "_")))
        if not found:
            raise InputDataError("no such file, or no CSV/TSV/Parquet file matches it", file=name)
        files += [_uri(name, path) for path in found]
    return files


def _read_chunks(name, *, text_column, encoding, chunk_size, reserved):
    """Yields pandas chunks of one input file, each with `source_file` and `row` appended."""
    import pandas as pd
    import pyarrow.parquet as pq

    from textclf.data.tables import check_header, csv_read_options, is_parquet, require_column, translate_read_error

    fs, path = _filesystem(name)
    start = 0
    try:
        if is_parquet(path):
            handle = fs.open_input_file(path)
            chunks = (batch.to_pandas() for batch in pq.ParquetFile(handle).iter_batches(batch_size=chunk_size))
        else:
            options = csv_read_options(path.removesuffix(".gz"), encoding)
            options["compression"] = None
            handle = fs.open_input_stream(path, compression="gzip" if path.lower().endswith(".gz") else None)
            chunks = pd.read_csv(handle, chunksize=chunk_size, **options)
        with handle:
            for frame in chunks:
                if start == 0:
                    columns = [str(c) for c in frame.columns]
                    check_header(columns, name)
                    require_column(columns, text_column, name)
                    clash = [c for c in columns if c in reserved]
                    if clash:
                        raise InputDataError(f"already has column {clash[0]!r}, which prediction adds; rename or "
                                             "drop it first", file=name, row=1, column=clash[0])
                frame[text_column] = frame[text_column].fillna("").astype(str)
                frame["source_file"] = name
                frame["row"] = range(start, start + len(frame))
                start += len(frame)
                yield frame
    except TextclfError:
        raise
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one line
        raise translate_read_error(exc, name, encoding) from None


def _read_files(batch, **options):
    """A Ray Data generator UDF: a batch of file names in, their rows out, a chunk at a time."""
    for name in batch["file"]:
        yield from _read_chunks(str(name), **options)


class _Predict:
    """A Ray Data actor: sizes TensorFlow's thread pools, then loads the model once (`BatchPredictor`).

    With `parts` (a `_PartWriter`), it writes each predicted block itself and hands on only its row count: the
    predicted rows do not travel through Ray's object store to write tasks in other worker processes.
    """

    def __init__(self, model, threads, options, parts=None):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        from textclf.inference.batch_predictor import BatchPredictor

        self.predictor = BatchPredictor(model, **options)
        self.parts = parts

    def __call__(self, batch):
        frame = self.predictor(batch, file=batch["source_file"].to_numpy(), rows=batch["row"].to_numpy())
        return frame if self.parts is None else self.parts.write(frame)


class _PartWriter:
    """Writes a predicted block as one part file, named after its first row's file and row.

    A block Ray retries (its worker died) writes the same name again, and a part appears under its name only
    complete (written aside, then renamed), so every row is in the output once. Names sort in input order:
    `part-<file's index among the inputs>-<row>.<format>`.
    """

    def __init__(self, directory, output_format, files):
        self.directory = str(directory)
        self.output_format = output_format
        self.index = {name: number for number, name in enumerate(files)}

    def write(self, frame):
        """Writes `frame` (a predicted block) and returns a one-row frame holding its number of rows."""
        import pandas as pd
        import pyarrow as pa

        if len(frame):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            first = f"{self.index[frame['source_file'].iloc[0]]:05d}-{int(frame['row'].iloc[0]):012d}"
            name = os.path.join(self.directory, f"part-{first}.{self.output_format}")
            partial = f"{name}.{os.getpid()}{PARTIAL_SUFFIX}"
            if self.output_format == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(table, partial)
            else:
                import pyarrow.csv as pacsv

                pacsv.write_csv(table, partial)
            os.replace(partial, name)
        return pd.DataFrame({"rows": [len(frame)]})


def read_inputs(inputs, *, text_column, encoding="utf-8", chunk_size=20_000, reserved=()):
    """A Ray `Dataset` of every row of `inputs` (see `expand_inputs`), with `source_file` and `row` columns.

    Args:
        inputs: Paths, globs, directories or URIs.
        text_column: The column of texts, which every file must have (its cells read as strings).
        encoding: Text encoding of CSV/TSV files.
        chunk_size: Rows per block read.
        reserved: Column names no input may have (those prediction adds).

    Returns:
        A lazy `ray.data.Dataset`.
    """
    return _rows_of(expand_inputs(inputs), text_column=text_column, encoding=encoding, chunk_size=chunk_size,
                    reserved=reserved)


def _rows_of(files, *, text_column, encoding, chunk_size, reserved):
    """`read_inputs` of `files` as `expand_inputs` gives them."""
    ray = import_ray()
    items = ray.data.from_items([{"file": name} for name in files], override_num_blocks=len(files))
    reserved = tuple(reserved) + ORDER_COLUMNS
    rows = items.map_batches(_read_files, batch_size=1, batch_format="pandas", num_cpus=IO_CPUS,
                             fn_kwargs=dict(text_column=text_column, encoding=encoding,
                                            chunk_size=chunk_size, reserved=reserved))
    # Ray Data joins the chunks a read task yields into blocks of up to 128 MiB, and a block goes to one actor
    # whole: a single file would feed a single worker. Streaming repartitioning (no shuffle, no barrier) cuts
    # them back to `chunk_size` rows.
    return rows.repartition(target_num_rows_per_block=chunk_size)


def predict_dataset(dataset, model, *, workers=1, cpus_per_worker=1, batch_rows=PREDICT_BATCH_ROWS,
                    text_column=None, **options):
    """The predicted Ray `Dataset`: every column of `dataset`, then the prediction columns of local predict.

    Args:
        dataset: A `ray.data.Dataset` (or paths, globs, directories, URIs: read with `read_inputs`).
        model: A model directory every worker can read.
        workers: Prediction actors (each loads the model once).
        cpus_per_worker: CPUs each actor holds; TensorFlow's thread pools get as many threads.
        batch_rows: Rows per call of a worker.
        text_column: Column of texts (default: the model's).
        **options: `BatchPredictor` options: batch_size, probabilities, top_k, on_bad_rows,
            threshold, at_least_one.

    Returns:
        A lazy `ray.data.Dataset`.
    """
    ray = import_ray()
    if not isinstance(dataset, ray.data.Dataset):
        from textclf.artifacts.metadata import read_metadata

        text_column = text_column or read_metadata(model).get("text_column", "text")
        dataset = read_inputs([dataset] if isinstance(dataset, (str, os.PathLike)) else dataset,
                              text_column=text_column)
    return _map_predict(dataset, model, workers, cpus_per_worker, batch_rows, dict(options, text_column=text_column))


def _map_predict(dataset, model, workers, cpus_per_worker, batch_rows, options, parts=None):
    """`dataset` mapped by a pool of `workers` `_Predict` actors (arguments as `predict_dataset`'s)."""
    ray = import_ray()
    if workers < 1 or cpus_per_worker <= 0:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    return dataset.map_batches(
        _Predict, batch_size=batch_rows, batch_format="pandas", num_cpus=cpus_per_worker,
        compute=ray.data.ActorPoolStrategy(size=workers),
        fn_constructor_kwargs=dict(model=os.fspath(model), threads=max(1, int(cpus_per_worker)), options=options,
                                   parts=parts),
    )


def _check_model_options(model, *, text_column, batch_size, chunk_size, top_k, on_bad_rows, probabilities,
                         threshold, at_least_one):
    """The option checks of local predict, on the model's metadata (the driver never loads TensorFlow).

    Returns:
        `(text_column, reserved)`: the column of texts and the names of the columns prediction adds.
    """
    from textclf.inference.batch_predictor import check_options, prediction_columns
    from textclf.artifacts.metadata import load
    from textclf.tasks import from_metadata

    metadata = load(model)
    task = from_metadata(metadata).with_overrides(threshold, at_least_one)
    labels = [str(label) for label in metadata["labels"]]
    check_options(labels, chunk_size=chunk_size, batch_size=batch_size, top_k=top_k, on_bad_rows=on_bad_rows)
    reserved = prediction_columns(labels, task, probabilities=probabilities, top_k=top_k)
    return text_column or metadata.get("text_column", "text"), reserved


def _unwrap(exc):
    """The `TextclfError` a Ray task raised, if `exc` (Ray's `UserCodeException` wrapping) carries one.

    The chain does not always survive the trip between processes; the text still ends with its last line.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, TextclfError) and type(exc).__module__.startswith("textclf"):
            return exc
        found = re.findall(r"textclf\.errors\.(\w+): (.*)$", str(exc), flags=re.MULTILINE)
        if found and isinstance(getattr(errors, found[-1][0], None), type):
            return getattr(errors, found[-1][0])(found[-1][1].strip())
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    return None


def predict_to_directory(inputs, model, output, *, output_format="parquet", workers=1, encoding="utf-8",
                         chunk_size=20_000, text_column=None, connect=None, **options):
    """Predicts every row of `inputs` into the directory `output` of part files.

    Args:
        inputs: Paths, globs, directories or URIs (`expand_inputs`).
        model: A model directory.
        output: A local directory (on a cluster: one every node writes to), created or replaced whole.
        output_format: "parquet" or "csv".
        workers: Prediction actors; None: one per CPU of the cluster, less one for reading.
        encoding, chunk_size: As for `read_inputs`.
        text_column: Column of texts (default: the model's).
        connect: None when Ray is connected already; else a function returning a context manager that connects
            it (`ray_session`), entered inside the output's temporary directory: a Ray it started stops, and its
            workers writing parts with it, before an interrupted run's temporary directory is removed.
        **options: `BatchPredictor` options (batch_size, probabilities, top_k, on_bad_rows, threshold, at_least_one).

    Returns:
        The number of rows written.
    """
    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(f"--output-format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}")
    check = {k: options.get(k, d) for k, d in (("batch_size", 256), ("top_k", 0), ("on_bad_rows", "error"),
                                                ("probabilities", False), ("threshold", None), ("at_least_one", None))}
    text_column, reserved = _check_model_options(model, text_column=text_column, chunk_size=chunk_size, **check)
    output = os.path.abspath(output.removeprefix("file://") if isinstance(output, str) else output)
    from textclf.artifacts.outputs import atomic_directory, claim

    # Claimed before any work (re-entrant under the CLI); the directory appears complete or not at all.
    with claim(output, "predictions"), atomic_directory(output, "predictions") as tmp:
        with (connect or contextlib.nullcontext)():
            return _predict_into(inputs, model, tmp, output_format, workers, encoding, chunk_size, text_column,
                                 reserved, options)


def _predict_into(inputs, model, tmp, output_format, workers, encoding, chunk_size, text_column, reserved, options):
    """`predict_to_directory` once its output is claimed and Ray connected: writes the parts into `tmp`."""
    if workers is None:
        workers = max(1, int(import_ray().cluster_resources().get("CPU", 2)) - 1)
    # Blocks of at most PREDICT_BATCH_ROWS: a block goes to one actor whole, so blocks of 20,000 rows (the
    # --chunk-size default) would keep all but one worker idle on a file of that size.
    rows_per_block = min(chunk_size, PREDICT_BATCH_ROWS)
    files = expand_inputs(inputs)
    dataset = _rows_of(files, text_column=text_column, encoding=encoding, chunk_size=rows_per_block,
                       reserved=reserved)
    # The actors write the parts themselves (`_PartWriter`): only a row count per block comes back here.
    counts = _map_predict(dataset, os.path.abspath(model), workers, 1, rows_per_block,
                          dict(options, text_column=text_column), _PartWriter(tmp, output_format, files))
    failure = None
    try:
        rows = sum(int(batch["rows"].sum()) for batch in counts.iter_batches(batch_size=None, batch_format="pandas"))
    except Exception as exc:  # noqa: BLE001 - a textclf error raised in a worker is reported as one line
        failure = _unwrap(exc)
        if failure is None or failure is exc:
            raise
    finally:
        del dataset, counts  # its executor holds the actors in cycles: freed now, the next run gets their CPUs
        gc.collect()
    if failure is None:
        for partial in tmp.glob(f"*{PARTIAL_SUFFIX}"):  # a worker killed while writing; its block was written again
            partial.unlink()
        return rows
    failure.__cause__ = failure.__context__ = failure.__traceback__ = None  # Ray's frames hold the actors too
    raise failure


def run_command(args):
    """`textclf predict --engine ray` (see `textclf.commands.predict`)."""
    inputs = args.input
    if "-" in inputs or args.output == "-":
        raise ConfigError("--engine ray reads files and writes a directory, not standard input or output")
    started, workers = time.monotonic(), args.workers
    if args.address is None and workers is None:
        workers = os.cpu_count() or 1
    connect = functools.partial(ray_session, args.address, num_cpus=None if workers is None else workers + 1,
                                quiet=args.quiet)
    rows = predict_to_directory(
        inputs, args.model, args.output, output_format=args.output_format, workers=workers, connect=connect,
        encoding=args.encoding, chunk_size=args.chunk_size, text_column=args.text_column,
        batch_size=args.batch_size, probabilities=args.probabilities, top_k=args.top_k,
        on_bad_rows=args.on_bad_rows, threshold=args.threshold, at_least_one=args.at_least_one,
    )
    if not args.quiet:
        on = "Ray (one worker per CPU, less one)" if workers is None else f"{workers} Ray worker(s)"
        print(f"textclf: predicted {rows:,} rows on {on} in "
              f"{time.monotonic() - started:.1f}s, wrote {args.output}", file=sys.stderr)
    return 0
