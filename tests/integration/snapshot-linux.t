#!/usr/bin/env bash
# The kit's Linux (tools/linux-kit) on 4 vCPUs, saved with mpvm-snapshot
# as soon as it prints `smpboot: Allowing 4 CPUs` (the APIs still
# UNINITIALIZED) while the run goes on, then restored in a new process:
# the restored kernel prints the same next lines as the run that was
# saved (timestamps aside), and its clock does not go back.
#
# One boot of emulated kernel code (minutes under KVM-PVM): LINUX_FULL=0
# skips it (the sanitizer runs in .ci/run). Named to run after linux.t,
# which fetches the kit the first time.
MPVM=${MPVM:-${BUILD:-build}/mpvm}
source "$(dirname "$0")/lib.sh"
QMP=$(cd "$(dirname "$0")/../.." && pwd)/tools/qmp
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
SOCK=$T_DIR/qmp.sock
NEXT="Booting paravirtualized kernel"

timeout --kill-after=10 $((LIMIT + 30)) "$MPVM" run --cpus 4 --memory 512M --kernel "$KIT/vmlinux" \
	--initrd "$KIT/initramfs.cpio.gz" --cmdline "console=ttyS0 earlyprintk=serial apic=verbose" \
	--control "$SOCK" --stop-on "$NEXT" --timeout "$LIMIT" >"$T_DIR/out1" 2>"$T_DIR/err1" </dev/null &
pid=$!
for _ in $(seq $((LIMIT * 10))); do
	grep -q "smpboot: Allowing 4 CPUs" "$T_DIR/out1" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
"$QMP" --timeout 60 "$SOCK" "mpvm-snapshot path=$T_DIR/linux.snap" >"$T_DIR/qmp" 2>&1
ok $? "mpvm-snapshot once Linux prints smpboot: Allowing 4 CPUs"
wait "$pid"
is "$?" 0 "the saved run goes on to '$NEXT'"

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
	"they are the lines the saved run printed next"
# Its clock: the first timestamp after restore is not below the last before the snapshot point.
t_save=$(grep -F "smpboot: Allowing 4 CPUs" "$T_DIR/out1" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p')
t_rest=$(sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p' "$T_DIR/out2" | head -n 1)
ok "$(awk -v a="$t_save" -v b="$t_rest" 'BEGIN { exit !(b >= a) }'; echo $?)" \
	"the kernel's clock goes on (smpboot at $t_save s, first line after restore at $t_rest s)"

done_testing
