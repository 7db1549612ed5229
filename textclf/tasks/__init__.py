"""Tasks: what a model predicts and how it is judged (one class per kind of labels; see `textclf.tasks.base`)."""

from textclf.tasks.base import REGISTRY, Task, for_training, from_config, from_metadata, register, task_class

__all__ = ["REGISTRY", "Task", "for_training", "from_config", "from_metadata", "register", "task_class"]
