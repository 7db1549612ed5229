"""data: a stage of the textclf pipeline."""
