"""Training as a sequence of stages, each a function over explicit data objects.

    prepare    read the tables, split off validation, vocabulary, max length, embeddings
    recurrent  fit the recurrent members (the fit loop; resume and distribution plug in)
    ngram      fit the n-gram branch
    assemble   the end-to-end graph and the mixing weight
    save       metadata.json (schema 2), model.keras and the reports, atomically
    report     metrics through the assembled model, and the closing log lines

`run.run_training` calls them in this order; `train()` is the library entry
point and `textclf train` a thin layer over `run_training()`.
"""

from textclf.training.run import default_output, run_training, train

__all__ = ["default_output", "run_training", "train"]
