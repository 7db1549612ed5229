"""runtime: a stage of the textclf pipeline."""
