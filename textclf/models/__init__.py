"""Model construction: the head registry and the Keras graphs built from it."""

from textclf.models.heads import HEADS, POOLINGS, get_head, register_head

__all__ = ["HEADS", "POOLINGS", "get_head", "register_head"]
