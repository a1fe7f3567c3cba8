# YTEmpire: two commands.
#   make run   set up .venv, migrate the database, start the workbench on http://localhost:8501
#   make test  set up .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8501

.PHONY: run test setup bench clean

setup: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Listens on .streamlit/config.toml's address (127.0.0.1); `make run ADDRESS=0.0.0.0` opens it to the network.
run: setup
	$(PY) -m pipeline init
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true $(if $(ADDRESS),--server.address $(ADDRESS))

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m pip install --quiet --no-deps -r bench/requirements.txt
	$(PY) bench/render.py

clean:
	rm -rf $(VENV) .pytest_cache
