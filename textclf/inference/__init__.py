"""inference: a stage of the textclf pipeline."""
