#!/usr/bin/env bash
# The kit's Linux (tools/linux-kit) on 4 vCPUs, saved with --snapshot-on
# when it prints `smpboot: Allowing 4 CPUs` (the APs still UNINITIALIZED),
# then restored in a new process: the restored kernel prints the same next
# lines as a run with no snapshot (timestamps aside), and its clock does
# not go back.
#
# One boot of emulated kernel code (minutes under KVM-PVM): LINUX_FULL=0
# skips it (the sanitizer runs in .ci/run). Named to run after linux.t,
# which fetches the kit the first time.
MPVM=${MPVM:-${BUILD:-build}/mpvm}
source "$(dirname "$0")/lib.sh"
need_kvm

if [ "${LINUX_FULL:-1}" = 0 ]; then
	T_NUM=$((T_NUM + 1))
	echo "ok $T_NUM # skip LINUX_FULL=0"
	done_testing
fi
KIT=${LINUX_KIT:-build/linux-kit}
# linux.t fetches the kit the first time (tools/linux-kit writes initramfs.cpio.gz last, by a rename):
# while it does, wait for it rather than fetch it a second time into the same folder.
for _ in $(seq 1800); do
	[ -s "$KIT/initramfs.cpio.gz" ] && break
	pgrep -f "linux-kit --dir $KIT" >/dev/null || break
	sleep 1
done
if [ ! -s "$KIT/vmlinux" ] || [ ! -s "$KIT/initramfs.cpio.gz" ]; then
	if ! tools/linux-kit --dir "$KIT" >"$T_DIR/kit.log" 2>&1; then
		ok 1 "tools/linux-kit --dir $KIT: the Linux test kit (needs apt-get download and network)"
		diag "$(tail -n 20 "$T_DIR/kit.log")"
		done_testing
	fi
fi
LIMIT=600
NEXT="Booting paravirtualized kernel"
BOOT=(--cpus 4 --memory 512M --kernel "$KIT/vmlinux" --initrd "$KIT/initramfs.cpio.gz"
	--cmdline "console=ttyS0 earlyprintk=serial apic=verbose" --timeout "$LIMIT")

# The run the restore is held against, with no snapshot: Linux prints only
# a few lines between smpboot and $NEXT (0.1 s of guest time), too close for
# a snapshot requested from outside (mpvm-snapshot is tested in
# snapshot.t), so the saved run below stops at the console line itself.
timeout --kill-after=10 $((LIMIT + 30)) "$MPVM" run "${BOOT[@]}" --stop-on "$NEXT" \
	>"$T_DIR/out1" 2>"$T_DIR/err1" </dev/null
ref=$?
timeout --kill-after=10 $((LIMIT + 30)) "$MPVM" run "${BOOT[@]}" \
	--snapshot-on "smpboot: Allowing 4 CPUs" "$T_DIR/linux.snap" >"$T_DIR/out0" 2>"$T_DIR/err0" </dev/null
ok "$([ $? = 0 ] && [ -s "$T_DIR/linux.snap" ] && echo 0 || echo 1)" \
	"--snapshot-on: a snapshot once Linux prints smpboot: Allowing 4 CPUs"
is "$ref" 0 "the run without a snapshot goes on to '$NEXT'"

timeout --kill-after=10 $((LIMIT + 30)) "$MPVM" run --restore "$T_DIR/linux.snap" --stop-on "$NEXT" \
	--timeout "$LIMIT" >"$T_DIR/out2" 2>"$T_DIR/err2" </dev/null
is "$?" 0 "the restored kernel runs on to '$NEXT' too"
unlike "$T_DIR/out2" "Linux version" "the restored kernel does not boot again"

# The restored run's lines (timestamps off) are a run of lines of the saved run, after smpboot. The
# snapshot may fall inside a line: the restored output then starts with that line's rest, left out.
strip() { sed -e 's/^\[ *[0-9.]*\] //' "$1"; }
strip "$T_DIR/out1" | sed -n '/smpboot: Allowing 4 CPUs/,$p' >"$T_DIR/after1"
if head -n 1 "$T_DIR/out2" | grep -Eq '^\[ *[0-9]+\.[0-9]+\] '; then
	strip "$T_DIR/out2"
else
	strip "$T_DIR/out2" | tail -n +2
fi >"$T_DIR/after2"
lines=$(wc -l <"$T_DIR/after2")
ok "$([ "$lines" -ge 2 ] && grep -qxF -f <(head -n 1 "$T_DIR/after2") "$T_DIR/after1" && echo 0 || echo 1)" \
	"the restored kernel prints lines ($lines of them)"
first=$(head -n 1 "$T_DIR/after2")
start=$(grep -nxF -- "$first" "$T_DIR/after1" | head -n 1 | cut -d: -f1)
is "$(tail -n +"${start:-1}" "$T_DIR/after1" | head -n "$lines")" "$(cat "$T_DIR/after2")" \
	"they are the lines the run without a snapshot printed next"
# Its clock: the first timestamp after restore is not below the last before the snapshot point.
t_save=$(grep -F "smpboot: Allowing 4 CPUs" "$T_DIR/out0" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p')
t_rest=$(sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p' "$T_DIR/out2" | head -n 1)
ok "$(awk -v a="$t_save" -v b="$t_rest" 'BEGIN { exit !(b >= a) }'; echo $?)" \
	"the kernel's clock goes on (smpboot at $t_save s, first line after restore at $t_rest s)"

done_testing
