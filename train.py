#!/usr/bin/env python
"""`python train.py ...` is `textclf train ...`."""

import sys

from textclf.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
