# What snapshot.t and snapshot-xmode.t share (sourced after lib.sh): the
# built-in guest on 3 vCPUs saved at a hold and restored in a new process.

# save MODE STAGE FILE: runs the guest to hold STAGE and saves it there.
save() {
	timeout --kill-after=5 120 "$MPVM" run --cpus 3 --irqchip "$1" --cmdline "scenario=default hold=$2" \
		--snapshot-on "hold $2" "$3" ${MPVM_ARGS:-} >"$T_DIR/out1" 2>"$T_DIR/err1" </dev/null
	STATUS=$?
}

# restore FILE [ARGS]: restores FILE and releases the hold with a byte on COM1.
restore() {
	local f=$1
	shift
	{ sleep 1; printf x; } | timeout --kill-after=5 120 "$MPVM" run --restore "$f" "$@" ${MPVM_ARGS:-} \
		>"$T_DIR/out2" 2>"$T_DIR/err2"
	STATUS=$?
}

# The first AP's MP state in mpvm's end-of-run table (stderr).
ap1_state() { awk '$2 == 1 && $3 == 1 && $4 == "AP" { print $5 }' "$1"; }
