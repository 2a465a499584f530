#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Check that every option of the given fragments took in a .config.
#
#   scripts/check-config.sh .config fragment...

set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 .config fragment..." >&2; exit 2; }
config=$1
shift
[ -f "$config" ] || { echo "$config: no such file" >&2; exit 2; }

bad=0
for frag in "$@"; do
	name=$(basename "$frag")
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			opt=${line%%=*}
			if ! grep -qxF "$line" "$config"; then
				got=$(grep -E "^$opt=|^# $opt is not set" "$config" || echo "absent")
				echo "config: $line did not take (got: $got) [$name]" >&2
				bad=1
			fi
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			opt=${opt%% *}
			if grep -qE "^$opt=[ym]" "$config"; then
				echo "config: $opt should be off but is on [$name]" >&2
				bad=1
			fi
			;;
		esac
	done <"$frag"
done

if [ "$bad" -ne 0 ]; then
	echo "config: required options are missing (a dependency is off?)" >&2
	exit 1
fi
