# SPDX-License-Identifier: GPL-2.0
#
# vmashadow entry points. Everything expensive is cached outside the clone
# (VMASHADOW_CACHE, default /var/cache/vmashadow), keyed by its inputs.
#
#   make test      deps + debug kernel + module + selftests + VM run + splat check
#   make test-kcsan  the race tests under KCSAN (a third kernel: KCSAN
#                  excludes KASAN) in shadow and spec; fails on a report in
#                  the series' or the module's code, lists core's (~N min)
#   make mutants   mutation proofs: the debug kernel without each check of the
#                  speculative fault path in turn, and the selftest that must
#                  fail without it (MUTANTS="range sequence" picks; ~10 min each)
#   make stress    upstream suites in every mode for DURATION (default 30m): the
#                  kernel's mm selftests, stress-ng, trinity, fault injection
#   make bench     perf kernel + module + benches (main boot, then the path
#                  boot) + the effect table
#   make bench-compare A=DIR B=DIR   two bench results directories, B against A
#   make bench-report DIR=DIR   the effect table of a results directory (e.g.
#                  one that make bench-host collected on a box with no venv)
#   make bench-coherence  perf kernel + the coherence plugin: instructions,
#                  atomics, stores and cache-line transfers per fault, per
#                  mode, scenario and vCPUs (2, 4, 8), one TCG boot each
#   make deps      install what is missing (Debian 12/13 packages, bindgen, virtme-ng);
#                  scripts/build/deps.sh --check [--for bench-host] only says
#                  what is missing (for every target, or make bench-host)
#   make kernel    build the kernel (FLAVOUR=debug|perf|kcsan, default debug)
#   make kernel-config  configure the kernel and check its fragments, no build
#   make kernel-deb     Debian packages of the kernel (bindeb-pkg) in
#                  build/kernel-deb-FLAVOUR/, for a real test box
#   make bench-host     the benches on this host, already running a kernel
#                  with the series (root; docs/real-hardware.md)
#   make bench-host-test  a guest stands in for such a host and runs a small
#                  make bench-host; checks its report (~11 min under TCG, 40 loaded)
#   make module    build vmashadow.ko (and the crash test's module) against that kernel
#   make selftests build the selftests
#   make vm        interactive guest shell with the module available
#   make lint      shellcheck + pyflakes + make variables' checks, then the
#                  series (checkpatch --strict, git am as documented),
#                  rustfmt + clippy; warnings are errors
#   make lint-scripts  the scripts' part of make lint only (seconds, no kernel)
#   make fmt       rustfmt in place
#   make coherence / coherence-test / coherence-lint  the coherence plugin
#                  (tools/coherence/): build it; check its counts in a guest
#                  (make test runs these checks); lint it (make lint does)
#   make check-splats-test  the splat checker's self-test
#   make bench-report-test  the bench report's self-test
#   make clean     remove the clone's outputs (not the cache)
#   make help      this text (also plain make)
#
# VM options: CPUS=2 MEMORY=2G (make stress: 4G) TIMEOUT=1800 (make bench: from its plan)
#   KVM=auto|on|off
# Test options: TESTS="module_test ..." (selftests) CRASH=1|0 (crash boot)
#   SLICE=1|0 (make test's boot of the upstream suites' slice)
# Stress options: DURATION=30m (10m..24h, s/m/h)
# Bench options: R=8 (repetitions) SECONDS_PER_RUN=0.5 ONLY="churn ..." (scenarios)
#   THREADS="1 2 4" (faulting threads) PATH_R=3 PATH_VMAS="1 256 4096"
#   PATH_ADMIT_MS=10 (path bench; default: the module's); make bench prints
#   its plan and ETA first
#   and refuses a plan that cannot finish inside TIMEOUT (default: from the plan)
# Coherence bench options: COH_CPUS="2 4 8" COH_R=3 COH_SECONDS=0.3
#   COH_MODES="none stock mmap pervma shadow spec" (scripts/modes lists them)
#   COH_SCENARIOS="pft page_fault1 contended kernel-faults" COH_ACCEL=multi|single
#   (FLAVOUR defaults to perf here)
# Kernel options: EXTRA_CONFIG=file[,file] (fragments merged after the
#   project's, e.g. kernel/config/examples/bare-metal.config)
#   KSRC=/path/to/linux (your own tree with the series applied, built
#   incrementally in the cache) KDIR=dir (bench-host: the running kernel's
#   build directory) MODULE=file.ko (bench-host: a vmashadow.ko built for the
#   running kernel, used instead of building one)
# Cache: VMASHADOW_CACHE=/var/cache/vmashadow (environment; kernel trees and
#   builds, the Python venv, the coherence plugin's build), outside the clone
# Every variable is checked before anything is installed or built
# (scripts/check-vars.sh): a bad value, or a variable no target reads, is
# an error naming it and what it may be.

