"""Golden test: the registry of heads is what the docs and the CLI promise."""

from textclf.models import HEADS, POOLINGS


def test_registered_heads():
    assert sorted(HEADS) == ["bigru", "bilstm", "gru", "lstm"]
    for name, spec in HEADS.items():
        assert spec.name == name and spec.description and callable(spec.build)


def test_poolings():
    assert POOLINGS == ("last", "max", "mean", "maxmean")


def test_cli_choices_come_from_registry():
    from textclf.cli import build_parser

    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    head = next(a for a in train._actions if a.dest == "head")
    assert list(head.choices) == sorted(HEADS)


def test_unknown_head_message():
    import pytest

    from textclf.errors import ConfigError
    from textclf.models import get_head

    with pytest.raises(ConfigError, match=r"head must be one of \('bigru', 'bilstm', 'gru', 'lstm'\)\. Received: head='cnn'"):
        get_head("cnn")
