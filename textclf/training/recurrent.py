"""Stage 3, fit the recurrent members: the fit loop.

The loop knows nothing of checkpoints or strategies. What it needs from its
surroundings comes in as two objects:

* `runtime` (`textclf.distribute.Runtime`): a scope to build and compile in,
  datasets made ready for the strategy, a hook before `fit`, and plain copies
  of the trained models;
* `progress`: where each member's `MemberProgress` goes after every epoch and
  comes back from when resuming (`textclf.training.resume`), or `NoProgress()`.

Each member trains in one or two phases (frozen, then fine-tuned embeddings),
each stopped early on a validation loss (`textclf.training.stopping`): by
default (`--stop-on mixed`) that of its mix with the n-gram branch, or its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras
import numpy as np

from textclf.errors import ConfigError
from textclf.training.state import MemberProgress, StoppingState
from textclf.training.stopping import (
    MIXED_LOSS, MIXED_WEIGHT, RECURRENT_LOSS, EarlyStopping, ValidationScores,
)

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", MIXED_LOSS, MIXED_WEIGHT)


@dataclass
class RecurrentFit:
    """The trained token-id classifier (members averaged) and what each member did.

    Attributes:
        model: Token ids in, probabilities out.
        members: Per member: head, seed, epochs and phase summaries.
        history: Per-epoch rows, tagged with their "member" (1-based) in an ensemble.
        rule: How the number of members was decided.
        combine: With several members, "probabilities" (averaged at prediction)
            or "weights" (averaged into one model); None for one member.
    """

    model: object
    members: list
    history: list
    rule: str
    combine: str | None = None


def set_determinism(seed):
    """Seeds Python, NumPy and TensorFlow and asks TF for deterministic ops."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def fit_members(config, prepared, runtime, progress, log, verbose, ngram=None):
    """Stage 3: fits the members with seeds `config.seed`, `config.seed + 1`, ... and averages them.

    Each member reseeds every generator and keeps its own progress, so an
    ensemble resumes member by member and the same seed gives the same ensemble.

    Args:
        config: The `TrainConfig`.
        prepared: The `textclf.training.prepare.Prepared` data.
        runtime: A `textclf.distribute.Runtime`.
        progress: `NoProgress()` or a checkpoint store (`textclf.training.resume`).
        log: Progress lines.
        verbose: `verbose` of `Model.fit`.
        ngram: The `NgramFit` (stage 2), or None; with `config.stop_on` "mixed",
            each member stops on its mix with this branch.

    Returns:
        A `RecurrentFit`.
    """
    from textclf.models.build import CLASSIFIER_NAME
    from textclf.models.ensemble import build_ensemble, member_heads, member_name, resolve_members, resolve_units

    members, rule = resolve_members(config.ensemble, prepared.training_tokens)
    config = dataclasses.replace(config, units=resolve_units(config.units, members))
    if members > 1:
        log(f"ensemble: {members} models averaged ({rule}; here {prepared.training_tokens:,}), "
            f"{config.units} units each")
    heads = member_heads(config.head, members)
    shared = members > 1 and shares_frozen_phase(config, heads)
    if members > 1 and config.member_start == "frozen" and not shared:
        log("--member-start frozen needs --embedding-mode two-phase and one head; members start from scratch")
    trained, records, history, start = [], [], [], None
    trainers = Trainers(prepared, runtime)
    scores = ValidationScores(prepared, ngram, runtime.local_copy, training_loss(prepared))
    monitor = MIXED_LOSS if config.stop_on == "mixed" and ngram is not None else RECURRENT_LOSS  # decided once
    if monitor == MIXED_LOSS:
        log("early stopping follows the validation log loss of the recurrent model mixed with the n-gram branch")
    for index in range(members):
        member_config = dataclasses.replace(config, seed=config.seed + index, head=heads[index])
        set_determinism(member_config.seed)
        member_log = log if members == 1 else (lambda m, i=index: log(f"member {i + 1}/{members}: {m}"))
        name = CLASSIFIER_NAME if members == 1 else member_name(index)
        model, state = fit_member(member_config, prepared, runtime, progress.member(index), member_log, verbose, name,
                                  start=start, trainers=trainers, scores=scores, monitor=monitor)
        if shared and index == 0:
            start = (state.frozen_weights, state.phases[0])
        trained.append(runtime.local_copy(model))  # evaluate and save without collectives
        tag = {} if members == 1 else {"member": index + 1}
        history.extend({**tag, **row} for row in state.history)
        records.append({"head": heads[index], "units": config.units, "seed": member_config.seed,
                        "epochs": len(state.history),
                        "start": "member 1 after its frozen phase" if shared and index else "scratch",
                        "phases": state.phases})
    combine = "weights" if shared and config.ensemble_combine == "weights" else "probabilities"
    if members > 1 and config.ensemble_combine == "weights" and not shared:
        log("--ensemble-combine weights needs members fine-tuned from one frozen phase (--member-start frozen); "
            "averaging their probabilities")
    if members == 1:
        model = trained[0]
    elif combine == "weights":
        model = _build(config, prepared, CLASSIFIER_NAME, trainable_embeddings=False)
        model.set_weights(average_weights(trained))
        log(f"ensemble: the {members} members' weights averaged into one model")
    else:
        model = build_ensemble(trained, CLASSIFIER_NAME)
    return RecurrentFit(model=model, members=records, history=history, rule=rule,
                        combine=combine if members > 1 else None)


