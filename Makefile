# Two commands do everything on a fresh machine with Python 3.11+:
#   make reports   set up, then render the reports from the shipped data into reports/
#   make test      set up, then run the tests
# Both create (or reuse) the virtual environment .venv and install what they need.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DATA   ?= data
OUT    ?= reports

.PHONY: setup reports example test fuzz lab bench validate strip clean ci-system-deps

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

reports: setup
	$(BIN)/python -m analysis render --data $(DATA) --out $(OUT) $(ARGS)

# The real-evidence example (published abstracts, see examples/primary-studies/README.md).
example: setup
	$(BIN)/python -m analysis render --data examples/primary-studies --out reports-example $(ARGS)

# Under CI (CI=true) the browser test must run, so Chromium is installed first.
test: setup $(if $(CI),ci-system-deps)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The property tests with a long budget (about 80 minutes on two cores): 2000 generated data folders per
# property (valid ones, one mutation each) and 2000 random folders per loader property of
# tests/test_fuzz.py, where make test runs 15-30.
fuzz: setup
	FUZZ_EXAMPLES=2000 $(BIN)/python -m pytest -p no:cacheprovider tests/test_generated_folders.py tests/test_fuzz.py $(PYTEST_ARGS)

ci-system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

lab: setup
	$(BIN)/python -c "from analysis.render import install_kernelspec; install_kernelspec()"
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: setup
	$(BIN)/python benchmarks/run_all.py

validate: setup
	$(BIN)/python -m analysis validate $(DATA)

# Strip outputs from every notebook (they are kept in git without outputs).
strip: setup
	$(BIN)/nbstripout notebooks/*.ipynb

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
