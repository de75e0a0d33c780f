#!/usr/bin/env bash
# Every file path on the command line is checked before the VM runs: one
# that names something other than a regular file (a device, a directory, a
# FIFO) or cannot be written is refused with a message and status 2, and
# nothing is touched. A repeated option is an error too.
. "$(dirname "$0")/lib.sh"

# refused MESSAGE-REGEX NAME ARGS...: status 2, the message, and no guest ran.
refused() {
	local re=$1 name=$2
	shift 2
	run_mpvm 20 run "$@"
	is "$STATUS" 2 "$name: exit status 2"
	like "$ERR" "$re" "$name: the message says why"
	unlike "$OUT" "CPUs online" "$name: before any guest ran"
}

mkfifo "$T_DIR/fifo"
mkdir "$T_DIR/dir"
for opt in --kernel --bios; do
	refused "^mpvm: $opt $T_DIR/fifo: not a regular file \(a FIFO" "$opt FIFO (once a hang in fopen)" $opt "$T_DIR/fifo"
	refused "^mpvm: $opt $T_DIR/dir: not a regular file \(a directory" "$opt directory" $opt "$T_DIR/dir"
	refused "^mpvm: $opt /dev/null: not a regular file \(a character device" "$opt device" $opt /dev/null
done
# (--initrd FIFO: multiboot.t, which has a kernel to give it to.)

# --report: the atomic rename must never replace what is not a regular file.
before=$(stat -c '%F %t:%T' /dev/full)
refused "^mpvm: --report /dev/full: not a regular file \(a character device" "--report /dev/full" --report /dev/full
is "$(stat -c '%F %t:%T' /dev/full)" "$before" "--report /dev/full: the device node is still there"
refused "^mpvm: --report $T_DIR/dir: not a regular file \(a directory" "--report a directory" --report "$T_DIR/dir"
refused "^mpvm: --report $T_DIR/fifo: not a regular file \(a FIFO" "--report a FIFO" --report "$T_DIR/fifo"
refused "^mpvm: --report $T_DIR/missing/r.json: the folder $T_DIR/missing: No such file or directory" \
	"--report in a missing folder (once found only after the run)" --report "$T_DIR/missing/r.json"
ln -s "$T_DIR/target.json" "$T_DIR/link.json"
refused "^mpvm: --report $T_DIR/link.json: not a regular file \(a symbolic link" "--report a symbolic link" \
	--report "$T_DIR/link.json"
[ -e "$T_DIR/target.json" ]
is "$?" 1 "--report a symbolic link: nothing written through it"
if [ "$(id -u)" -ne 0 ]; then
	chmod 555 "$T_DIR/dir"
	refused "^mpvm: --report $T_DIR/dir/r.json: cannot create files in $T_DIR/dir" "--report in a read-only folder" \
		--report "$T_DIR/dir/r.json"
	chmod 755 "$T_DIR/dir"
else
	ok 0 "# SKIP root may write in a read-only folder"
	ok 0 "# SKIP (same)"
	ok 0 "# SKIP (same)"
fi

# A repeated option would silently take its last value.
refused "^mpvm: option --cpus given twice" "--cpus twice" --cpus 2 --cpus 4
refused "^mpvm: option --no-acpi given twice" "a flag twice" --no-acpi --no-acpi
refused "^mpvm: option --cmdline given twice" "--cmdline twice, = form" --cmdline=a --cmdline b

# A good report path still works, and replaces an old report.
need_kvm
echo old >"$T_DIR/r.json"
run_mpvm 300 run --cpus 2 --report "$T_DIR/r.json"
is "$STATUS" 0 "--report on an existing regular file: exit status 0"
is "$(report_field "$T_DIR/r.json" '$r->{cpus}')" 2 "--report on an existing regular file: replaced by the report"
done_testing
