#!/usr/bin/env bash
# --trace FILE: the MP-state timeline as Chrome trace-event JSON, in every
# irqchip mode, under the seccomp filters (vCPU threads write their spans):
# one named track per vCPU, a span per MP state, and with --irqchip user
# (where mpvm delivers the IPIs) the INIT and SIPI that started each AP, with
# flows from the BSP; a guest fault shows as an instant; the file renders
# with `mpvm trace-svg`. Format details: tests/core/test_trace.c.
. "$(dirname "$0")/lib.sh"
need_kvm

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

for mode in kernel split user; do
	run_mpvm 300 run --irqchip $mode --cpus 4 --trace "$T_DIR/t.json"
	is "$STATUS" 0 "--irqchip $mode: exit status 0 with --trace (seccomp on)"
	read -r tracks spans inits sipis flows faults <<<"$(summary "$T_DIR/t.json")"
	is "$tracks" 4 "--irqchip $mode: a named track per vCPU"
	ok $((spans >= 7 ? 0 : 1)) "--irqchip $mode: MP-state spans for every vCPU (got $spans)"
	if [ $mode = user ]; then
		ok $((inits >= 3 && sipis >= 3 ? 0 : 1)) "--irqchip user: the INIT and SIPI that started each AP (INIT $inits, SIPI $sipis)"
		ok $((flows >= inits + sipis ? 0 : 1)) "--irqchip user: each IPI has a flow from its sender ($flows)"
	fi
	run_mpvm 60 trace-svg "$T_DIR/t.json"
	is "$STATUS" 0 "--irqchip $mode: mpvm trace-svg draws it"
	is "$(grep -c '<rect' "$OUT" | awk '{ print ($1 >= 7) }')" 1 "--irqchip $mode: with a rectangle per span"
done

run_mpvm 300 run --cpus 2 --cmdline scenario=triple-fault --trace "$T_DIR/f.json"
is "$STATUS" 126 "a guest fault: status 126"
read -r tracks spans inits sipis flows faults <<<"$(summary "$T_DIR/f.json")"
is "$faults" 1 "a guest fault: one 'guest fault' instant, and the file is complete"

run_mpvm 30 run --trace "$T_DIR"
is "$STATUS" 2 "--trace DIRECTORY: refused before the run"
like "$ERR" "^mpvm: --trace " "--trace DIRECTORY: the message names the option"
done_testing
