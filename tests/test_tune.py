"""`textclf tune`: bad input, the search's output, pruning and the deadline inside a fit, shared journals."""

import csv
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT, make_texts, run_python, write_csv
from test_report_html import assert_self_contained, chromium, render  # noqa: F401 - chromium: the shared fixture

pytest.importorskip("optuna")

FIXED = ["--units", "8", "--epochs", "2", "--max-length", "12", "--batch-size", "16", "--patience", "1",
         "--ensemble", "1", "--embedding-mode", "frozen"]
LABEL = "<b>sports</b>&"  # a label with markup: data everywhere it is shown


def _rows(n, seed):
    return [(text, LABEL if label == "sports" else label) for text, label in make_texts(n, seed=seed)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune_data")
    return write_csv(root / "train.csv", _rows(120, 1)), write_csv(root / "test.csv", _rows(30, 2))


def _trials(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_help_and_import_load_neither_optuna_nor_tensorflow():
    out = run_python("import sys, io, contextlib, textclf\nfrom textclf.cli import main\n"
                     "with contextlib.redirect_stdout(io.StringIO()):\n    main(['tune', '--help'])\n"
                     "print(sorted(m for m in ('optuna', 'tensorflow') if m in sys.modules))")
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("extra, message", [
    (["--budget", "1s"], "shorter than one epoch of the defaults"),
    (["--budget", "soon"], "budget must be a positive duration"),
    (["--budget", "5m", "--metric", "precision"], "metric must be one of"),
    (["--budget", "5m", "--metric", "f1:nosuch"], "no label 'nosuch'"),
    (["--budget", "5m", "--storage", "journal:/nonexistent/dir/j.log"], "cannot be opened"),
    (["--budget", "5m", "--storage", "nosuchdb://x"], "cannot be opened"),
])
def test_bad_input_is_one_line_and_exit_2_before_any_work(data, tmp_path, capsys, extra, message):
    from textclf.cli import main

    assert main(["tune", "--input", str(data[0]), "--output", str(tmp_path / "out"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert sorted(os.listdir(tmp_path)) == []  # nothing written, not even the trials' folder


@pytest.fixture(scope="module")
def tuned(data, tmp_path_factory):
    """One search of 90 s on the tiny data, the train options that make it fast fixed."""
    from textclf.cli import main

    out = tmp_path_factory.mktemp("tuned") / "model"
    started = time.monotonic()
    status = main(["tune", "--input", str(data[0]), "--test", str(data[1]), "--budget", "90s", "--output", str(out),
                   "--metric", f"f1:{LABEL}", "--study", "<i>study</i>", *FIXED])
    return status, out, time.monotonic() - started


def test_tune_writes_the_best_model_trials_and_page(tuned, data):
    import textclf

    status, out, seconds = tuned
    assert status == 0
    assert {"model.keras", "metadata.json", "reports", "trials.csv", "tune.html"} <= set(os.listdir(out))
    assert not any(name.endswith(".tuning") for name in os.listdir(out.parent))  # the trials' folder is gone
    assert seconds < 90 * 1.25  # the budget holds (start-up aside); generous for a shared machine
    trials = _trials(out / "trials.csv")
    first = trials[0]  # the defaults
    assert (first["head"], first["pooling"], first["wide"], first["wide_weighting"], first["class_weight"]) == (
        "bigru", "max", "bigrams", "auto", "none")
    assert "units" not in first and "ensemble" not in first  # fixed on the command line: not searched
    finished = [t for t in trials if t["state"] == "complete"]
    assert finished and all(t["state"] in ("complete", "pruned", "fail") for t in trials)
    best = max(float(t["value"]) for t in finished)
    metrics = textclf.load(out).metadata["fitted"]["metrics"]
    assert metrics["validation_label_f1"][LABEL] == pytest.approx(best, abs=1e-6)  # kept as trained
    assert list(textclf.load(out).predict(["my dog and the cat"])) == ["animals"]


def test_drawn_trials_train_one_member_unless_the_ensemble_is_fixed(data, tmp_path):
    from textclf.cli import main
    from textclf.config import TrainConfig
    from textclf.tuning.space import train_command, trial_changes

    assert trial_changes(set(), False, seed=42, number=3) == {"ensemble": 1, "member_seed": 1045}
    assert trial_changes(set(), True, 42, 3) == trial_changes({"ensemble", "member_seed"}, False, 42, 3) == {}
    command = train_command(TrainConfig(train="t.csv"), set(), {"head": "gru"}, {"ensemble": 1, "member_seed": 1045})
    assert "--ensemble 1 --member-seed 1045" in command
    unfixed = [option for pair in zip(FIXED[::2], FIXED[1::2]) if pair[0] != "--ensemble" for option in pair]
    out = tmp_path / "model"
    assert main(["tune", "--input", str(data[0]), "--budget", "75s", "--output", str(out), "-q", *unfixed]) == 0
    trials = _trials(out / "trials.csv")
    assert trials[0]["members"] == "3" and "ensemble" not in trials[0]  # the defaults: textclf's own 3 members
    finished = [t for t in trials[1:] if t["state"] == "complete"]
    assert finished and {t["members"] for t in finished} == {"1"}


def test_the_first_drawn_trials_are_the_defaults_with_two_values_drawn_anew(data, tmp_path):
    from textclf.cli import main
    from textclf.config import TrainConfig
    from textclf.tuning.space import NEIGHBOUR_CHANGES, NEIGHBOUR_TRIALS, SPACE, default_params, neighbour_params

    defaults = default_params(TrainConfig(train="t.csv"), set())
    left_out = [frozenset(defaults) - set(neighbour_params(defaults, 42, n)) for n in range(1, NEIGHBOUR_TRIALS + 1)]
    assert {len(names) for names in left_out} == {NEIGHBOUR_CHANGES} and len(set(left_out)) > 1  # not the same two
    out = tmp_path / "model"
    assert main(["tune", "--input", str(data[0]), "--budget", "90s", "--output", str(out), "-q", *FIXED]) == 0
    trials = _trials(out / "trials.csv")
    searched = [name for name in SPACE if name in trials[0]]
    assert len(searched) > NEIGHBOUR_CHANGES + 2 and len(trials) >= 2

    def changed(trial):
        return {name for name in searched if trial[name] != trials[0][name]
                and not (name == "wide_weighting" and trial["wide"] == "none")}  # moot without the n-gram branch

    neighbours = trials[1:NEIGHBOUR_TRIALS + 1]
    assert all(len(changed(t)) <= NEIGHBOUR_CHANGES for t in neighbours), [changed(t) for t in neighbours]


def test_averaging_is_budgeted_on_the_picked_trials_own_times_not_the_slowest_trial():
    import optuna

    from textclf.tuning.budget import Clock
    from textclf.tuning.run import AFTER_FIT, _averaging_seconds, _Timing

    def trial(after_fit=None):
        attrs = {} if after_fit is None else {AFTER_FIT: after_fit}
        return optuna.trial.create_trial(value=0.5, user_attrs=attrs)

    timing, clock = _Timing(after_fit=11.3), Clock(budget=200)  # 11.3 s: a slow trial that is not picked
    assert _averaging_seconds([trial(4.0), trial(6.8)], timing, clock) == pytest.approx(6.8)
    assert _averaging_seconds([trial(4.0), trial()], timing, clock) == pytest.approx(11.3)  # unknown: the slowest


def test_select_lowers_validation_log_loss_weighs_repeats_and_never_lowers_the_metric():
    import numpy as np

    from textclf.tuning.ensemble import select

    y = np.array([0, 0, 1, 1])

    def score(p):  # accuracy, then -log loss
        return float(np.mean(p.argmax(1) == y)), float(np.mean(np.log(p[np.arange(4), y])))

    def two(p1):
        return np.stack([1 - np.asarray(p1), np.asarray(p1)], axis=1)

    a, b = two([0.4, 0.4, 0.6, 0.45]), two([0.45, 0.6, 0.6, 0.9])  # accuracy 0.75 each; b the lower log loss
    useless = two([0.9, 0.9, 0.1, 0.1])
    picks, value = select({0: a, 1: b, 2: useless}, score)
    assert 2 not in picks and next(iter(picks)) == 1  # equal accuracy: the first pick is the lower log loss (b)
    assert picks[1] > 1 and picks[0] >= 1  # repeats weigh: b counts more than a
    mean = (picks[0] * a + picks[1] * b) / (picks[0] + picks[1])
    assert value == pytest.approx(score(mean)) and value[0] >= 0.75 and value[1] > score(b)[1]
    picks, _ = select({0: a, 2: useless}, score)
    assert dict(picks) == {0: 1}  # nothing lowers the log loss: the best trial alone
    right, smooth = two([0.45, 0.45, 0.55, 0.55]), two([0.2, 0.6, 0.8, 0.8])  # smooth: lower log loss, 0.75
    picks, value = select({0: right, 1: smooth}, score)
    assert dict(picks) == {0: 1} and value == score(right)  # every mix with it loses accuracy: not taken


def test_the_kept_mean_of_trials_is_a_model_directory_keras_loads_on_raw_strings(tmp_path, capsys):
    import numpy as np

    import textclf
    from conftest import predict_with_plain_keras
    from textclf.cli import main
    from textclf.config import TrainConfig
    from textclf.tuning.ensemble import validation_rows, write_ensemble

    train = write_csv(tmp_path / "train.csv", _rows(120, 1))
    test = write_csv(tmp_path / "test.csv", _rows(30, 2))
    options = dict(units=8, epochs=2, max_length=12, batch_size=16, patience=1, ensemble=1, embedding_mode="frozen")
    for name, member_seed in (("a", None), ("b", 45)):
        textclf.train(str(train), output=str(tmp_path / name), member_seed=member_seed, **options)
    a, b = textclf.load(tmp_path / "a"), textclf.load(tmp_path / "b")
    assert [m["seed"] for m in b.metadata["fitted"]["members"]] == [45]
    assert a.metadata["fitted"]["split"] == b.metadata["fitted"]["split"]  # --member-seed keeps the split
    validation = validation_rows(TrainConfig(train=str(train), test=str(test), **options))
    (tmp_path / "mean").mkdir()
    write_ensemble(tmp_path / "mean", {0: 2, 1: 1}, {0: tmp_path / "a", 1: tmp_path / "b"}, validation,
                   {0: "textclf train A", 1: "textclf train <b>B</b>"}, str(test))
    texts = ["my dog and the cat", "pizza and cheese today", "we like tennis"]
    expected = (2 * a.predict_proba(texts) + b.predict_proba(texts)) / 3
    kept = textclf.load(tmp_path / "mean")
    np.testing.assert_allclose(kept.predict_proba(texts), expected, atol=1e-5)
    np.testing.assert_allclose(predict_with_plain_keras(tmp_path / "mean" / "model.keras", texts), expected, atol=1e-5)
    record = kept.metadata["fitted"]["tuned_ensemble"]
    assert [(t["trial"], round(t["weight"], 4), t["command"]) for t in record["trials"]] == [
        (0, 0.6667, "textclf train A"), (1, 0.3333, "textclf train <b>B</b>")]
    assert kept.metadata["fitted"]["metrics"]["evaluated_on"].startswith("test")
    assert (tmp_path / "mean" / "reports" / "report.html").is_file()
    for command in (["info", "-m", str(tmp_path / "mean")],
                    ["explain", "-m", str(tmp_path / "mean"), "my dog and the cat"],
                    ["export", "-m", str(tmp_path / "mean"), "-o", str(tmp_path / "exported")]):
        assert main(command) == 0, command
    assert "tuned ensemble: the mean of trials 0 (weight 0.67), 1 (weight 0.33)" in capsys.readouterr().out


def test_tune_page_escapes_data_and_renders_in_chromium(tuned, chromium, tmp_path):
    status, out, _ = tuned
    page = (out / "tune.html").read_text(encoding="utf-8")
    assert "<b>sports</b>" not in page and "<i>study</i>" not in page
    assert "&lt;b&gt;sports&lt;/b&gt;&amp;" in page and "textclf train --input" in page
    assert_self_contained(out / "tune.html")
    assert render(chromium, out / "tune.html", tmp_path / "tune.png", tmp_path) == []


def _trial(study_pruner):
    import optuna

    study = optuna.create_study(direction="maximize", pruner=study_pruner)
    return study.ask()


def _config(train):
    from textclf.config import TrainConfig

    return TrainConfig(train=str(train), units=8, epochs=3, batch_size=16, max_length=12, patience=3,
                       embedding_mode="frozen", ensemble=1, wide="none")


def test_a_hopeless_trial_stops_after_its_first_epoch(data, tmp_path):
    import optuna

    from textclf.tuning.trial import TrialHook, run_trial

    hook = TrialHook(_trial(optuna.pruners.ThresholdPruner(lower=0.0)), deadline=time.monotonic() + 600)
    with pytest.raises(optuna.TrialPruned):  # -loss < 0: below the threshold at the first report
        run_trial(_config(data[0]), {}, tmp_path / "trial", hook, verbose=False)
    assert hook.epochs == 1 and not (tmp_path / "trial").exists()


def test_the_deadline_cuts_a_trial_inside_its_first_epoch(data, tmp_path):
    import optuna

    from textclf.tuning.trial import TrialCut, TrialHook, run_trial

    hook = TrialHook(_trial(optuna.pruners.NopPruner()), deadline=time.monotonic())
    with pytest.raises(TrialCut):
        run_trial(_config(data[0]), {}, tmp_path / "trial", hook, verbose=False)
    assert hook.epochs == 0 and not (tmp_path / "trial").exists()


def _tune(train, journal, out, budget):
    return subprocess.Popen(
        [sys.executable, "-m", "textclf", "tune", "--input", str(train), "--budget", budget, "--storage",
         f"journal:{journal}", "--study", "shared", "--output", str(out), *FIXED],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def _study_trials(journal):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    return optuna.load_study(study_name="shared", storage=storage).get_trials(deepcopy=False)


def test_a_journal_resumes_and_two_processes_share_it(data, tmp_path):
    journal = tmp_path / "study.journal"
    first = _tune(data[0], journal, tmp_path / "first", "120s")
    assert first.wait(timeout=300) == 0, first.stderr.read()[-2000:]
    before = len(_study_trials(journal))
    assert before == len(_trials(tmp_path / "first" / "trials.csv"))
    a, b = _tune(data[0], journal, tmp_path / "a", "150s"), _tune(data[0], journal, tmp_path / "b", "150s")
    for process in (a, b):
        status, err = process.wait(timeout=300), process.stderr.read()
        # On a loaded machine a process may finish none of its own trials: then it says so (exit 2).
        assert status == 0 or (status == 2 and "ended before any trial finished" in err), err[-2000:]
    trials = _study_trials(journal)
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # one numbering: none repeated or lost
    later = [t for t in trials if t.number >= before]
    assert {t.user_attrs["pid"] for t in later} == {a.pid, b.pid}  # both processes ran trials of the one study
    points = {pid: {tuple(sorted(t.params.items())) for t in later if t.user_attrs["pid"] == pid}
              for pid in (a.pid, b.pid)}
    assert points[a.pid] != points[b.pid]  # each drew its own points (their samplers' seeds differ)
    assert [t.number for t in trials if t.user_attrs.get("defaults")] == [0]  # first and once, not again on resuming
