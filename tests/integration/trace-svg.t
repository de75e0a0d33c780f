#!/usr/bin/env bash
# `mpvm trace-svg FILE`: a Chrome trace drawn as SVG on stdout. The sample,
# trace-8cpu.json, was written by core/trace.c (the --trace writer): an
# 8-vCPU bring-up shaped like the built-in guest's (INIT, INIT de-assert,
# SIPI, SIPI per AP, then two rounds of fixed IPIs waking each AP from HLT,
# one IPI from a device, a guest exit on the VM track), with made-up times.
# No KVM needed.
. "$(dirname "$0")/lib.sh"

SAMPLE="$(dirname "$0")/trace-8cpu.json"

run_mpvm 30 trace-svg "$SAMPLE"
is "$STATUS" 0 "the sample: exit status 0"
is "$(wc -c <"$ERR")" 0 "the sample: nothing on stderr"
is "$(head -c 5 "$OUT")" "<?xml" "an XML document"
like "$OUT" '^<svg xmlns="http://www.w3.org/2000/svg"' "an SVG root element"
is "$(tail -n 1 "$OUT")" "</svg>" "closed at the end"
unlike "$OUT" "<script" "no script"
if command -v xmllint >/dev/null; then
	xmllint --noout "$OUT" 2>"$T_DIR/xmllint"
	ok $? "xmllint finds it well-formed"
	[ -s "$T_DIR/xmllint" ] && diag "$(head -5 "$T_DIR/xmllint")"
else
	ok 0 "# SKIP xmllint is not installed"
fi
is "$(grep -o 'class="lane"' "$OUT" | wc -l)" 9 "a lane per track: 8 vCPUs and the VM"
for i in 0 1 2 3 4 5 6 7; do
	like "$OUT" "class=\"lane-label\"[^>]*>vCPU $i \\(APIC ID $i\\)</text>" "lane of vCPU $i, labelled"
done
# The lanes in sort order: the VM first, then the vCPUs by index.
order=$(grep -o 'class="lane-label"[^>]*>[^<]*' "$OUT" | sed 's/.*>//' | tr '\n' ',')
is "$order" "VM,vCPU 0 (APIC ID 0),vCPU 1 (APIC ID 1),vCPU 2 (APIC ID 2),vCPU 3 (APIC ID 3),vCPU 4 (APIC ID 4),vCPU 5 (APIC ID 5),vCPU 6 (APIC ID 6),vCPU 7 (APIC ID 7)," \
	"lanes in sort order"
# 7 APs x (INIT, INIT de-assert, 2 SIPIs, 2 fixed) + 1 from the device = 43 IPIs.
is "$(grep -o 'class="flow"' "$OUT" | wc -l)" 43 "an arrow per IPI"
is "$(grep -c '<title>SIPI: vCPU 0 (APIC ID 0) to vCPU [1-7] (APIC ID [1-7])</title>' "$OUT")" 14 \
	"two SIPI arrows from the BSP to each AP"
is "$(grep -o 'class="span"' "$OUT" | wc -l)" 64 "a rectangle per MP-state span"
for s in UNINITIALIZED INIT_RECEIVED SIPI_RECEIVED RUNNABLE HALTED; do
	like "$OUT" "class=\"legend-item\"><rect [^>]*/><text [^>]*>$s</text>" "legend: $s"
done
for k in INIT "INIT de-assert" SIPI fixed; do
	like "$OUT" "class=\"legend-item\"><path [^>]*marker-end[^>]*/><text [^>]*>$k</text>" "legend: arrow $k"
done
like "$OUT" ">ms since the VM was created</text>" "a time axis in ms"
like "$OUT" 'class="tick"[^>]*>70</text>' "tick labels"

# A trace cut short (a writer killed mid-event) is still drawn, with a note.
head -c 20000 "$SAMPLE" >"$T_DIR/cut.json"
run_mpvm 30 trace-svg "$T_DIR/cut.json"
is "$STATUS" 0 "a cut trace: exit status 0"
like "$OUT" 'class="note".*ends mid-event' "a cut trace: the note says so"

# What is not a trace: status 2 and a message naming the file.
refused() { # refused MESSAGE-REGEX NAME ARGS...
	local re=$1 name=$2
	shift 2
	run_mpvm 30 trace-svg "$@"
	is "$STATUS" 2 "$name: exit status 2"
	like "$ERR" "$re" "$name: the message says why"
	is "$(wc -c <"$OUT")" 0 "$name: nothing on stdout"
}
refused "^mpvm: trace-svg: $T_DIR/missing.json: No such file or directory\$" "a missing file" "$T_DIR/missing.json"
echo 'not json' >"$T_DIR/text.json"
refused "^mpvm: trace-svg: $T_DIR/text.json: not a Chrome trace: it starts with neither '\\[' nor '\\{'\$" \
	"a text file" "$T_DIR/text.json"
printf '[{"ph":"X","ts":1}\n{"ph" 1}]' >"$T_DIR/bad.json"
refused "^mpvm: trace-svg: $T_DIR/bad.json: not valid JSON at byte [0-9]+: " "bad JSON" "$T_DIR/bad.json"
echo '{"a": 1}' >"$T_DIR/object.json"
refused "without a traceEvents array" "JSON but not a trace" "$T_DIR/object.json"
: >"$T_DIR/empty.json"
refused "$T_DIR/empty.json: empty" "an empty file" "$T_DIR/empty.json"
mkdir "$T_DIR/dir"
refused "^mpvm: trace-svg: $T_DIR/dir: a directory, not a trace file\$" "a directory" "$T_DIR/dir"
refused "^mpvm: usage: mpvm trace-svg FILE.json" "no file" 
refused "^mpvm: usage: mpvm trace-svg FILE.json" "two files" "$SAMPLE" "$SAMPLE"

run_mpvm 30 trace-svg --help
is "$STATUS" 0 "trace-svg --help: exit status 0"
like "$OUT" "^usage: mpvm trace-svg FILE.json" "trace-svg --help: the usage"
run_mpvm 30 --help
like "$OUT" "mpvm trace-svg FILE" "mpvm --help lists trace-svg"

# A stdout that cannot take the picture is mpvm's failure, not the trace's.
timeout 30 "$MPVM" trace-svg "$SAMPLE" >/dev/full 2>"$T_DIR/err"
is "$?" 125 "stdout full: exit status 125"
like "$T_DIR/err" "^mpvm: trace-svg: writing the SVG: No space left on device" "stdout full: the message"

done_testing
