"""The fit loop's state as plain data: what a checkpoint saves and a resumed run continues from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class StoppingState:
    """Where early stopping stands in a phase.

    Attributes:
        best: Lowest validation loss so far (its weights are the ones kept).
        best_epoch: Its epoch (1-based, counted over all phases).
        reference: The loss of the last epoch that improved on the previous
            reference by more than `min_delta`.
        wait: Epochs since then.
        stopped: Whether the phase has stopped.
    """

    best: float | None = None
    best_epoch: int | None = None
    reference: float | None = None
    wait: int = 0
    stopped: bool = False

    def to_json(self):
        """The state as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, value):
        """The state `to_json` wrote."""
        return cls(**value)


@dataclass
class MemberProgress:
    """Where one member's fit stands after a completed epoch: enough to continue it exactly.

    Attributes:
        epoch: Epochs completed, over all phases.
        history: One row per completed epoch.
        phases: Summaries of the finished phases (the current one is `len(phases)`).
        kept_loss: Lowest monitored validation loss (the one stopping follows) of the finished phases, and
        kept_weights: its weights.
        stopping: Early stopping of the current phase, and
        stopping_weights: the weights it keeps.
        variables: `{"model": [...], "optimizer": [...]}` values to restore
            (set only on a progress read back from a checkpoint).
        frozen_weights: The weights at the end of a frozen phase followed by
            fine-tuning: where members 2..N start under `--member-start frozen`.
    """

    epoch: int = 0
    history: list = field(default_factory=list)
    phases: list = field(default_factory=list)
    kept_loss: float | None = None
    kept_weights: list | None = None
    stopping: StoppingState = field(default_factory=StoppingState)
    stopping_weights: list | None = None
    variables: dict | None = None
    frozen_weights: list | None = None


class NoProgress:
    """A run that keeps no checkpoints: nothing recorded, nothing restored."""

    def member(self, index):
        return self

    def restored(self):
        return None

    def record(self, progress, model):
        pass

    def finish(self):
        pass
