"""Golden test: the registry of heads is what the docs and the CLI promise."""

from textclf.models import HEADS, POOLINGS


def test_registered_heads():
    assert sorted(HEADS) == ["bigru", "bilstm", "cnn", "gru", "lstm"]
    for name, spec in HEADS.items():
        assert spec.name == name and spec.description and callable(spec.build)


def test_poolings():
    assert POOLINGS == ("last", "max", "mean", "maxmean")


def test_cli_choices_come_from_registry(capsys, monkeypatch):
    from textclf.cli import build_parser, main

    monkeypatch.setenv("COLUMNS", "10000")  # one line per option: descriptions are not wrapped
    assert main(["train", "--help"]) == 0
    help_text = capsys.readouterr().out
    for name, spec in HEADS.items():
        assert f"{name}: {spec.description}" in help_text
    assert build_parser().parse_args(["train", "-i", "t.csv", "--head", "bigru,cnn"]).head == "bigru,cnn"


def test_head_lists_and_members():
    import pytest

    from textclf.config import TrainConfig
    from textclf.errors import ConfigError
    from textclf.models.ensemble import member_heads

    assert member_heads("bigru", 3) == ("bigru", "bigru", "bigru")
    assert member_heads("bigru,cnn", 5) == ("bigru", "cnn", "bigru", "cnn", "bigru")
    assert member_heads("bigru, cnn", 1) == ("bigru",)
    with pytest.raises(ConfigError, match=r"or several of them joined by commas\. Received: head='bigru,,cnn'"):
        TrainConfig(train="t.csv", head="bigru,,cnn").validate()
    with pytest.raises(ConfigError, match=r"pooling must be one of \('max', 'mean', 'maxmean'\) with head='cnn'"):
        TrainConfig(train="t.csv", head="bigru,cnn", pooling="last").validate()


def test_unknown_head_message():
    import pytest

    from textclf.errors import ConfigError
    from textclf.models import get_head

    with pytest.raises(ConfigError, match=r"head must be one of \('bigru', 'bilstm', 'cnn', 'gru', 'lstm'\)\. Received: head='transformer'"):
        get_head("transformer")


# The defaults benchmarks/RESULTS.md reports accuracy for; changing one needs the benchmark re-run.
BENCHMARKED_DEFAULTS = {
    "embeddings": "glove-6b-50d", "embedding_mode": "two-phase", "head": "bigru", "units": None, "layers": 1,
    "dropout": 0.3, "embedding_dropout": 0.1, "pooling": "max", "max_tokens": 40000, "wide": "bigrams",
    "wide_max_tokens": 200000, "wide_weighting": "auto", "max_length": None, "epochs": 20, "batch_size": None,
    "learning_rate": None, "patience": 2, "seed": 42, "validation_split": 0.1, "ensemble": None,
    "validation_split_by": "documents", "min_delta": 1e-3,
}


def test_benchmarked_defaults():
    from textclf.config import TrainConfig

    config = TrainConfig(train="x.csv").to_dict()
    assert {key: config[key] for key in BENCHMARKED_DEFAULTS} == BENCHMARKED_DEFAULTS


def test_cli_defaults_are_the_config_defaults():
    from textclf.cli import build_parser
    from textclf.config import TrainConfig

    args = vars(build_parser().parse_args(["train", "-i", "x.csv"]))
    config = TrainConfig(train="x.csv").to_dict()
    assert {key: args[key] for key in BENCHMARKED_DEFAULTS} == {key: config[key] for key in BENCHMARKED_DEFAULTS}
