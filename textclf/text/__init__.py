"""text: a stage of the textclf pipeline."""
