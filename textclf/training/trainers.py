"""The compiled models the members train in (`Trainers`), the training loss, and copying variables in and out.

Part of stage 3 (`textclf.training.recurrent`).
"""

from __future__ import annotations

import keras
import numpy as np

from textclf.errors import ConfigError


def build_member(config, prepared, name, trainable_embeddings):
    """A fresh token-id classifier with `config`'s architecture and the task's output activation."""
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
        steps_per_epoch: Batches per epoch (`textclf.training.distribute.Runtime.steps_per_epoch`).
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
                trainer = build_member(config, self.prepared, f"trainer_{len(self._compiled) + 1}",
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

