# Haven — `make help` lists the targets. Everything runs inside .venv, created on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
RASA    := $(PY) -m haven.plugins.rasa_server
SPACY   := build/spacy-en/meta.json
MODEL   := models/haven.tar.gz
STAMP    = $(wildcard $(VENV)/.installed-*)

# No telemetry from anything make starts. The rest of the servers' environment (the endpoint values,
# quiet TensorFlow) comes from haven/settings.py through the launcher and `haven.plugins.rasa_server`.
export RASA_TELEMETRY_ENABLED := false

TRAIN_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) \
                $(wildcard nlu_components/*.py nlu_components/crisis/*.py haven/encoder/*.py safety/*.yml safety/crisis_patterns/*.yml)

.PHONY: help install run test test-unit train validate eval lint clean lock safety-domain faq-nlu bench bench-quick bench-first-run profile crisis-cv crisis-finetune-cv faq-contrastive bench-encoder purge staff-password

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## create .venv with the locked packages (idempotent; installs Debian build libraries as root)
	@scripts/bootstrap.sh
	@$(MAKE) --no-print-directory $(SPACY)

$(SPACY): scripts/build_spacy_pipeline.py requirements/lock.txt
	@$(PY) scripts/build_spacy_pipeline.py build/spacy-en

train: install ## train the model if data, domain or config changed (Rasa fingerprints the rest)
	@$(MAKE) --no-print-directory $(MODEL)

$(MODEL): $(TRAIN_INPUTS) $(SPACY)
	@echo "Training the model (data, domain or config changed)…"
	@PYTHONWARNINGS=ignore::DeprecationWarning $(PY) -m haven.plugins.rasa_server train --fixed-model-name haven 2>&1 | grep -v -E "^\s*$$|it/s|Warning|warn\(" | tail -n 20; test $${PIPESTATUS[0]} -eq 0
	@touch $(MODEL)

validate: install ## check the training data and domain for inconsistencies
	@$(RASA) data validate --fail-on-warnings

run: train ## install, train if needed, start all three servers (Ctrl-C stops them)
	@$(PY) -m haven.ops.launcher

test: train ## install, train if needed, then run the whole test suite
	@scripts/bootstrap.sh --system-test-deps
	@$(PY) -m pytest

test-unit: install ## the tests that need no trained model, server or browser, in under a minute (no training)
	@$(PY) -m pytest -n auto -m "not model and not e2e and not browser and not slow" --durations=5 $(PYTEST_ARGS)

purge: install ## delete conversations and handled items past their retention period, and report counts
	@$(PY) -m haven.ops.retention

staff-password: install ## set the therapist's sign-in password for /staff (asks twice; never from the environment)
	@$(PY) -m website.staff_auth

eval: train ## print the NLU and crisis-detection evaluation reports
	@$(PY) scripts/evaluate.py

bench: train ## throughput, latency, memory, start-up and training time vs stock Rasa; saves docs/benchmarks.md (a few minutes)
	@$(PY) scripts/bench.py $(BENCH_ARGS)

bench-quick: train ## smoke run of `make bench`: short windows, no training, nothing saved
	@$(PY) scripts/bench.py --quick $(BENCH_ARGS)

bench-first-run: install ## a first `make run` on a fresh clone of HEAD, timed to the first answer (target < 8 min; ~6 min)
	@$(PY) scripts/bench_first_run.py $(BENCH_ARGS)

bench-encoder: install ## sentence encoder: ms/message by length and batch, chunked long messages, load time, RSS (onnx vs numpy)
	@$(PY) scripts/bench_encoder.py $(BENCH_ARGS)

crisis-cv: install ## choose the crisis risk model's thresholds: cross-validation across the writers of data/crisis (several minutes)
	@$(PY) scripts/crisis_model_cv.py $(CV_ARGS)

faq-contrastive: train ## experiment: the FAQ matcher on a contrastively tuned encoder (TensorFlow, two seeds; ~15 min on 2 cores); counts only
	@$(PY) scripts/faq_contrastive.py tune --seed 0
	@$(PY) scripts/faq_contrastive.py tune --seed 1
	@$(PY) scripts/faq_contrastive.py evaluate --blind build/faq-contrastive/seed0.safetensors build/faq-contrastive/seed1.safetensors

crisis-finetune-cv: install ## experiment: would a fine-tuned encoder beat the frozen one for the risk model? (torch in .venv-finetune; ~45 min on 2 cores)
	@$(PY) scripts/crisis_finetune_cv.py prepare --blind
	@test -x .venv-finetune/bin/python || { $(PY) -m venv --clear .venv-finetune && \
	  .venv-finetune/bin/pip install -q torch==2.13.0 transformers==5.25.0 numpy; }
	@.venv-finetune/bin/python scripts/crisis_finetune_cv.py finetune --blind $(CV_ARGS)
	@$(PY) scripts/crisis_finetune_cv.py hybrid --blind
	@$(PY) scripts/crisis_finetune_cv.py report --blind

profile: train ## where a turn's time goes: NLU components, policies, action calls, actions (in-process timers)
	@$(PY) scripts/profile_turn.py $(PROFILE_ARGS)

safety-domain: install ## regenerate the crisis replies in domain.yml (its generated block) after editing safety/*.yml
	@$(PY) scripts/build_safety_domain.py

faq-nlu: install ## regenerate data/nlu/practice_faq_more.yml from the FAQ matcher's extra examples (data/faq/*.yml)
	@$(PY) scripts/build_faq_nlu.py

lint: install ## ruff over the Python code
	@$(VENV)/bin/ruff check .

lock: ## re-resolve requirements/*.in into requirements/lock.txt (needs the registries)
	@scripts/lock.sh

clean: ## remove build output (the model, the spaCy pipeline); keeps .venv and var/
	rm -rf models/*.tar.gz build results test-artifacts .pytest_cache
