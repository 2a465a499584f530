# SPDX-License-Identifier: GPL-2.0
#
# The coherence instrument (tools/coherence/README.md): a QEMU TCG plugin
# counting cache-line transfers per vCPU and symbol, and its checks.
# Included by the top-level Makefile:
#
#   make coherence        build the plugin and the guest programs, print the plugin's path
#   make coherence-test   build, boot a 2-vCPU TCG guest with the plugin, check its
#                         counts against the guest programs' answers (TAP, ~1 min)
#   make coherence-lint   shellcheck, rustfmt, clippy (warnings are errors), unit tests
#
# Build output: $(VMASHADOW_CACHE)/coherence (COHERENCE_CACHE overrides).

COHERENCE_DIR := tools/coherence
COHERENCE_TARGET = $(or $(COHERENCE_CACHE),$(or $(VMASHADOW_CACHE),/var/cache/vmashadow)/coherence)/target

.PHONY: coherence coherence-test coherence-lint

coherence:
	@$(COHERENCE_DIR)/check.sh --build-only

coherence-test:
	@$(COHERENCE_DIR)/check.sh

# Debian's cargo, rustc, rustfmt and clippy, as make lint uses them.
COHERENCE_CARGO = cd $(COHERENCE_DIR)/plugin && env PATH="/usr/bin:$$PATH" RUSTC=/usr/bin/rustc \
	RUSTFMT=/usr/bin/rustfmt CARGO_TARGET_DIR=$(COHERENCE_TARGET) /usr/bin/cargo

coherence-lint:
	shellcheck $(COHERENCE_DIR)/check.sh
	$(COHERENCE_CARGO) fmt --check
	$(COHERENCE_CARGO) clippy --locked --release --all-targets -- -D warnings
	$(COHERENCE_CARGO) test --locked --release
