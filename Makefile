# SPDX-License-Identifier: GPL-2.0
#
# vmashadow entry points. Everything expensive is cached outside the clone
# (VMASHADOW_CACHE, default /var/cache/vmashadow), keyed by its inputs.
#
#   make test      deps + debug kernel + module + selftests + VM run + splat check
#   make bench     perf kernel + module + benches in one boot + the effect table
#   make deps      install what is missing (Debian packages, bindgen, virtme-ng)
#   make kernel    build the kernel (FLAVOUR=debug|perf, default debug)
#   make module    build vmashadow.ko against that kernel
#   make selftests build the selftests
#   make vm        interactive guest shell with the module available
#   make lint      rustfmt + clippy, warnings are errors
#   make clean     remove the clone's outputs (not the cache)
#
# VM options: CPUS=2 MEMORY=2G TIMEOUT=1800 KVM=auto|on|off
# Bench options: R=12 (repetitions) SECONDS_PER_RUN=1 ONLY="churn ..." (scenarios)

FLAVOUR ?= debug
S := scripts

.PHONY: all test bench deps kernel module selftests vm lint fmt clean check-splats-test

all: module

test:
	@$(S)/test.sh

bench:
	@$(S)/bench.sh

deps:
	@$(S)/deps.sh

kernel: deps
	@$(S)/build-kernel.sh $(FLAVOUR)

module: deps
	@$(S)/build-module.sh $(FLAVOUR)

selftests: deps
	@$(S)/build-selftests.sh $(FLAVOUR)

vm: module selftests
	@$(S)/vm.sh --flavour $(FLAVOUR) --shell

lint: deps
	@$(S)/lint.sh

fmt: deps
	@$(S)/lint.sh --fix

check-splats-test:
	@$(S)/test-check-splats.sh

clean:
	rm -rf build results
	find rust shim -name '*.o' -o -name '*.cmd' -o -name '*.rmeta' | xargs -r rm -f
