"""Data-parallel training with `tf.distribute`: `textclf train --distribute MODE`.

Modes:

* ``none`` (default): no strategy; training is exactly as without this module.
* ``mirrored``: `tf.distribute.MirroredStrategy` over the local GPUs (on a
  machine without GPUs it wraps the CPU: one replica).
* ``multi-worker``: `tf.distribute.MultiWorkerMirroredStrategy`, configured by
  the standard ``TF_CONFIG`` environment variable, so the same command runs on
  Kubernetes, Slurm or plain hosts. Every worker runs the same command.

Batch size: ``--batch-size`` is the *global* batch size (the tf.distribute
convention): each step consumes ``batch_size`` examples in total, split evenly
across all replicas of all workers (``batch_size / replicas`` each), and the
gradients are averaged over the whole global batch. Keep the learning rate of
the single-device run when the global batch is unchanged; when scaling the
global batch up with more replicas, scale the learning rate with it.

Sharding: every worker builds the same seeded, deterministically shuffled,
length-bucketed dataset; tf.data auto-sharding by DATA
(`AutoShardPolicy.DATA`) then splits each global batch into one slice per
replica and hands every worker its own slices. So each worker sees a different
``1 / workers`` of every batch, and all workers run the same number of steps.

Even batches: the bucketed dataset ends every length bucket with a partial
batch, possibly smaller than the number of replicas, which would leave some
replica an empty slice (and uneven slices weight examples unequally). Each batch
is therefore trimmed to a multiple of the number of replicas (at most
``replicas - 1`` examples per bucket per epoch are skipped; which ones changes
with the per-epoch shuffle), batches left empty are dropped, and the exact new
number of steps is asserted, so every worker runs the same number of steps and
the collective ops never wait for a worker that has run out of data. With one
replica nothing is trimmed.

Outputs: only the chief (task type ``chief``, or worker 0 when the cluster has
no chief) writes the model directory and its reports. The trained weights are
copied into a plain (undistributed) model before evaluation and saving, so
saving involves no collective ops; the other workers still go through the same
code path, writing into a private temporary directory that is removed at the
end (the pattern tf.distribute documents for multi-worker saving).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from textclf.config import DISTRIBUTE_MODES
from textclf.errors import ConfigError

_STRATEGIES = {}


@dataclass
class WorkerInfo:
    """Where this process stands in the cluster."""

    mode: str
    task_type: str | None
    task_index: int
    num_workers: int
    num_replicas: int
    is_chief: bool

    @property
    def replicas_per_worker(self):
        return max(1, self.num_replicas // self.num_workers)

    @property
    def task(self):
        return f"{self.task_type}:{self.task_index}" if self.task_type else "local:0"


def read_tf_config(environ=None):
    """The parsed ``TF_CONFIG`` (an empty dict when unset).

    Raises:
        ConfigError: not valid JSON, or not the expected shape.
    """
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({exc}). Received: TF_CONFIG={raw[:200]!r}") from None
    if not isinstance(value, dict) or not isinstance(value.get("cluster", {}), dict):
        raise ConfigError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task'. Received: {raw[:200]!r}")
    task = value.get("task", {})
    if value.get("cluster") and (not isinstance(task, dict) or "type" not in task):
        raise ConfigError(f"TF_CONFIG has a 'cluster' but no 'task' with a 'type'. Received: {raw[:200]!r}")
    if task.get("type") in ("ps", "evaluator"):
        raise ConfigError(
            f"TF_CONFIG task type {task['type']!r} is not supported by --distribute multi-worker "
            "(use 'chief' and/or 'worker' tasks)"
        )
    return value


def _check_mode(mode):
    if mode not in DISTRIBUTE_MODES:
        raise ConfigError(f"distribute must be one of {DISTRIBUTE_MODES}. Received: distribute={mode!r}")


def get_strategy(mode):
    """The strategy of `mode` (None for "none"), created once per process.

    For "multi-worker" this must run before TensorFlow executes any op, which
    `run_training` ensures by calling it before any tensor work.

    Raises:
        ConfigError: bad mode, bad ``TF_CONFIG``, or TensorFlow already started.
    """
    _check_mode(mode)
    if mode == "none":
        return None
    if mode in _STRATEGIES:
        return _STRATEGIES[mode]
    import tensorflow as tf

    if mode == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    else:
        read_tf_config()  # fail with a clear message before TensorFlow does
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.AUTO  # RING on CPU, NCCL on GPU
        )
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(
                "cannot start MultiWorkerMirroredStrategy: it must be created when the program starts, before "
                f"TensorFlow runs anything (use `textclf train --distribute multi-worker` in a fresh process): {exc}"
            ) from None
    _STRATEGIES[mode] = strategy
    return strategy


def worker_info(mode):
    """A `WorkerInfo` for `mode` (creates the strategy if needed)."""
    strategy = get_strategy(mode)
    if strategy is None:
        return WorkerInfo(mode, None, 0, 1, 1, True)
    if mode == "mirrored":
        return WorkerInfo(mode, None, 0, 1, strategy.num_replicas_in_sync, True)
    resolver = strategy.cluster_resolver
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    task_type = resolver.task_type if resolver is not None else None
    task_index = int(resolver.task_id or 0) if resolver is not None and task_type else 0
    num_workers = sum(len(cluster.get(kind, [])) for kind in ("chief", "worker")) or 1
    if not task_type:
        is_chief = True
    elif "chief" in cluster:
        is_chief = task_type == "chief"
    else:
        is_chief = task_type == "worker" and task_index == 0
    return WorkerInfo(mode, task_type, task_index, num_workers, strategy.num_replicas_in_sync, is_chief)


def setup(config, log):
    """Creates the strategy of `config.distribute` and logs this worker's place.

    Call before any TensorFlow op (MultiWorkerMirroredStrategy requires it).

    Returns:
        The `Runtime` of the mode.
    """
    info = worker_info(config.distribute)
    runtime = Runtime(info.mode, log)
    if info.mode == "none":
        return runtime
    if info.mode == "multi-worker" and not info.task_type:
        log("distribute: TF_CONFIG is not set; multi-worker runs as a single worker")
    log(
        f"distribute: {info.mode}, task {info.task} (worker {info.task_index if info.task_type else 0} "
        f"of {info.num_workers}, {'chief' if info.is_chief else 'not chief'}), "
        f"{info.num_replicas} replica(s) in sync"
    )
    if config.batch_size is not None:  # given: refused before the data is read; the default is checked once known
        runtime.check_batch_size(config.batch_size)
    return runtime


def even_batch_plan(lengths, batch_size, max_length, num_replicas):
    """Batches per epoch and examples used per epoch after trimming to even batches.

    Mirrors `textclf.text.pipeline.training_dataset`: batches of `batch_size` per
    length bucket, the last one of each bucket partial; each batch keeps a
    multiple of `num_replicas` examples.

    Returns:
        `(steps, examples)`.
    """
    from textclf.text.pipeline import _boundaries

    lengths = np.asarray(lengths)
    bucket_of = np.searchsorted(_boundaries(max_length), lengths, side="right")
    keep_full = batch_size - batch_size % num_replicas
    steps = examples = 0
    for bucket in np.unique(bucket_of):
        count = int(np.sum(bucket_of == bucket))
        full, rest = divmod(count, batch_size)
        rest -= rest % num_replicas
        steps += full + (1 if rest else 0)
        examples += full * keep_full + rest
    return steps, examples


class Runtime:
    """What the fit loop asks of its surroundings, for one `--distribute` mode.

    With mode "none" every method is a no-op (or the plain computation), so
    the fit loop reads the same under every mode. The strategy itself is
    created once per process (`get_strategy`); a `Runtime` only names its mode.

    Args:
        mode: `TrainConfig.distribute`.
        log: Where the batch split and shard sizes are reported.
    """

    def __init__(self, mode, log=None):
        _check_mode(mode)
        self.mode = mode
        self.log = log

    def scope(self):
        """The strategy's scope (variables mirrored across replicas), or a no-op context."""
        strategy = get_strategy(self.mode)
        return contextlib.nullcontext() if strategy is None else strategy.scope()

    def check_batch_size(self, batch_size):
        """Refuses a global batch smaller than the replicas and logs its split per replica.

        Called by `setup` for a batch size given, and once the default is known
        (`textclf.training.run`, after the data is read).

        Raises:
            ConfigError: `batch_size` is smaller than the number of replicas.
        """
        if get_strategy(self.mode) is None:
            return
        log = self.log or (lambda message: None)
        replicas = worker_info(self.mode).num_replicas
        if batch_size < replicas:
            raise ConfigError(
                f"batch_size is the global batch size and must be at least the number of replicas "
                f"({replicas}). Received: batch_size={batch_size}"
            )
        if batch_size % replicas:
            log(f"distribute: batch size {batch_size} is not a multiple of the {replicas} replicas; "
                f"each batch is trimmed to {batch_size - batch_size % replicas}")
        log(f"distribute: global batch {batch_size} = {batch_size // replicas} per replica")

    def steps_per_epoch(self, lengths, *, batch_size, max_length):
        """Training steps per epoch of the dataset `dataset` returns, known before it is built.

        The one count of an epoch's steps: Keras' `steps_per_epoch` and the
        compiled trainers' `steps_per_execution` both come from it.

        Args:
            lengths: Row lengths of the training ids.
            batch_size: The (global) batch size.
            max_length: The `max_length` the batches are bucketed under.

        Returns:
            Batches per epoch: every bucket's, the last one partial; under a
            strategy with several replicas, after trimming to even batches.
        """
        from textclf.text.pipeline import batches_per_epoch

        if get_strategy(self.mode) is None:
            return batches_per_epoch(lengths, batch_size, max_length)
        return even_batch_plan(lengths, batch_size, max_length, worker_info(self.mode).num_replicas)[0]

    def dataset(self, ds, lengths, *, batch_size, max_length, epochs=1, name="training"):
        """Makes a `training_dataset` ready for this mode: even batches, DATA auto-sharding.

        With mode "none" (or a single replica) no batch is trimmed.

        Args:
            ds: The dataset returned by `training_dataset(ids, ..., batch_size, max_length)`.
            lengths: The row lengths of the ids it was built from.
            batch_size: Its (global) batch size.
            max_length: Its `max_length`.
            epochs: How many epochs it holds.
            name: "training" or "validation"; only the training shard is logged.

        Returns:
            `(dataset, steps_per_epoch)`, the dataset with known cardinality.
        """
        if get_strategy(self.mode) is None:
            return ds, self.steps_per_epoch(lengths, batch_size=batch_size, max_length=max_length)
        import tensorflow as tf

        info = worker_info(self.mode)
        replicas = info.num_replicas
        steps, examples = even_batch_plan(lengths, batch_size, max_length, replicas)
        if replicas > 1:
            def trim(*batch):
                size = tf.shape(batch[0])[0]
                keep = size - size % replicas
                return tuple(part[:keep] for part in batch)

            ds = ds.map(trim).filter(lambda *batch: tf.shape(batch[0])[0] > 0)
            ds = ds.apply(tf.data.experimental.assert_cardinality(steps * epochs))
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        ds = ds.with_options(options)
        shard = examples * info.replicas_per_worker // replicas
        if self.log is not None and name == "training":
            self.log(
                f"distribute: task {info.task} {name} shard: {shard} of {len(lengths)} examples per epoch "
                f"({examples} used after even batching, {steps} steps)"
            )
        return ds, steps

    def before_fit(self, model, sample_ds):
        """Call after each `compile`, before `fit`: the multi-worker workaround of `textclf.artifacts.compat`."""
        if self.mode == "multi-worker":
            from textclf.artifacts.compat import build_for_multi_worker

            build_for_multi_worker(model, next(iter(sample_ds)), get_strategy(self.mode))

    def local_copy(self, model):
        """`model` with its trained weights in plain variables (no strategy).

        Evaluation, prediction and saving then run on each worker alone, with no
        collective op. Returns `model` itself for mode "none".
        """
        if get_strategy(self.mode) is None:
            return model
        import keras

        trainable = {layer.name: layer.trainable for layer in model.layers}
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        for layer in copy.layers:
            layer.trainable = trainable.get(layer.name, layer.trainable)
        return copy

    def describe(self, batch_size):
        """The `metadata.json` entry "distribute": where this run trained."""
        info = worker_info(self.mode)
        entry = asdict(info)
        entry.update(
            global_batch_size=batch_size,
            per_replica_batch_size=batch_size // info.num_replicas,
            batch_size_semantics="global: each step uses batch_size examples split evenly across all replicas",
        )
        return entry

    @contextlib.contextmanager
    def output_directory(self, output):
        """Where this worker writes the model directory.

        The chief gets `atomic_directory(output)`; other workers get a private
        temporary directory, removed on exit, so they never touch `output`.
        """
        from textclf.artifacts.outputs import atomic_directory

        if self.is_chief():
            with atomic_directory(output, kind="model") as tmp:
                yield tmp
            return
        tmp = Path(tempfile.mkdtemp(prefix="textclf-worker-"))
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def is_chief(self):
        """Whether this process writes outputs (always true without multi-worker)."""
        return worker_info(self.mode).is_chief
