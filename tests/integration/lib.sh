# Shared helpers for the integration tests: TAP output (read by prove) and
# a way to run mpvm with a time limit while keeping stdout, stderr and the
# exit status apart.
#
# Each test file sources this, calls ok/is/like, and ends with done_testing
# (which prints the TAP plan: a file that dies early has none, and fails).

set -u
MPVM=${MPVM:-build/mpvm}
T_NUM=0
T_FAILED=0
T_DIR=$(mktemp -d)
trap 'rm -rf "$T_DIR"' EXIT

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
		ok 1 "/dev/kvm is missing or not read-write for $(id -un): these tests need KVM"
		done_testing
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

done_testing() {
	echo "1..$T_NUM"
	exit $((T_FAILED > 0))
}

# report_field FILE PERL-EXPR: evaluates EXPR with $r = the decoded --report JSON.
# jget FILE LINE PERL-EXPR: EXPR with $r = line LINE (1-based) of FILE, decoded.
jget() {
	perl -MJSON::PP -e 'my @l = do { open my $f, "<", $ARGV[0] or die; <$f> }; my $r = decode_json($l[$ARGV[1] - 1] // "null"); my $v = eval($ARGV[2]); die $@ if $@; print $v // "undef"' "$@" 2>&1
}

report_field() {
	perl -MJSON::PP -e 'local $/; open my $f, "<", $ARGV[0] or die "$ARGV[0]: $!"; my $r = decode_json(<$f>); print eval($ARGV[1]) // "undef"; die $@ if $@' "$1" "$2"
}

# check_bringup N BSP: the guest and mpvm agree that all N CPUs came up, BSP is vCPU BSP.
check_bringup() {
	local n=$1 bsp=$2 name="--cpus $1 --boot-cpu $2"
	is "$STATUS" 0 "$name: exit status 0"
	like "$OUT" "^$n/$n CPUs online\$" "$name: guest prints $n/$n CPUs online"
	like "$OUT" "^mpvm-guest: found $n CPUs in the ACPI MADT" "$name: guest finds $n CPUs in the MADT"
	like "$OUT" "^mpvm-guest: BSP is APIC ID $bsp \\(IA32_APIC_BASE.BSP=1\\)" "$name: guest runs on APIC ID $bsp with the BSP flag"
	is "$(count "$OUT" '^mpvm-guest: AP APIC ID [0-9]+ online, trampoline entries 1, bring-up [0-9]+ us$')" $((n - 1)) "$name: every AP checked in once, with its bring-up time"
	if [ "$n" -gt 1 ]; then
		local other=$(( bsp == 0 ? 1 : 0 ))
		like "$OUT" "^mpvm-guest: AP APIC ID $other online" "$name: the BSP started APIC ID $other"
		like "$OUT" "^mpvm-guest: IPI 0x40: $((n - 1))/$((n - 1)) APs acknowledged" "$name: every AP acknowledged the IPI"
	fi
	like "$ERR" "^mpvm: +$bsp +$bsp +BSP +RUNNABLE " "$name: mpvm reports vCPU $bsp as the RUNNABLE BSP"
	is "$(count "$ERR" '^mpvm: +[0-9]+ +[0-9]+ +AP +HALTED ')" $((n - 1)) "$name: mpvm reports every AP HALTED"
}
