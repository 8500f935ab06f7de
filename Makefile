PYTHON ?= .venv/bin/python

.PHONY: bench bench-smoke bench-profile

# The six performance figures (about 20 minutes on 2 cores); writes bench/results/latest.json.
bench:
	$(PYTHON) -m bench

# Tiny sizes, under a minute: proves the harness works, judges nothing.
bench-smoke:
	$(PYTHON) -m bench --smoke

# P1 and a py-spy profile of one P1-sized cycle (needs py-spy in the venv).
bench-profile:
	$(PYTHON) -m bench --only P1 --reps 1 --profile
