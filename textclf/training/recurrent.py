"""Stage 3, fit the recurrent members: the fit loop.

The loop knows nothing of checkpoints or strategies. What it needs from its
surroundings comes in as two objects:

* `runtime` (`textclf.training.distribute.Runtime`): a scope to build and compile in,
  datasets made ready for the strategy, a hook before `fit`, and plain copies
  of the trained models;
* `progress`: where each member's `MemberProgress` goes after every epoch and
  comes back from when resuming (`textclf.training.resume`), or `NoProgress()`.

Each member trains in one or two phases (frozen, then fine-tuned embeddings),
each stopped early on a validation loss (`textclf.training.stopping`): by
default (`--stop-on mixed`) that of its mix with the n-gram branch, or its own.

The stage is laid out in `phases` (one member's fit), `trainers` (the compiled
models members train in, the loss) and `stopping` (validation scores, early stopping).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras
import numpy as np

from textclf.training.phases import fit_member, shares_frozen_phase
from textclf.training.stopping import MIXED_LOSS, RECURRENT_LOSS, ValidationScores
from textclf.training.trainers import Trainers, build_member, training_loss


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
    """Stage 3: fits the members with seeds `config.member_seed` (default `config.seed`), + 1, ... and averages them.

    Each member reseeds every generator and keeps its own progress, so an
    ensemble resumes member by member and the same seed gives the same ensemble.

    Args:
        config: The `TrainConfig`.
        prepared: The `textclf.training.prepare.Prepared` data.
        runtime: A `textclf.training.distribute.Runtime`.
        progress: `NoProgress()` or a checkpoint store (`textclf.training.resume`).
        log: Progress lines.
        verbose: `verbose` of `Model.fit`.
        ngram: The `NgramFit` (stage 2), or None; with `config.stop_on` "mixed",
            each member stops on its mix with this branch.

    Returns:
        A `RecurrentFit`.
    """
    from textclf.models.ensemble import member_heads, resolve_members, resolve_units

    members, rule = resolve_members(config.ensemble, prepared.training_tokens)
    config = dataclasses.replace(config, units=resolve_units(config.units, members))
    if members > 1:
        log(f"ensemble: {members} models averaged ({rule}; here {prepared.training_tokens:,}), "
            f"{config.units} units each")
    heads = member_heads(config.head, members)
    shared = members > 1 and shares_frozen_phase(config, heads)
    if members > 1 and config.member_start == "frozen" and not shared:
        log("--member-start frozen needs --embedding-mode two-phase and one head; members start from scratch")
    trained, records, history = _fit_each(config, prepared, runtime, progress, log, verbose, ngram, heads, shared)
    model, combine = _combine(config, prepared, trained, shared, log)
    return RecurrentFit(model=model, members=records, history=history, rule=rule, combine=combine)


def _fit_each(config, prepared, runtime, progress, log, verbose, ngram, heads, shared):
    """`(trained, records, history)`: each member fitted in turn (see `fit_members`), as plain models."""
    from textclf.models.build import CLASSIFIER_NAME
    from textclf.models.ensemble import member_name

    members = len(heads)
    trained, records, history, start = [], [], [], None
    trainers = Trainers(prepared, runtime)
    scores = ValidationScores(prepared, ngram, runtime.local_copy, training_loss(prepared))
    monitor = MIXED_LOSS if config.stop_on == "mixed" and ngram is not None else RECURRENT_LOSS  # decided once
    if monitor == MIXED_LOSS:
        log("early stopping follows the validation log loss of the recurrent model mixed with the n-gram branch")
    min_delta = prepared.task.min_improvement(config.min_delta)  # what phases.py stops on
    if min_delta != config.min_delta:
        log(f"early stopping: --min-delta {config.min_delta:g} is a fall of the loss summed over the labels, "
            f"{min_delta:.3g} of their mean")
    for index in range(members):
        member_config = dataclasses.replace(config, seed=config.first_member_seed + index, head=heads[index])
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
    return trained, records, history


def _combine(config, prepared, trained, shared, log):
    """`(model, combine)`: one member as it is, else the members' averaged probabilities or weights."""
    from textclf.models.build import CLASSIFIER_NAME
    from textclf.models.ensemble import build_ensemble

    members = len(trained)
    if members == 1:
        return trained[0], None
    combine = "weights" if shared and config.ensemble_combine == "weights" else "probabilities"
    if config.ensemble_combine == "weights" and not shared:
        log("--ensemble-combine weights needs members fine-tuned from one frozen phase (--member-start frozen); "
            "averaging their probabilities")
    if combine == "probabilities":
        return build_ensemble(trained, CLASSIFIER_NAME), combine
    model = build_member(config, prepared, CLASSIFIER_NAME, trainable_embeddings=False)
    model.set_weights(average_weights(trained))
    log(f"ensemble: the {members} members' weights averaged into one model")
    return model, combine


def average_weights(models):
    """Each weight's mean over `models` (same architecture): a "uniform soup" (Wortsman et al., ICML 2022).

    Meaningful only for models fine-tuned from the same weights, which stay in
    one basin of the loss; for independently initialized models the mean is noise.
    """
    return [np.mean(values, axis=0) for values in zip(*(model.get_weights() for model in models))]

