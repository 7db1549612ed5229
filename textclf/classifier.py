"""The `TextClassifier` moved to `textclf.inference.classifier`; this module re-exports it for one release."""

from textclf.inference.classifier import TextClassifier  # noqa: F401

__all__ = ["TextClassifier"]
