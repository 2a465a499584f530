# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# shellcheck disable=SC2034 # $failed is for the test sourcing this
# Sourced by the scripts' own TAP tests (test-check-*.sh): a scratch
# directory $tmp, removed at exit; ok NAME and not_ok NAME, counting in $n
# and setting $failed, not_ok showing $tmp/err (what the case under test
# said) as TAP comments. The test ends with: echo "1..$n"; exit "$failed".

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() {
	n=$((n + 1))
	failed=1
	echo "not ok $n $1"
	sed 's/^/# /' "$tmp/err"
}
