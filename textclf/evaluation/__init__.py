"""evaluation: a stage of the textclf pipeline."""
