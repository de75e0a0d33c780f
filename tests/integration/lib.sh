# Shared helpers for the integration tests: TAP output (read by prove) and
# a way to run mpvm with a time limit while keeping stdout, stderr and the
# exit status apart.
#
# Each test file sources this, calls `plan N`, then ok/is/like.

set -u
MPVM=${MPVM:-build/mpvm}
T_NUM=0
T_FAILED=0
T_DIR=$(mktemp -d)
trap 'rm -rf "$T_DIR"' EXIT

plan() { echo "1..$1"; }

ok() { # ok CONDITION-STATUS NAME
	T_NUM=$((T_NUM + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_NUM - $2"
	else
		echo "not ok $T_NUM - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}

diag() { sed 's/^/# /' <<<"$*"; }

is() { # is GOT WANT NAME
	if [ "$1" == "$2" ]; then ok 0 "$3"; else ok 1 "$3"; diag "got '$1', want '$2'"; fi
}

# like FILE REGEX NAME: some line of FILE matches the extended regex.
like() {
	if grep -Eq -- "$2" "$1"; then ok 0 "$3"; else ok 1 "$3"; diag "no line of $(basename "$1") matches /$2/:"; diag "$(tail -n 30 "$1")"; fi
}

unlike() {
	if grep -Eq -- "$2" "$1"; then ok 1 "$3"; diag "a line of $(basename "$1") matches /$2/:"; diag "$(grep -E -- "$2" "$1" | head -5)"; else ok 0 "$3"; fi
}

# count FILE REGEX: how many lines match.
count() { grep -Ec -- "$2" "$1" || true; }

# Tests that boot a guest need KVM: without it they fail, loudly.
need_kvm() {
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		echo "1..1"
		echo "not ok 1 - /dev/kvm is missing or not read-write for $(id -un): these tests need KVM"
		exit 1
	fi
}

# run_mpvm TIMEOUT ARGS...: runs mpvm, leaving $T_DIR/out, $T_DIR/err and $STATUS.
run_mpvm() {
	local limit=$1
	shift
	timeout --kill-after=10 "$limit" "$MPVM" "$@" >"$T_DIR/out" 2>"$T_DIR/err" </dev/null
	STATUS=$?
	OUT=$T_DIR/out
	ERR=$T_DIR/err
}

done_testing() { exit $((T_FAILED > 0)); }