FLAVOUR ?= debug
S := scripts
# The venv of scripts/build/deps.sh (scipy, pandas, matplotlib for the report).
VMS_VENV := $(or $(VMASHADOW_CACHE),/var/cache/vmashadow)/venv

.PHONY: all help test test-kcsan mutants stress bench bench-coherence bench-compare bench-report bench-host bench-host-test deps kernel kernel-config kernel-deb module selftests vm lint lint-scripts fmt clean check-splats-test bench-report-test

# Plain `make` prints the targets: building starts with one of them.
all: help

help:
	@sed -n '3,/^$$/{/^$$/d;s/^# \{0,1\}//;p}' Makefile

test:
	@$(S)/test/test.sh

test-kcsan:
	@$(S)/test/test-kcsan.sh

mutants: deps
	@$(S)/test/mutants.sh $(MUTANTS)

stress:
	@$(S)/test/stress.sh

bench:
	@$(S)/bench/bench.sh

bench-coherence:
	@FLAVOUR=$(if $(filter command line environment,$(origin FLAVOUR)),$(FLAVOUR),perf) $(S)/bench/coherence-bench.sh

bench-compare:
	@$(S)/check-vars.sh
	@if [ -z "$(A)" ] || [ -z "$(B)" ]; then \
		echo "usage: make bench-compare A=DIR B=DIR (results directories of make bench, e.g. results/bench/20261129-201500)" >&2; \
		exit 2; \
	fi; \
	for d in "$(A)" "$(B)"; do \
		if [ ! -d "$$d" ]; then \
			echo "bench-compare: $$d: no such directory" >&2; exit 2; \
		elif [ ! -f "$$d/raw.log" ]; then \
			echo "bench-compare: $$d: no raw.log in it (not a results directory of make bench?)" >&2; exit 2; \
		fi; \
	done; \
	"$(VMS_VENV)/bin/python" -c 'import scipy, pandas' 2>/dev/null || { \
		echo "bench-compare: scipy and pandas missing in $(VMS_VENV): run make deps" >&2; exit 2; }; \
	"$(VMS_VENV)/bin/python" $(S)/report/bench-report.py --compare "$(A)" "$(B)"

bench-report:
	@$(S)/check-vars.sh
	@if [ -z "$(DIR)" ]; then \
		echo "usage: make bench-report DIR=DIR (a results directory of make bench or make bench-host)" >&2; exit 2; \
	elif [ ! -f "$(DIR)/raw.log" ] && [ ! -f "$(DIR)/path-raw.log" ]; then \
		echo "bench-report: $(DIR): no raw.log or path-raw.log in it (not a results directory of make bench or make bench-host?)" >&2; exit 2; \
	fi; \
	"$(VMS_VENV)/bin/python" -c 'import scipy, pandas' 2>/dev/null || { \
		echo "bench-report: scipy and pandas missing in $(VMS_VENV): run make deps" >&2; exit 2; }; \
	"$(VMS_VENV)/bin/python" $(S)/report/bench-report.py "$(DIR)"

deps:
	@$(S)/check-vars.sh
	@$(S)/build/deps.sh

kernel: deps
	@$(S)/build-kernel.sh $(FLAVOUR)

kernel-config: deps
	@$(S)/build-kernel.sh --config-only $(FLAVOUR)

kernel-deb: deps
	@$(S)/build/kernel-deb.sh $(FLAVOUR)

bench-host:
	@$(S)/bench/bench-host.sh

bench-host-test: deps
	@FLAVOUR=$(FLAVOUR) $(S)/test/test-bench-host.sh

module: deps
	@$(S)/build/build-module.sh $(FLAVOUR)

selftests: deps
	@$(S)/build/build-selftests.sh $(FLAVOUR)

vm: module selftests
	@$(S)/vm.sh --flavour $(FLAVOUR) --shell

lint: deps
	@$(S)/test/lint.sh

lint-scripts:
	@$(S)/check-vars.sh
	@$(S)/test/lint.sh --scripts

fmt: deps
	@$(S)/test/lint.sh --fix

check-splats-test:
	@$(S)/test/test-check-splats.sh

bench-report-test: deps
	@"$(VMS_VENV)/bin/python" $(S)/report/bench-report.py --self-test

include tools/coherence/coherence.mk

clean:
	rm -rf build results
	find rust shim crash -name '*.o' -o -name '*.cmd' -o -name '*.rmeta' | xargs -r rm -f
