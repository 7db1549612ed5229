# make install: .venv with textclf (editable) and its dependencies.
# make demo:    install, then train on the emotions sample in examples/ with the defaults; prints where
#               the model and reports are, the test accuracy, and a command to try.
# make test:    install, then run the whole test suite (slow tests included).
# make claims:  install, then re-measure every headline claim of the README against TF-IDF + LR
#               (benchmarks/claims.py: about an hour on 2 CPU cores; `make claims-quick`: a subset, minutes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench claims claims-quick clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,serve,tune,ray]"
	touch $(STAMP)

demo: install
	$(VENV)/bin/textclf train --input examples/emotions_train.csv --test examples/emotions_test.csv --output models/demo
	@echo
	@echo "Now try it on comments it has never seen (predictions written to the terminal):"
	@echo "  $(VENV)/bin/textclf predict -i examples/emotions_unlabeled.csv -m models/demo -o -"

test: install
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

claims: install
	$(PY) benchmarks/claims.py

claims-quick: install
	$(PY) benchmarks/claims.py --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