def average_weights(models):
    """Each weight's mean over `models` (same architecture): a "uniform soup" (Wortsman et al., ICML 2022).

    Meaningful only for models fine-tuned from the same weights, which stay in
    one basin of the loss; for independently initialized models the mean is noise.
    """
    return [np.mean(values, axis=0) for values in zip(*(model.get_weights() for model in models))]


def _build(config, prepared, name, trainable_embeddings):
    """A fresh token-id classifier with `config`'s architecture."""
    from textclf.models.build import build_classifier

    return build_classifier(
        embedding_matrix=prepared.embedding.matrix, num_classes=len(prepared.labels), head=config.head,
        units=config.units, layers=config.layers, dropout=config.dropout, pooling=config.pooling,
        embedding_dropout=config.embedding_dropout, trainable_embeddings=trainable_embeddings,
        activation=prepared.task.activation, name=name,
    )


def training_loss(prepared):
    """The task's loss (`Task.loss`, matching its activation), positives weighted by `prepared.label_weights`.

    The loss lives only in the compiled training models; the saved model is
    built from uncompiled layers and never refers to it.
    """
    return prepared.task.loss(prepared.label_weights)


@keras.saving.register_keras_serializable(package="textclf")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy averaged over labels, each label's positive terms multiplied by its weight.

    Registered because `keras.models.clone_model` (ensemble members, `inference_copy`)
    recompiles a compiled model's copy from its config.

    Args:
        positive_weights: One weight per label (output column).
    """

    def __init__(self, positive_weights, name="weighted_binary_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.positive_weights = [float(w) for w in positive_weights]

    def call(self, y_true, y_pred):
        weights = keras.ops.convert_to_tensor(np.asarray(self.positive_weights, dtype=np.float32))
        p = keras.ops.clip(y_pred, keras.config.epsilon(), 1.0 - keras.config.epsilon())
        y_true = keras.ops.cast(y_true, p.dtype)
        terms = weights * y_true * keras.ops.log(p) + (1.0 - y_true) * keras.ops.log(1.0 - p)
        return -keras.ops.mean(terms, axis=-1)

    def get_config(self):
        return {**super().get_config(), "positive_weights": self.positive_weights}


def shares_frozen_phase(config, heads):
    """Whether members 2..N fine-tune from member 1's frozen-phase weights (`--member-start frozen`).

    That needs a frozen phase followed by fine-tuning and one head for all members.
    """
    phases = [phase for phase, _ in phase_plan(config)]
    return config.member_start == "frozen" and phases == ["frozen", "finetune"] and len(set(heads)) == 1


def phase_plan(config):
    """`[(embeddings, learning_rate), ...]`: one phase, or frozen then fine-tuned for "two-phase"."""
    plan = [("frozen" if config.embedding_mode != "finetune" else "finetune", config.learning_rate)]
    if config.embedding_mode == "two-phase":
        plan.append(("finetune", config.finetune_learning_rate or config.learning_rate / 4))
    return plan


MOST_STEPS_PER_EXECUTION = 32


def steps_per_execution(steps_per_epoch, mode):
    """Training steps run per call of the compiled train function (`compile(steps_per_execution=...)`).

    On short texts much of a small recurrent model's step is the cost of
    calling the compiled function; several steps per call cut it (trec, one
    member: 0.875 of the wall time) and compute the same numbers. Keras runs every one of
    the steps of each call, and the training dataset holds all the epochs of
    a phase back to back, so the count divides `steps_per_epoch`: a call never
    runs into the next epoch's batches.

    Args:
        steps_per_epoch: Batches per epoch (`textclf.distribute.Runtime.steps_per_epoch`).
        mode: `TrainConfig.distribute`; under a strategy (which trims batches
            per replica, and whose multi-worker workaround replaces the step
            functions) one step per call.

    Returns:
        The largest divisor of `steps_per_epoch` up to `MOST_STEPS_PER_EXECUTION` (1 under a strategy).
    """
    if mode != "none" or steps_per_epoch < 1:
        return 1
    return max(k for k in range(1, min(MOST_STEPS_PER_EXECUTION, steps_per_epoch) + 1) if steps_per_epoch % k == 0)


class Trainers:
    """Compiled training models, one per head and phase, in which every member trains: each is traced once.

    Keras traces a model's train and test functions at its first `fit` after
    `compile`, 3-6 s on 2 CPU cores; a new compiled model per member and phase
    spent about 40% of a small run (the demo: 10 phases) tracing. A member is
    an uncompiled model holding its own variables: each phase copies them into
    the trainer, resets the trainer's optimizer to its state before any step
    (zero moments, step 0), fits the trainer and copies the variables back.
    The numbers are those of a fresh model compiled per phase.
    """

    def __init__(self, prepared, runtime):
        self.prepared, self.runtime, self._compiled = prepared, runtime, {}

    def take(self, config, phase, learning_rate, member):
        """The trainer for `config.head` in `phase`, holding `member`'s variables and a fresh optimizer state."""
        key = (config.head, phase, learning_rate)
        with self.runtime.scope():
            if key not in self._compiled:
                trainer = _build(config, self.prepared, f"trainer_{len(self._compiled) + 1}",
                                 trainable_embeddings=phase == "finetune")
                steps = self.runtime.steps_per_epoch(self.prepared.ids_train.row_lengths().numpy(),
                                                     batch_size=config.batch_size,
                                                     max_length=self.prepared.max_length)
                trainer.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=5.0),
                                loss=training_loss(self.prepared), metrics=["accuracy"],
                                steps_per_execution=steps_per_execution(steps, self.runtime.mode))
                trainer.optimizer.build(trainer.trainable_variables)
                self._compiled[key] = (trainer, [variable.numpy() for variable in trainer.optimizer.variables])
            trainer, initial = self._compiled[key]
            copy_variables(member, trainer)
            for variable, value in zip(trainer.optimizer.variables, initial):
                variable.assign(value)
        return trainer


