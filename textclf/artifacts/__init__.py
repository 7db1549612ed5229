"""artifacts: a stage of the textclf pipeline."""
