"""Search `textclf train`'s options for the best model a time budget buys (Optuna: `pip install 'textclf[tune]'`).

Any `textclf train` option given fixes that choice; the others of the search space (head, units, layers,
dropout, pooling, learning rate, batch size, max length, embedding mode, n-gram branch and weighting,
class weight) are searched. The first trial trains the defaults; the trials drawn after it, neighbours of the
defaults first, train one member each (unless --ensemble is given). Every choice is made on validation;
--test only reports. --output receives the best trial's model as trained, or the mean of the trials with the
lowest validation log loss (never below the best trial's metric), with trials.csv and tune.html.
"""

from __future__ import annotations

import argparse

HELP = "search train's options within a time budget; keep the best model, trials.csv and tune.html"


class _Searched:
    """An argument group of `textclf train` whose options default to "not given": a given one fixes that choice."""

    def __init__(self, group):
        self.group = group

    def add_argument(self, *names, **kwargs):
        if not kwargs.get("required"):
            if "help" in kwargs:  # train's default, spelled out: argparse has none to show once suppressed
                kwargs["help"] = kwargs["help"].replace("%(default)s", str(kwargs.get("default")))
            kwargs["default"] = argparse.SUPPRESS
        return self.group.add_argument(*names, **kwargs)


def add_arguments(parser):
    """Adds `tune`'s own options, then `textclf train`'s data, embedding, model and training options."""
    from textclf.commands import train

    own = parser.add_argument_group("tuning")
    own.add_argument("--budget", required=True, metavar="DURATION",
                     help="time for the whole run, final model included: 90s, 30m, 2h")
    own.add_argument("--metric", metavar="M",
                     help="validation metric maximized: accuracy (default), macro_f1, f1:LABEL; with --multi-label "
                          "micro_f1 (default) or macro_f1, thresholds applied")
    own.add_argument("--storage", metavar="STORAGE",
                     help="where trials are kept so a run resumes and several share them: journal:PATH (a file) or "
                          "a database URL (postgresql://..., mysql://..., sqlite:///...); default: in memory")
    own.add_argument("--study", metavar="NAME", help="study name in --storage (default: textclf)")
    own.add_argument("-o", "--output", metavar="DIR", help="model directory (default: models/<name>)")
    own.add_argument("--name", help="name for the default output directory (default: from the training file)")
    own.add_argument("-q", "--quiet", action="store_true", help="no line per trial")
    for add in (train._data_arguments, train._embedding_arguments, train._model_arguments, train._fit_arguments):
        add(_Searched(parser.add_argument_group(f"train options ({add.__name__.strip('_').split('_')[0]})")))


def run(args):
    """Runs the search; prints where the model is, its validation metric and the command that trains it."""
    from textclf.config import config_fields
    from textclf.tuning import NOT_FIXED, tune

    given = {name: getattr(args, name) for name in config_fields() if hasattr(args, name) and name not in NOT_FIXED}
    result = tune(args.train, budget=args.budget, metric=args.metric, storage=args.storage, study=args.study,
                  output=args.output, name=args.name, verbose=getattr(args, "verbose", False),
                  log=(lambda line: None) if args.quiet else None, **given)
    print(f"model: {result.output}/model.keras (trials.csv and tune.html beside it)")
    print(f"validation value {result.value:.4f}; trials run here: {result.trials}, pruned: {result.pruned}")
    if len(result.ensemble) > 1:
        averaged = ", ".join(f"{number} ({weight:.2f})" for number, weight in result.ensemble.items())
        print(f"the model averages trials {averaged}; each one's train command: tune.html, metadata.json")
    print(f"train {'its best trial' if len(result.ensemble) > 1 else 'it'} again: {result.command}")
    return 0