def copy_variables(source, target):
    """Assigns every variable of `source` (weights and dropout seed states) to `target`'s, in order.

    The two models have the same architecture; `model.variables` keeps its
    order whatever the layers' `trainable` flags (`get_weights` does not).
    """
    if not assign_all(target.variables, [variable.numpy() for variable in source.variables]):
        raise ValueError(f"cannot copy the variables of {source.name} into {target.name}: the models differ")


def assign_all(targets, values):
    """Assigns `values` to the variables `targets` in order if they match one to one in shape.

    Returns:
        False (nothing assigned) if `values` is None or differs in count or in a shape.
    """
    if values is None or len(values) != len(targets) or any(
        tuple(variable.shape) != tuple(np.shape(value)) for variable, value in zip(targets, values)
    ):
        return False
    for variable, value in zip(targets, values):
        variable.assign(value)
    return True


def fit_member(config, prepared, runtime, store, log, verbose, name, start=None, trainers=None, scores=None,
               monitor=RECURRENT_LOSS):
    """Builds one classifier and fits it phase by phase, continuing from `store.restored()` if any.

    Args:
        start: None, or `(weights, phase_summary)` of another member's finished
            frozen phase: this member starts from those weights and runs only
            the phases after it.
        trainers: The run's `Trainers` (a new one if None).
        scores: The run's `ValidationScores`, which writes each epoch's validation losses (a new one, without
            the n-gram branch, if None).
        monitor: The loss to stop on, `MIXED_LOSS` (the mix with the n-gram branch) or `RECURRENT_LOSS`.

    Returns:
        `(model, progress)`: the model with its kept weights and its final `MemberProgress`.
    """
    from textclf.models.build import EMBEDDING_NAME

    with runtime.scope():  # variables mirrored across replicas
        model = _build(config, prepared, name, trainable_embeddings=config.embedding_mode == "finetune")
    state = store.restored()
    if state is not None:
        log(f"resume: continuing after epoch {state.epoch}")
    elif start is not None:
        state = _shared_start(start)
        with runtime.scope():
            model.set_weights(state.kept_weights)
        log("starting from member 1's weights after its frozen phase")
    state = state or MemberProgress()
    plan = phase_plan(config)
    trainers = trainers or Trainers(prepared, runtime)
    scores = scores or ValidationScores(prepared, None, runtime.local_copy, training_loss(prepared))
    while len(state.phases) < len(plan):
        _fit_phase(model, config, prepared, runtime, trainers, store, state, plan, log, verbose, scores, monitor)
    model.get_layer(EMBEDDING_NAME).trainable = False
    return model, state


