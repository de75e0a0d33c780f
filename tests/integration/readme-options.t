#!/usr/bin/env bash
# README.md documents every option of `mpvm run` and no other: its option
# table (and the usage block above it) name the same options as
# `mpvm run --help`, which src/core/options.c prints from the parser's own
# table. An option added to one and not the other fails here.
#
# README=FILE checks another copy (to see this test fail on a changed one).
MPVM=${MPVM:-${BUILD:-build}/mpvm}
. "$(dirname "$0")/lib.sh"
README=${README:-$(dirname "$0")/../../README.md}

# The option names in some text, one a line, sorted, each once.
option_names() { grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u; }

# The first cell of each row of the "| option | meaning |" table in
# "## Running" (escaped pipes, as in `fault\|ignore`, are not cell borders).
readme_table() {
	awk '
		/^## / { running = ($0 == "## Running"); next }
		running && /^\| option \| meaning \|/ { table = 1; next }
		table && !/^\|/ { exit }
		table { gsub(/\\\|/, ""); split($0, cell, "|"); print cell[2] }
	' "$README" | option_names
}

# The usage block: the first ``` block in "## Running".
readme_usage() {
	awk '
		/^## / { running = ($0 == "## Running"); next }
		running && /^```/ { if (block) exit; block = 1; next }
		block { print }
	' "$README" | option_names
}

# The options --help lists: lines that start with two blanks and --name.
help_options() { grep -E -- '^  --' "$1" | option_names; }

# same_set NAME-A FILE-A NAME-B FILE-B TEST-NAME: both list the same names;
# on failure, says which names only one of them has.
same_set() {
	local only_a only_b
	only_a=$(comm -23 "$2" "$4" | tr '\n' ' ')
	only_b=$(comm -13 "$2" "$4" | tr '\n' ' ')
	if [ -z "$only_a$only_b" ]; then
		ok 0 "$5"
	else
		ok 1 "$5"
		[ -z "$only_a" ] || diag "only in $1: $only_a"
		[ -z "$only_b" ] || diag "only in $3: $only_b"
	fi
}

if [ ! -r "$README" ] || [ ! -x "$MPVM" ]; then
	ok 1 "need $README and $MPVM (build first)"
	done_testing
fi

run_mpvm 30 run --help
is "$STATUS" 0 "mpvm run --help exits 0"
help_options "$OUT" >"$T_DIR/help"
readme_table >"$T_DIR/table"
readme_usage >"$T_DIR/usage"

# Guards against an extraction that finds nothing, which would compare equal.
ok $(($(wc -l <"$T_DIR/help") < 10)) "--help lists options ($(wc -l <"$T_DIR/help") found)"
ok $(($(wc -l <"$T_DIR/table") < 10)) "README's option table names options ($(wc -l <"$T_DIR/table") found)"

same_set "README's option table" "$T_DIR/table" "mpvm run --help" "$T_DIR/help" \
	"README's option table names the options mpvm run --help lists"
same_set "README's usage block" "$T_DIR/usage" "mpvm run --help" "$T_DIR/help" \
	"README's usage block names the options mpvm run --help lists"

done_testing
