#!/usr/bin/env bash
# --trace FILE: the MP-state timeline as Chrome trace-event JSON, in every
# irqchip mode, under the seccomp filters (vCPU threads write their spans),
# 8 vCPUs: one named track per vCPU, for every AP the spans UNINITIALIZED,
# INIT_RECEIVED, RUNNABLE, HALTED in that order (kernel and split mode
# through KVM's tracepoints, kvm_trace.c; user mode adds SIPI_RECEIVED,
# which KVM does not have), the INIT and SIPI that started each AP with
# flows from the BSP; --report's mp_states the same; no tracefs instance
# left; without tracefs, one message and mpvm's own view; a guest fault
# shows as an instant; the file renders with `mpvm
# trace-svg` (well-formed per xmllint, a lane per vCPU). Format details:
# tests/core/test_trace.c.
. "$(dirname "$0")/lib.sh"
need_kvm
command -v xmllint >/dev/null || { echo "trace.t: xmllint is missing (apt-get install libxml2-utils)" >&2; exit 1; }

# summary FILE: "tracks spans ipis(INIT) ipis(SIPI) flows-started faults closed" from the JSON.
summary() {
	perl -MJSON::PP -e '
		local $/; my $e = eval { decode_json(<STDIN>) } or do { print "bad JSON\n"; exit };
		my (%n, $tracks);
		for (@$e) {
			$tracks++ if $_->{ph} eq "M" && $_->{name} eq "thread_name" && $_->{args}{name} =~ /^vCPU \d+ \(APIC ID \d+\)$/;
			$n{span}++ if $_->{ph} eq "X";
			$n{ $_->{name} }++ if ($_->{cat} // "") eq "ipi" && $_->{ph} eq "i";
			$n{flow}++ if $_->{ph} eq "s";
			$n{fault}++ if ($_->{name} // "") eq "guest fault";
		}
		printf "%d %d %d %d %d %d\n", $tracks, $n{span} // 0, $n{INIT} // 0, $n{SIPI} // 0,
			$n{flow} // 0, $n{fault} // 0' <"$1"
}

# bringup FILE: the APs whose spans (SIPI_RECEIVED left out) start UNINITIALIZED,
# INIT_RECEIVED, RUNNABLE, HALTED, in time order; then those that do not, with their spans.
bringup() {
	perl -MJSON::PP -e '
		local $/; my $e = decode_json(<STDIN>); my %s;
		push @{ $s{$_->{tid}} }, $_ for grep { $_->{ph} eq "X" && $_->{tid} >= 1 && $_->{tid} <= 7 } @$e;
		my ($good, @bad) = (0);
		for my $t (1 .. 7) {
			my $seq = join " ", grep { $_ ne "SIPI_RECEIVED" } map { $_->{name} } sort { $a->{ts} <=> $b->{ts} } @{ $s{$t} // [] };
			if ($seq =~ /^UNINITIALIZED INIT_RECEIVED RUNNABLE HALTED\b/) { $good++ } else { push @bad, "vCPU $t: $seq" }
		}
		print join("; ", $good, @bad), "\n"' <"$1"
}

# report_seqs FILE: each AP's mp_states from --report, SIPI_RECEIVED left out, one line per AP.
report_seqs() {
	perl -MJSON::PP -e 'local $/; my $r = decode_json(<STDIN>);
		for my $v (@{ $r->{vcpus} }) { next unless $v->{id};
			print join(" ", grep { $_ ne "SIPI_RECEIVED" } map { $_->{state} } @{ $v->{mp_states} }), "\n" }' <"$1"
}

# left_instances: tracefs instances of mpvm processes that no longer run (other tests' may be running).
left_instances() {
	local d pid
	for d in /sys/kernel/tracing/instances/mpvm-*; do
		[ -d "$d" ] || continue
		pid=${d##*/mpvm-}
		kill -0 "$pid" 2>/dev/null || printf '%s ' "${d##*/}"
	done
}

for mode in kernel split user; do
	run_mpvm 300 run --irqchip $mode --cpus 8 --trace "$T_DIR/t.json" --report "$T_DIR/r.json"
	is "$STATUS" 0 "--irqchip $mode: exit status 0 with --trace (seccomp on)"
	is "$(grep -c "KVM's tracepoints are not available" "$ERR")" 0 "--irqchip $mode: no tracefs message as root"
	read -r tracks spans inits sipis flows faults <<<"$(summary "$T_DIR/t.json")"
	is "$tracks" 8 "--irqchip $mode: valid trace JSON with a named track per vCPU"
	is "$(bringup "$T_DIR/t.json")" 7 "--irqchip $mode: every AP's spans UNINITIALIZED, INIT_RECEIVED, RUNNABLE, HALTED in order"
	ok $((inits >= 7 && sipis >= 7 ? 0 : 1)) "--irqchip $mode: the INIT and SIPI that started each AP (INIT $inits, SIPI $sipis)"
	ok $((flows >= inits + sipis ? 0 : 1)) "--irqchip $mode: each IPI has a flow from its sender ($flows)"
	is "$(report_seqs "$T_DIR/r.json" | grep -c '^UNINITIALIZED INIT_RECEIVED RUNNABLE HALTED')" 7 \
		"--irqchip $mode: --report's mp_states tell the same bring-up"
	is "$(left_instances)" "" "--irqchip $mode: no tracefs instance left behind"
	run_mpvm 60 trace-svg "$T_DIR/t.json"
	is "$STATUS" 0 "--irqchip $mode: mpvm trace-svg draws it"
	xmllint --noout "$OUT" 2>"$T_DIR/xml"
	is "$?" 0 "--irqchip $mode: the SVG is well-formed XML (xmllint: $(head -c 200 "$T_DIR/xml"))"
	is "$(grep -c '<text class="lane-label"[^>]*>vCPU [0-7] (APIC ID [0-9]*)</text>' "$OUT")" 8 "--irqchip $mode: a labelled lane per vCPU"
	is "$(grep -c '<rect class="span"' "$OUT" | awk '{ print ($1 >= 29) }')" 1 "--irqchip $mode: with a rectangle per span"
done

# No tracefs to be had (an empty tmpfs over /sys/kernel/tracing, in a mount
# namespace of its own): mpvm says so once and traces what it sees itself.
if unshare -m true 2>/dev/null; then
	timeout --kill-after=10 300 unshare -m sh -c 'mount -t tmpfs none /sys/kernel/tracing && exec "$0" "$@"' \
		"$MPVM" run --irqchip kernel --cpus 2 --trace "$T_DIR/n.json" >"$T_DIR/out" 2>"$T_DIR/err" </dev/null
	STATUS=$? ERR=$T_DIR/err
	is "$STATUS" 0 "no tracefs: the run goes on"
	is "$(grep -c "^mpvm: --trace: KVM's tracepoints are not available (.*); the trace shows the local APICs in KVM only as mpvm sees them itself$" "$ERR")" 1 \
		"no tracefs: mpvm says so, once"
	read -r tracks spans inits sipis flows faults <<<"$(summary "$T_DIR/n.json")"
	ok $((tracks == 2 && spans >= 3 ? 0 : 1)) "no tracefs: the trace holds what mpvm saw ($tracks tracks, $spans spans)"
else
	ok 0 "# SKIP unshare -m is not permitted here: the no-tracefs case is not run"
fi

run_mpvm 300 run --cpus 2 --cmdline scenario=triple-fault --trace "$T_DIR/f.json"
is "$STATUS" 126 "a guest fault: status 126"
read -r tracks spans inits sipis flows faults <<<"$(summary "$T_DIR/f.json")"
is "$faults" 1 "a guest fault: one 'guest fault' instant, and the file is complete"

run_mpvm 30 run --trace "$T_DIR"
is "$STATUS" 2 "--trace DIRECTORY: refused before the run"
like "$ERR" "^mpvm: --trace " "--trace DIRECTORY: the message names the option"
done_testing