def _shared_start(start):
    """The progress of a member that takes over another's finished frozen phase (no epochs of its own)."""
    weights, phase = start
    return MemberProgress(phases=[{**phase, "epochs": 0, "shared_with_member": 1}], kept_loss=phase["best_loss"],
                          kept_weights=weights)


def _fit_phase(model, config, prepared, runtime, trainers, store, state, plan, log, verbose, scores, monitor):
    """Fits the phase `len(state.phases)` of `plan` (from where `state` stands) and finishes it."""
    phase_index = len(state.phases)
    phase, learning_rate = plan[phase_index]
    trainer = trainers.take(config, phase, learning_rate, model)
    log(f"phase {phase_index + 1}/{len(plan)}: embeddings {phase}, learning rate {learning_rate:g}")
    phase_start = sum(p["epochs"] for p in state.phases)  # the history rows before this phase
    if state.variables is not None:  # resumed inside this phase
        with runtime.scope():
            restore_variables(trainer, state.variables)
        first, state.variables = state.epoch, None
    else:
        first, state.stopping, state.stopping_weights = phase_start, StoppingState(), None
    stopper = EarlyStopping(config.patience, config.min_delta, state.stopping, state.stopping_weights, monitor)
    stop = phase_start + config.epochs
    if not stopper.state.stopped and first < stop:
        train_ds, steps = _training_batches(config, prepared, runtime, first, stop)
        runtime.before_fit(trainer, train_ds)
        trainer.fit(train_ds, steps_per_epoch=steps, epochs=stop, initial_epoch=first,  # validation: `scores`
                    callbacks=[scores, stopper, _Recorder(state, stopper, store, phase), *_step_hooks(store)],
                    verbose=verbose,
                    shuffle=False)  # the dataset shuffles itself, by (seed, epoch)
    trainer.set_weights(stopper.best_weights)
    with runtime.scope():
        copy_variables(trainer, model)
    _finish_phase(model, state, phase, learning_rate, phase_start, monitor, log)
    if config.member_start == "frozen" and phase == "frozen" and phase_index + 1 < len(plan):
        state.frozen_weights = model.get_weights()  # where members 2..N start (kept in member 1's checkpoints)


