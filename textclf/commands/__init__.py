"""Subcommands of the `textclf` command line, one module each."""
