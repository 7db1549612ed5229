"""One member's fit, phase by phase (frozen, then fine-tuned embeddings), each stopped early on validation.

Part of stage 3 (`textclf.training.recurrent`): a phase copies the member into
its `Trainers` model, fits it with `ValidationScores` and `EarlyStopping`
(`textclf.training.stopping`), records each epoch in the progress store and
copies the kept weights back.
"""

from __future__ import annotations

import keras
import numpy as np

from textclf.training.state import MemberProgress, StoppingState
from textclf.training.stopping import MIXED_LOSS, MIXED_WEIGHT, RECURRENT_LOSS, EarlyStopping, ValidationScores
from textclf.training.trainers import Trainers, build_member, copy_variables, restore_variables, training_loss

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", MIXED_LOSS, MIXED_WEIGHT)


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
        model = build_member(config, prepared, name, trainable_embeddings=config.embedding_mode == "finetune")
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
    min_delta = prepared.task.min_improvement(config.min_delta)
    stopper = EarlyStopping(config.patience, min_delta, state.stopping, state.stopping_weights, monitor)
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
    from textclf.text.pipeline import training_dataset

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