def _training_batches(config, prepared, runtime, first, stop):
    """`(train_ds, steps_per_epoch)`: epochs `first..stop-1` of training batches."""
    from textclf.pipeline import training_dataset

    train = training_dataset(
        prepared.ids_train, prepared.y_train, batch_size=config.batch_size, max_length=prepared.max_length,
        shuffle=True, seed=config.seed, sample_weights=prepared.sample_weights, epochs=(first, stop),
    )
    train, steps = runtime.dataset(train, prepared.ids_train.row_lengths().numpy(), batch_size=config.batch_size,
                                   max_length=prepared.max_length, epochs=stop - first, name="training")
    return train, steps


class _Recorder(keras.callbacks.Callback):
    """After each epoch: the history row, then `store.record` of the whole progress."""

    def __init__(self, state, stopper, store, phase):
        super().__init__()
        self.state, self.stopper, self.store, self.phase = state, stopper, store, phase

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {"epoch": epoch + 1, "phase": self.phase}
        row.update({key: float(logs[key]) for key in HISTORY_KEYS if key in logs})
        self.state.history.append(row)
        self.state.epoch = epoch + 1
        self.state.stopping, self.state.stopping_weights = self.stopper.state, self.stopper.best_weights
        self.store.record(self.state, self.model)


def _step_hooks(store):
    """`[callback]` calling `store.step()` after each training call, if the store has that method (tuning's
    deadline cuts a trial inside an epoch), else `[]`: a batch hook costs Keras its asynchronous dispatch."""
    if not hasattr(store, "step"):
        return []

    class _Steps(keras.callbacks.Callback):
        async_safe = True  # an exception raised in `step` comes back at the next training call

        def on_train_batch_end(self, batch, logs=None):
            store.step()

    return [_Steps()]


def _finish_phase(model, state, phase, learning_rate, phase_start, monitor, log):
    """Summarizes the phase; one that never beats the earlier phases (on `monitor`) must not make the model worse."""
    rows = state.history[phase_start:]
    losses = [row[monitor] for row in rows]
    best_index = int(np.argmin(losses))
    best = float(losses[best_index])
    kept = state.kept_loss is None or best < state.kept_loss
    state.phases.append({
        "embeddings": phase, "learning_rate": learning_rate, "epochs": len(losses), "monitor": monitor,
        "best_loss": best, "best_val_loss": float(rows[best_index][RECURRENT_LOSS]),
        "best_epoch": phase_start + best_index + 1, "kept": kept,
    })
    if kept:
        state.kept_loss, state.kept_weights = best, model.get_weights()
    else:
        model.set_weights(state.kept_weights)
        log(f"phase {len(state.phases)} did not improve validation loss; keeping the earlier weights")


def restore_variables(model, variables):
    """Assigns saved model and optimizer variables (the optimizer is built first).

    Args:
        model: The compiled model.
        variables: `{"model": [...], "optimizer": [...]}` arrays, in the order
            of `model.variables` and `model.optimizer.variables`.

    Raises:
        ConfigError: the saved state does not match the model.
    """
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    for what, targets in (("model", model.variables), ("optimizer", model.optimizer.variables)):
        if not assign_all(targets, variables.get(what)):
            raise ConfigError(f"the checkpoint's {what} state does not match the model; delete it to start over")
