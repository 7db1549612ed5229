"""One spelling per idea on the command line, help that states defaults once, and a README that says the same.

The README's option tables are checked against `textclf COMMAND --help` as rendered. A table is found
by the line `<!-- options: NAME -->` right above it (NAME: a command of `textclf.cli.COMMANDS`, or
`textclf` for the options given before the command) and has the header `| option | default | meaning |`.
In each row:
- the first cell names one or more options, separated by ", "; each option is its spellings in backticks
  joined by "/" (`` `-i`/`--input` ``, `` `--at-least-one`/`--no-at-least-one` ``), or a positional
  argument's name (`` `TEXT` ``);
- the second cell gives their defaults, separated by ", " in the same order, or one value for all of
  them: the text `--help` shows in `(default: X)` (backticks aside; `\\|` for a `|`), `required`
  for a required option, or `—` where `--help` shows none (flags, positional arguments).
Every option of the command's `--help` is in its table(s) and every option of a table is in `--help`,
except `-h/--help` and the `textclf` table's options, which every command accepts. A command without a
table (a new one) is skipped until its table exists.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from textclf.cli import COMMANDS, build_parser, main
from textclf.commands.options import DEPRECATIONS

README = Path(__file__).resolve().parents[1] / "README.md"
NONE = "—"
CANONICAL = {  # the one spelling of each idea, wherever it appears
    "--input": {"-i", "--input"}, "--model": {"-m", "--model"}, "--output": {"-o", "--output"},
    "--quiet": {"-q", "--quiet"}, "--verbose": {"-v", "--verbose"}, "--text-column": {"--text-column"},
    "--label-column": {"--label-column"},
}


def _help(capsys, monkeypatch, command):
    """`textclf [COMMAND] --help` as printed, on a wide terminal so no help line wraps; None: no such command."""
    monkeypatch.setenv("COLUMNS", "10000")
    capsys.readouterr()
    code = main(([command] if command != "textclf" else []) + ["--help"])
    out = capsys.readouterr().out
    return out if code == 0 else None


def _entries(text):
    """{spellings: (default, help)} of a rendered help: default is `required`, the `(default: X)` text, or None."""
    rows = []
    for line in text.splitlines():
        if re.match(r"^  \S", line):
            invocation, _, words = line[2:].partition("  ")
            rows.append([invocation.strip(), words.strip()])
        elif rows and rows[-1] is not None and re.match(r"^   +\S", line):
            rows[-1][1] = f"{rows[-1][1]} {line.strip()}".strip()
        else:
            rows.append(None)  # usage, descriptions and section titles end an entry
    entries = {}
    for invocation, words in filter(None, rows):
        spellings = frozenset(part.split(" ")[0] for part in invocation.split(", "))
        match = re.search(r"\(default: (.*)\)$", words)
        default = "required" if words.endswith("(required)") else match.group(1) if match else None
        entries[spellings] = (default, words)
    return entries


def _tables():
    """{NAME: {spellings: default}} of the README's option tables (see the module docstring)."""
    tables, name = {}, None
    for line in README.read_text(encoding="utf-8").splitlines():
        marker = re.fullmatch(r"<!-- options: (\S+) -->", line.strip())
        if marker:
            name = marker.group(1)
            tables.setdefault(name, {})
            continue
        if name is None:
            continue
        if not line.startswith("|"):
            name = None
            continue
        cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if cells[0] == "option" or set(cells[0]) <= set("-"):
            continue
        options = [frozenset(re.findall(r"`([^`]+)`", part)) for part in cells[0].split(", ")]
        defaults = [value.replace("`", "").strip() for value in cells[1].split(", ")]
        defaults = defaults * len(options) if len(defaults) == 1 else defaults
        assert len(defaults) == len(options), f"README table {name}: {line}"
        for option, default in zip(options, defaults):
            tables[name][option] = None if default == NONE else default
    return tables


COMMON = {frozenset({"-h", "--help"})}


@pytest.mark.parametrize("command", ["textclf", *COMMANDS])
def test_every_option_has_help_and_its_default_once(capsys, monkeypatch, command):
    text = _help(capsys, monkeypatch, command)
    if text is None:
        pytest.skip(f"no command {command!r} in this build")
    entries = _entries(text)
    assert entries, text
    for spellings, (default, words) in entries.items():
        assert words, f"{sorted(spellings)} has no help text"
        assert words.count("(default:") + words.count("(required)") <= 1, words
        assert default != "None", words


@pytest.mark.parametrize("command", ["textclf", *COMMANDS])
def test_readme_table_matches_help(capsys, monkeypatch, command):
    tables = _tables()
    if command not in tables:
        pytest.skip(f"the README has no `<!-- options: {command} -->` table yet")
    text = _help(capsys, monkeypatch, command)
    assert text is not None, f"the README documents {command!r}, which `textclf` does not have"
    shared = COMMON | (set() if command == "textclf" else set(tables["textclf"]) - {frozenset({"COMMAND"})})
    in_help = {spellings: default for spellings, (default, _) in _entries(text).items() if spellings not in shared}
    assert tables[command] == in_help


def test_the_tables_cover_todays_commands():
    """Every command this commit has is documented (a command added later is checked once its table exists)."""
    assert {"textclf", *COMMANDS} <= set(_tables())


