#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Check that every option of the given fragments took in a .config.
# Fragments are given in merge order: an option that a later fragment sets
# again (EXTRA_CONFIG's after the project's) is checked as the later one
# has it, as merge_config.sh merged it, and the override is noted.
#
#   scripts/check-config.sh .config fragment...

set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 .config fragment..." >&2; exit 2; }
config=$1
shift
[ -f "$config" ] || { echo "$config: no such file" >&2; exit 2; }
frags=("$@")

# The option line $1 of a fragment sets, in $opt ("" for anything else).
opt_of() {
	opt=
	case "$1" in
	CONFIG_*=*) opt=${1%%=*} ;;
	"# CONFIG_"*" is not set") opt=${1#\# } opt=${opt%% *} ;;
	esac
}

# The fragment (its index) that sets each option last.
declare -A last
for i in "${!frags[@]}"; do
	while IFS= read -r line; do
		opt_of "$line"
		[ -z "$opt" ] || last[$opt]=$i
	done <"${frags[$i]}"
done

bad=0
for i in "${!frags[@]}"; do
	name=$(basename "${frags[$i]}")
	while IFS= read -r line; do
		opt_of "$line"
		[ -n "$opt" ] || continue
		if [ "${last[$opt]}" != "$i" ]; then
			echo "config: note: $line [$name] is overridden by [$(basename "${frags[${last[$opt]}]}")]" >&2
			continue
		fi
		case "$line" in
		CONFIG_*=*)
			if ! grep -qxF "$line" "$config"; then
				got=$(grep -E "^$opt=|^# $opt is not set" "$config" || echo "absent")
				echo "config: $line did not take (got: $got) [$name]" >&2
				bad=1
			fi
			;;
		*)
			if grep -qE "^$opt=[ym]" "$config"; then
				echo "config: $opt should be off but is on [$name]" >&2
				bad=1
			fi
			;;
		esac
	done <"${frags[$i]}"
done

if [ "$bad" -ne 0 ]; then
	echo "config: required options are missing (a dependency is off?)" >&2
	exit 1
fi
