"""Resume, plugged into the fit loop from outside: each member's progress as a checkpoint beside the output."""

from __future__ import annotations

from textclf.training.checkpoint import TrainingCheckpoint, fingerprint
from textclf.errors import ConfigError
from textclf.training.state import MemberProgress, NoProgress, StoppingState


def open_progress(config, resume, log):
    """Where this run keeps its progress, or `NoProgress()`.

    Checkpoints are kept under `--distribute none` and `mirrored` (one
    process). Multi-worker runs keep none (each worker would write its own
    beside a shared `--output`), so `--resume` is refused there rather than
    silently starting over.

    Raises:
        ConfigError: `--resume` under multi-worker; a checkpoint exists and
            `resume` is false; or the checkpoint was written with other settings.
    """
    if config.distribute == "multi-worker":
        if resume:
            raise ConfigError("--resume is not available with --distribute multi-worker (workers keep no "
                              "checkpoints); rerun without --resume, or train with --distribute none or mirrored")
        return NoProgress()
    checkpoint = TrainingCheckpoint(config.output, fingerprint(config))
    if checkpoint.exists() and not resume:
        raise ConfigError(
            f"{checkpoint.directory}: an interrupted run left its checkpoints here; pass --resume to "
            "continue it, or delete that directory to start over"
        )
    if resume and checkpoint.load() is None:
        log(f"resume: no checkpoint in {checkpoint.directory}; training from the first epoch")
    return CheckpointProgress(checkpoint)


class CheckpointProgress:
    """The fit loop's progress store on a `TrainingCheckpoint` (member 1 in its directory, member k in `member-k/`)."""

    def __init__(self, checkpoint):
        self.checkpoint = checkpoint

    def member(self, index):
        """The store of member `index` (0-based)."""
        return self if index == 0 else CheckpointProgress(self.checkpoint.member(index))

    def restored(self):
        """The `MemberProgress` of the latest checkpoint, variables included, or None."""
        loaded = self.checkpoint.load()
        if loaded is None:
            return None
        state, arrays = loaded
        return MemberProgress(
            epoch=state["epoch"], history=state["history"], phases=state["phases"], kept_loss=state["kept_loss"],
            kept_weights=arrays.get("kept"), stopping=StoppingState.from_json(state["stopping"]),
            stopping_weights=arrays.get("stopping_best"), frozen_weights=arrays.get("frozen"),
            variables={"model": arrays.get("model"), "optimizer": arrays.get("optimizer")},
        )

    def record(self, progress, model):
        """Saves `progress` and the variables of `model` and its optimizer."""
        state = {"epoch": progress.epoch, "history": progress.history, "phases": progress.phases,
                 "kept_loss": progress.kept_loss, "stopping": progress.stopping.to_json()}
        self.checkpoint.save(state, {
            "model": [v.numpy() for v in model.variables],
            "optimizer": [v.numpy() for v in model.optimizer.variables],
            "stopping_best": progress.stopping_weights,
            "kept": progress.kept_weights,
            "frozen": progress.frozen_weights,
        })

    def finish(self):
        """Removes the checkpoints once the model is saved."""
        self.checkpoint.remove()