def test_one_spelling_per_idea(capsys, monkeypatch):
    """An option spelled in several commands is spelled the same way (long and short) in each."""
    seen = {}
    for command in ["textclf", *COMMANDS]:
        text = _help(capsys, monkeypatch, command)
        for spellings in _entries(text or ""):
            for spelling in spellings:
                if spelling.startswith("-"):
                    seen.setdefault(spelling, set()).add(spellings)
    for spelling, variants in seen.items():
        assert len(variants) == 1, f"{spelling} is spelled {sorted(map(sorted, variants))}"
    for long, spellings in CANONICAL.items():
        assert seen[long] == {frozenset(spellings)}


@pytest.mark.parametrize(
    "old, new, dest, value",
    [
        (["train", "--train", "t.csv"], ["train", "-i", "t.csv"], "train", "t.csv"),
        (["predict", "in.csv", "-m", "m", "-o", "o.csv"], ["predict", "-i", "in.csv", "-m", "m", "-o", "o.csv"],
         "input", ["in.csv"]),  # --engine ray reads several
        (["evaluate", "-m", "m", "in.csv", "-o", "r"], ["evaluate", "-m", "m", "--input", "in.csv", "-o", "r"],
         "input", "in.csv"),
        (["evaluate", "-i", "in.csv", "-m", "m", "--report-dir", "r"], ["evaluate", "-i", "in.csv", "-m", "m", "-o", "r"],
         "report_dir", "r"),
        (["export", "-m", "m", "--saved-model", "s"], ["export", "-m", "m", "--output", "s"], "saved_model", "s"),
    ],
)
def test_old_spellings_work_for_one_release_with_one_warning(capsys, old, new, dest, value):
    assert getattr(build_parser().parse_args(new), dest) == value
    assert capsys.readouterr().err == ""
    args = build_parser().parse_args(old)
    assert getattr(args, dest) == value and capsys.readouterr().err == ""  # said once the command has succeeded
    said = getattr(args, DEPRECATIONS)
    assert len(said) == 1 and re.fullmatch(r"textclf: warning: .* is deprecated \(removed in the next release\); use --\S+.*",
                                           said[0]), said


def test_an_old_spelling_in_a_failing_run_leaves_the_error_as_the_one_line(tmp_path, capsys):
    assert main(["train", "--train", str(tmp_path / "missing.csv"), "--output", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("textclf: error: ") and "missing.csv" in err[0], err


@pytest.mark.parametrize("argv, missing", [
    (["predict", "-m", "m", "-o", "o.csv"], "-i/--input"),
    (["train"], "-i/--input"),
    (["evaluate", "-i", "x.csv", "-m", "m"], "-o/--output"),
    (["export", "-m", "m"], "-o/--output"),
])
def test_a_missing_required_option_is_one_usage_line(capsys, argv, missing):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"the following arguments are required: {missing}" in err[0], err


@pytest.mark.parametrize("option, given, stored", [
    ("--units", "auto", None), ("--units", "48", 48), ("--batch-size", "auto", None), ("--batch-size", "32", 32),
    ("--learning-rate", "auto", None), ("--learning-rate", "0.01", 0.01), ("--max-length", "auto", None),
    ("--max-length", "50", 50), ("--ensemble", "auto", None), ("--finetune-learning-rate", "auto", None),
])
def test_auto_is_accepted_where_it_is_the_default(option, given, stored):
    args = build_parser().parse_args(["train", "-i", "t.csv", option, given])
    assert getattr(args, option[2:].replace("-", "_")) == stored
    assert getattr(build_parser().parse_args(["train", "-i", "t.csv"]), option[2:].replace("-", "_")) is None


def test_a_bad_auto_value_is_one_usage_line(capsys):
    assert main(["train", "-i", "t.csv", "--units", "many"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["textclf: error: train: argument --units: expected 'auto' or an integer. Received: 'many' "
                   "(see `textclf train --help`)"]


def test_at_least_one_is_a_pair_everywhere():
    for command, args in (("train", ["-i", "t.csv"]), ("predict", ["-i", "x", "-m", "m", "-o", "o"])):
        parser = build_parser()
        assert parser.parse_args([command, *args, "--at-least-one"]).at_least_one is True
        assert parser.parse_args([command, *args, "--no-at-least-one"]).at_least_one is False


def test_help_of_every_command_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from textclf.cli import COMMANDS, main\n"
        "for argv in [['--help']] + [[name, '--help'] for name in COMMANDS]:\n"
        "    main(argv)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr[-2000:]


def test_old_spellings_still_run_a_command(tmp_path, trained_model_dir, capsys):
    """`evaluate INPUT --report-dir DIR`, as before the rename, writes the reports and says what replaces it."""
    from conftest import make_texts, write_csv

    data = write_csv(tmp_path / "test.csv", make_texts(30, seed=5))
    reports = tmp_path / "eval"
    assert main(["evaluate", str(data), "--model", str(trained_model_dir), "--report-dir", str(reports), "-q"]) == 0
    assert (reports / "classification_report.json").exists()
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("textclf: warning:")]
    assert len(warnings) == 2 and "use --input" in warnings[0] and "use --output" in warnings[1], warnings
