/*
 * The BSP's program: read the command line, find the CPUs, identify itself,
 * start the APs as the scenario says, run the IPI tests, print the summary
 * and leave through the exit port.
 */
#include "guest.h"
#include "cpu.h"
#include "smbios.h"

unsigned failures;
uint64_t ap_timeout_ms; /* per AP wait; timeout=MS, default 5 s */

/*
 * The MP scenarios, then the ones for mpvm's own tests: a guest that never
 * finishes (--timeout, signals) and guests that fault (fault.c).
 */
enum scenario {
	SC_DEFAULT, SC_SECOND_SIPI, SC_REINIT, SC_PARTIAL, SC_BROADCAST,
	SC_HANG, SC_TRIPLE_FAULT, SC_BAD_PORT, SC_BAD_MMIO, SC_BAD_FETCH, SC_IPI_BENCH,
	SC_APIC_DISABLE, SC_CPUID, SC_APIC_BASE_GP, SC_NMI_STORM,
	SC_HOSTILE_MP, SC_HOSTILE_IPI, SC_HOSTILE_APIC, SC_HOSTILE_IO, SC_CONSOLE_FLOOD, SC_HEARTBEAT, SC_HOTPLUG,
	SC_COUNT
};
static const char *const scenario_names[SC_COUNT] = {
	[SC_DEFAULT] = "default", [SC_SECOND_SIPI] = "second-sipi", [SC_REINIT] = "reinit",
	[SC_PARTIAL] = "partial", [SC_BROADCAST] = "broadcast", [SC_HANG] = "hang",
	[SC_TRIPLE_FAULT] = "triple-fault", [SC_BAD_PORT] = "bad-port",
	[SC_BAD_MMIO] = "bad-mmio", [SC_BAD_FETCH] = "bad-fetch", [SC_IPI_BENCH] = "ipi-bench",
	[SC_APIC_DISABLE] = "apic-disable", [SC_CPUID] = "cpuid", [SC_APIC_BASE_GP] = "apic-base-gp",
	[SC_NMI_STORM] = "nmi-storm",
	[SC_HOSTILE_MP] = "hostile-mp", [SC_HOSTILE_IPI] = "hostile-ipi",
	[SC_HOSTILE_APIC] = "hostile-apic", [SC_HOSTILE_IO] = "hostile-io",
	[SC_CONSOLE_FLOOD] = "console-flood", [SC_HEARTBEAT] = "heartbeat", [SC_HOTPLUG] = "hotplug",
};
static const enum fault scenario_fault[SC_COUNT] = {
	[SC_TRIPLE_FAULT] = FAULT_TRIPLE, [SC_BAD_PORT] = FAULT_BAD_PORT,
	[SC_BAD_MMIO] = FAULT_BAD_MMIO, [SC_BAD_FETCH] = FAULT_BAD_FETCH,
};
/* Guests that push at the VMM (hostile.c): they run once the APs are up, and end the run. */
static const enum hostile scenario_hostile[SC_COUNT] = {
	[SC_HOSTILE_MP] = HOSTILE_MP, [SC_HOSTILE_IPI] = HOSTILE_IPI,
	[SC_HOSTILE_APIC] = HOSTILE_APIC, [SC_HOSTILE_IO] = HOSTILE_IO,
};

enum tables { TABLES_AUTO, TABLES_ACPI, TABLES_MPTABLE };
enum apicmode { APIC_AUTO, APIC_XAPIC, APIC_X2APIC };

struct options {
	enum scenario scenario;
	long start; /* scenario=partial: APs to start; -1: half of them */
	enum tables tables;
	enum apicmode apic;
	bool fault_on_ap; /* where=ap: the fault scenarios fault on the first AP */
	unsigned rounds;  /* scenario=ipi-bench: measured rounds (bench.c) */
	bool spin;        /* scenario=ipi-bench wait=spin: the BSP spins for replies */
	uint64_t bytes;   /* scenario=console-flood: bytes to write (flood.c) */
	unsigned events;  /* scenario=hotplug: CPU hotplug events to take (hotplug.c) */
	bool sci;         /* scenario=hotplug sci=1: take the SCI, not poll GPE0_STS */
};

__attribute__((noreturn)) static void usage_error(const char *what, const char *tok, size_t len)
{
	gprintf("mpvm-guest: bad command line: %s", what);
	if (tok) {
		gprintf(" '");
		for (size_t i = 0; i < len; i++)
			gprintf("%c", tok[i]);
		gprintf("'");
	}
	gprintf(" (keys: scenario=default|second-sipi|reinit|partial|broadcast|hang|"
		"triple-fault|bad-port|bad-mmio|bad-fetch|ipi-bench|apic-disable|cpuid|apic-base-gp|nmi-storm|"
		"hostile-mp|hostile-ipi|hostile-apic|hostile-io|console-flood|heartbeat|hotplug, start=K, events=N, "
		"sci=0|1, where=bsp|ap, tables=auto|acpi|mptable, apic=auto|xapic|x2apic, timeout=MS, "
		"hold=start|init|sipi|online, rounds=N, "
		"wait=hlt|spin, bytes=N[K|M|G])\n");
	gprintf("mpvm-guest:   scenario=ipi-bench rounds=N wait=hlt|spin: IPI round trip and HLT "
		"wake-up latency, BSP and first AP, N rounds (1-%u, default 1000; HLT wake-up at most "
		"200); the BSP waits for replies halted (default) or spinning\n", BENCH_MAX_ROUNDS);
	guest_exit(1);
}

static bool token_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && !memcmp(s, word, len);
}

/* -1 if not a plain decimal number. */
static long parse_num(const char *s, size_t len)
{
	long v = 0;
	if (!len || len > 9)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Space-separated key=value tokens. Anything unknown is an error. */
static struct options parse_cmdline(const char *s, size_t len)
{
	struct options o = { SC_DEFAULT, -1, TABLES_AUTO, APIC_AUTO, false, 1000, false, 0, 0, false };
	bool have_start = false, have_where = false, have_rounds = false, have_wait = false;
	bool have_bytes = false;
	size_t i = 0;

	ap_timeout_ms = 5000;
	while (i < len) {
		if (s[i] == ' ') {
			i++;
			continue;
		}
		const char *tok = s + i;
		size_t tl = 0;
		while (i < len && s[i] != ' ')
			i++, tl++;
		const char *eq = tok;
		while (eq < tok + tl && *eq != '=')
			eq++;
		if (eq == tok + tl)
			usage_error("expected key=value, got", tok, tl);
		size_t kl = (size_t)(eq - tok), vl = tl - kl - 1;
		const char *v = eq + 1;

		if (token_is(tok, kl, "scenario")) {
			unsigned k = 0;
			while (k < SC_COUNT && !token_is(v, vl, scenario_names[k]))
				k++;
			if (k == SC_COUNT)
				usage_error("unknown scenario", v, vl);
			o.scenario = (enum scenario)k;
		} else if (token_is(tok, kl, "start")) {
			o.start = parse_num(v, vl);
			if (o.start < 0)
				usage_error("bad number", v, vl);
			have_start = true;
		} else if (token_is(tok, kl, "tables")) {
			if (token_is(v, vl, "auto"))
				o.tables = TABLES_AUTO;
			else if (token_is(v, vl, "acpi"))
				o.tables = TABLES_ACPI;
			else if (token_is(v, vl, "mptable"))
				o.tables = TABLES_MPTABLE;
			else
				usage_error("unknown tables value", v, vl);
		} else if (token_is(tok, kl, "apic")) {
			if (token_is(v, vl, "auto"))
				o.apic = APIC_AUTO;
			else if (token_is(v, vl, "xapic"))
				o.apic = APIC_XAPIC;
			else if (token_is(v, vl, "x2apic"))
				o.apic = APIC_X2APIC;
			else
				usage_error("unknown apic value", v, vl);
		} else if (token_is(tok, kl, "where")) {
			if (token_is(v, vl, "bsp"))
				o.fault_on_ap = false;
			else if (token_is(v, vl, "ap"))
				o.fault_on_ap = true;
			else
				usage_error("unknown where value", v, vl);
			have_where = true;
		} else if (token_is(tok, kl, "rounds")) {
			long r = parse_num(v, vl);
			if (r <= 0 || r > BENCH_MAX_ROUNDS)
				usage_error("bad rounds", v, vl);
			o.rounds = (unsigned)r;
			have_rounds = true;
		} else if (token_is(tok, kl, "wait")) {
			if (token_is(v, vl, "hlt"))
				o.spin = false;
			else if (token_is(v, vl, "spin"))
				o.spin = true;
			else
				usage_error("unknown wait value", v, vl);
			have_wait = true;
		} else if (token_is(tok, kl, "bytes")) {
			if (!flood_parse_bytes(v, vl, &o.bytes))
				usage_error("bad bytes", v, vl);
			have_bytes = true;
		} else if (token_is(tok, kl, "hold")) {
			static const char *const stages[] = { "start", "init", "sipi", "online" };
			unsigned k = 0;
			while (k < 4 && !token_is(v, vl, stages[k]))
				k++;
			if (k == 4)
				usage_error("unknown hold stage", v, vl);
			guest_hold = (enum guest_hold)(k + 1);
		} else if (token_is(tok, kl, "events")) {
			long e = parse_num(v, vl);
			if (e <= 0 || o.scenario != SC_HOTPLUG)
				usage_error("events= needs scenario=hotplug (before it) and a count", v, vl);
			o.events = (unsigned)e;
		} else if (token_is(tok, kl, "sci")) {
			if (o.scenario != SC_HOTPLUG || !(token_is(v, vl, "0") || token_is(v, vl, "1")))
				usage_error("sci=0|1 needs scenario=hotplug (before it)", v, vl);
			o.sci = token_is(v, vl, "1");
		} else if (token_is(tok, kl, "timeout")) {
			long ms = parse_num(v, vl);
			if (ms <= 0)
				usage_error("bad timeout", v, vl);
			ap_timeout_ms = (uint64_t)ms;
		} else {
			usage_error("unknown key", tok, kl);
		}
	}
	if (have_start && o.scenario != SC_PARTIAL)
		usage_error("start= needs scenario=partial", NULL, 0);
	if ((have_rounds || have_wait) && o.scenario != SC_IPI_BENCH)
		usage_error("rounds= and wait= need scenario=ipi-bench", NULL, 0);
	if (have_bytes != (o.scenario == SC_CONSOLE_FLOOD))
		usage_error("scenario=console-flood needs bytes=N (and bytes= that scenario)", NULL, 0);
	if (have_where && !scenario_fault[o.scenario])
		usage_error("where= needs a fault scenario", NULL, 0);
	return o;
}

static void find_cpus(enum tables t)
{
	bool ok = false;

	if (t != TABLES_MPTABLE)
		ok = acpi_find_cpus(&cpus);
	if (!ok && t == TABLES_ACPI) {
		gprintf("mpvm-guest: tables=acpi but no usable ACPI MADT\n");
		guest_exit(1);
	}
	if (!ok) {
		if (t == TABLES_AUTO)
			gprintf("mpvm-guest: falling back to the MP table\n");
		memset(&cpus, 0, sizeof(cpus));
		ok = mptable_find_cpus(&cpus);
	}
	if (!ok || !cpus.n) {
		gprintf("mpvm-guest: no CPUs found in any table\n");
		guest_exit(1);
	}
	gprintf("mpvm-guest: found %u CPUs in the %s at 0x%lx\n", cpus.n, cpus.source, cpus.addr);
}

/* IA32_APIC_BASE, x2APIC if needed, software enable; returns our APIC ID. */
static uint32_t setup_bsp_apic(enum apicmode mode)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	uint32_t maxid = 0, r[4];

	if (!(base & APIC_BASE_EN)) {
		gprintf("mpvm-guest: the local APIC is disabled in IA32_APIC_BASE (0x%lx)\n", base);
		guest_exit(1);
	}
	lapic_base = base & 0xffffff000ull;
	if (lapic_base >= (1ull << 32)) {
		gprintf("mpvm-guest: local APIC at 0x%lx is outside the identity map\n", lapic_base);
		guest_exit(1);
	}
	for (unsigned i = 0; i < cpus.n; i++)
		if (cpus.apic_id[i] > maxid)
			maxid = cpus.apic_id[i];
	/* 0xff is the xAPIC broadcast ID: anything from 255 up needs x2APIC (SDM §10.12). */
	bool need = maxid >= 255;
	if (need && mode == APIC_XAPIC) {
		gprintf("mpvm-guest: apic=xapic, but APIC IDs go up to %u\n", maxid);
		guest_exit(1);
	}
	if (need || mode == APIC_X2APIC || (base & APIC_BASE_EXTD)) {
		cpuid(1, 0, r);
		if (!(r[2] & (1u << 21))) {
			gprintf("mpvm-guest: x2APIC needed (APIC IDs up to %u) but CPUID.1:ECX.x2APIC=0\n",
				maxid);
			guest_exit(1);
		}
		x2apic_mode = true;
		gprintf("mpvm-guest: using x2APIC mode (APIC IDs up to %u)\n", maxid);
	}
	lapic_enable();

	uint32_t id = lapic_id();
	unsigned bsp = (base & APIC_BASE_BSP) ? 1 : 0;
	gprintf("mpvm-guest: BSP is APIC ID %u (IA32_APIC_BASE.BSP=%u)\n", id, bsp);
	if (!bsp)
		FAIL("IA32_APIC_BASE.BSP is clear on the boot CPU\n");
	return id;
}

static void check_bsp_in_table(uint32_t id)
{
	bool found = false;

	for (unsigned i = 0; i < cpus.n; i++) {
		if (cpus.apic_id[i] == id)
			found = true;
		/* MP spec §4.3.1: the BP flag marks the bootstrap processor. */
		if (cpus.has_bp && cpus.mp_bp[i] != (cpus.apic_id[i] == id))
			FAIL("MP table entry for APIC ID %u has BP=%u, but the BSP is APIC ID %u\n",
			     cpus.apic_id[i], cpus.mp_bp[i], id);
	}
	if (!found) {
		gprintf("mpvm-guest: the BSP (APIC ID %u) is not in the %s\n", id, cpus.source);
		guest_exit(1);
	}
}

/* The fault scenarios: fault on the BSP, or start one AP that faults. */
__attribute__((noreturn)) static void run_fault(enum fault f, bool on_ap, unsigned naps)
{
	if (!on_ap) {
		gprintf("mpvm-guest: faulting on the BSP\n");
		do_fault(f);
		FAIL("the fault on the BSP did not stop the VM\n");
		guest_exit(1);
	}
	if (!naps) {
		gprintf("mpvm-guest: where=ap needs an AP (--cpus 2 or more)\n");
		guest_exit(1);
	}
	gprintf("mpvm-guest: starting one AP, which faults when it checks in\n");
	ap_fault = f;
	smp_start_each(1);
	delay_us(5000000);
	FAIL("the fault on the AP did not stop the VM within 5 s\n");
	guest_exit(1);
}

/*
 * scenario=apic-disable: the BSP turns its local APIC off (IA32_APIC_BASE.EN
 * = 0, SDM vol. 3A §10.4.3). Its page is then no device's: reads give all
 * ones and writes go nowhere; CPUID.1:EDX.APIC (bit 9) reads 0. Turning it
 * back on gives an APIC in its reset state (version register readable).
 */
static void apic_disable_check(void)
{
	uint64_t base = rdmsr(0x1b);
	uint32_t r[4], edx, ver;

	wrmsr(0x1b, base & ~((1ull << 11) | (1ull << 10)));
	cpuid(1, 0, r);
	edx = r[3];
	ver = mmio_read32(0xfee00030);
	mmio_write32(0xfee00080, 0x20);
	gprintf("mpvm-guest: apic-disable: version reads 0x%x, TPR reads 0x%x, CPUID.1:EDX.APIC %u\n",
		ver, mmio_read32(0xfee00080), (edx >> 9) & 1);
	if (ver != 0xffffffffu || mmio_read32(0xfee00080) != 0xffffffffu || (edx & (1u << 9)))
		FAIL("apic-disable: a disabled APIC's page must read all ones and CPUID.1:EDX.APIC be 0\n");
	wrmsr(0x1b, (base & ~(1ull << 10)) | (1ull << 11));
	cpuid(1, 0, r);
	edx = r[3];
	ver = mmio_read32(0xfee00030);
	gprintf("mpvm-guest: apic-disable: enabled again, version 0x%x, CPUID.1:EDX.APIC %u\n",
		ver, (edx >> 9) & 1);
	if ((ver & 0xff) != 0x14 || !(edx & (1u << 9)))
		FAIL("apic-disable: the re-enabled APIC must answer with version 0x14 and CPUID.1:EDX.APIC 1\n");
}

/*
 * scenario=apic-base-gp: WRMSRs to IA32_APIC_BASE that must raise #GP
 * change nothing (SDM vol. 3A §10.12.5, vol. 4 "IA32_APIC_BASE"): EXTD
 * when CPUID hides x2APIC (run with --no-x2apic), a base address bit at
 * MAXPHYADDR, and reserved bit 9. After each, IA32_APIC_BASE reads as
 * before and the APIC still answers in xAPIC mode.
 */
static void apic_base_gp_check(void)
{
	uint64_t base = rdmsr(0x1b);
	uint32_t r[4], maxphy = 36;
	struct bad_write { const char *what; uint64_t value; } bad[3];
	unsigned n = 0;

	cpuid(1, 0, r);
	if (!(r[2] & (1u << 21)))
		bad[n++] = (struct bad_write){ "EXTD with x2APIC hidden", base | (1ull << 10) };
	cpuid(0x80000000u, 0, r);
	if (r[0] >= 0x80000008u) {
		cpuid(0x80000008u, 0, r);
		maxphy = r[0] & 0xff;
	}
	if (maxphy < 64)
		bad[n++] = (struct bad_write){ "an address bit at MAXPHYADDR", base | (1ull << maxphy) };
	bad[n++] = (struct bad_write){ "reserved bit 9", base | (1ull << 9) };
	for (unsigned i = 0; i < n; i++) {
		bool gp = !wrmsr_safe(0x1b, bad[i].value);
		uint64_t now = rdmsr(0x1b);
		uint32_t ver = mmio_read32(0xfee00030);

		gprintf("mpvm-guest: apic-base-gp: %s: #GP %s, IA32_APIC_BASE %s, version 0x%x\n",
			bad[i].what, gp ? "yes" : "no", now == base ? "unchanged" : "CHANGED", ver);
		if (!gp || now != base || (ver & 0xff) != 0x14)
			FAIL("apic-base-gp: a faulting IA32_APIC_BASE write must change nothing\n");
		if (now != base)
			wrmsr_safe(0x1b, base);
	}
}

/*
 * scenario=nmi-storm: the BSP sends NMI_STORM NMIs to the first AP as fast
 * as the ICR takes them. NMIs that arrive while one is pending merge (SDM
 * vol. 3A §6.7.1: one in service, one pending), so the AP takes at least
 * one and at most NMI_STORM; afterwards it must still answer fixed IPIs.
 */
#define NMI_STORM 20000u

extern volatile uint32_t nmis_taken;
extern volatile bool nmis_expected, ap_spinning, ap_spin_stop;

/* The AP runs, not halted, so every NMI has to interrupt guest code in flight. */
static void nmi_storm_check(unsigned naps)
{
	uint32_t target = cpus.apic_id[cpus.apic_id[0] == lapic_id() ? 1 : 0], before = 0, now, acked;
	uint64_t end = rdtsc() + us_to_tsc(5000000);

	nmis_expected = true;
	lapic_send_ipi(target, ICR_FIXED | ICR_ASSERT | SPIN_VECTOR);
	while (!ap_spinning && rdtsc() < end)
		cpu_relax();
	if (!ap_spinning)
		FAIL("nmi-storm: the AP did not start spinning\n");
	for (unsigned i = 0; i < NMI_STORM; i++)
		lapic_send_ipi(target, ICR_NMI | ICR_ASSERT);
	/* Until the count stops moving for 100 ms, or 5 s. */
	end = rdtsc() + us_to_tsc(5000000);
	do {
		before = __atomic_load_n(&nmis_taken, __ATOMIC_RELAXED);
		delay_us(100000);
		now = __atomic_load_n(&nmis_taken, __ATOMIC_RELAXED);
	} while (now != before && rdtsc() < end);
	gprintf("mpvm-guest: nmi-storm: %u NMIs sent to APIC ID %u while it ran, %u taken\n",
		NMI_STORM, target, now);
	if (now == 0 || now > NMI_STORM)
		FAIL("nmi-storm: the AP must take at least one NMI and at most one per NMI sent\n");
	acked = smp_ipi_round(3);
	gprintf("mpvm-guest: after the NMI storm: %u/%u APs acknowledged a fixed IPI\n", acked, naps);
	ap_spin_stop = true;
}

/* The feature registers; a leaf above the maximum reads as 0. */
static void cpuid_line(const char *tag, void (*get)(uint32_t, uint32_t, uint32_t *))
{
	uint32_t r[4], l1[4] = { 0 }, l7[4] = { 0 }, e1[4] = { 0 };

	get(0, 0, r);
	if (r[0] >= 1)
		get(1, 0, l1);
	if (r[0] >= 7)
		get(7, 0, l7);
	get(0x80000000u, 0, r);
	if (r[0] >= 0x80000001u)
		get(0x80000001u, 0, e1);
	gprintf("%s: 1.ecx=%08x 1.edx=%08x 7.ebx=%08x 7.ecx=%08x 80000001.ecx=%08x 80000001.edx=%08x\n",
		tag, l1[2], l1[3], l7[1], l7[2], e1[2], e1[3]);
}

/*
 * scenario=cpuid: the BSP prints its feature registers (for --cpu-features
 * tests) and exits 0, starting no AP. `cpuid:` is what the VMM set,
 * `cpuid-plain:` what a plain CPUID instruction returns; the two differ
 * only where the hypervisor lets a plain CPUID through (KVM-PVM without
 * CPUID faulting).
 */
__attribute__((noreturn)) static void cpuid_report(void)
{
	cpuid_line("cpuid", cpuid_vmm);
	cpuid_line("cpuid-plain", cpuid);
	guest_exit(0);
}

void bsp_main(const struct mpvm_boot_info *bi)
{
	serial_init();
	idt_init();
	idt_load();

	if (bi->magic != MPVM_BOOT_INFO_MAGIC || bi->version != MPVM_BOOT_INFO_VERSION) {
		gprintf("mpvm-guest: bad boot info at 0x%lx (magic 0x%x, version %u)\n",
			(uint64_t)(uintptr_t)bi, bi->magic, bi->version);
		guest_exit(1);
	}
	size_t len = bi->cmdline_len < MPVM_BOOT_CMDLINE_MAX ? bi->cmdline_len
							      : MPVM_BOOT_CMDLINE_MAX - 1;
	struct options o = parse_cmdline((const char *)(uintptr_t)bi->cmdline_addr, len);
	gprintf("mpvm-guest: scenario %s\n", scenario_names[o.scenario]);
	if (o.scenario == SC_CPUID)
		cpuid_report();
	if (o.scenario == SC_CONSOLE_FLOOD) {
		time_init();
		console_flood(o.bytes);
	}

	if (!time_init())
		guest_exit(1);
	find_cpus(o.tables);
	smbios_report();
	uint32_t bsp_id = setup_bsp_apic(o.apic);
	check_bsp_in_table(bsp_id);

	uint64_t need = smp_ram_needed();
	if (need > bi->mem_size) {
		gprintf("mpvm-guest: %u CPUs need guest RAM up to 0x%lx, have 0x%lx\n", cpus.n,
			need, (uint64_t)bi->mem_size);
		guest_exit(1);
	}
	smp_prepare(bsp_id);

	unsigned naps = cpus.n - 1;
	if (o.scenario == SC_IPI_BENCH && !naps) {
		gprintf("mpvm-guest: ipi-bench needs an AP (--cpus 2 or more)\n");
		guest_exit(1);
	}
	if (scenario_fault[o.scenario])
		run_fault(scenario_fault[o.scenario], o.fault_on_ap, naps);

	if (guest_hold && o.scenario != SC_DEFAULT && o.scenario != SC_PARTIAL)
		usage_error("hold= needs scenario=default or partial", NULL, 0);
	smp_hold(HOLD_START);
	if (o.scenario == SC_HEARTBEAT)
		heartbeat_prepare();
	switch (o.scenario) {
	case SC_PARTIAL: {
		unsigned k = o.start < 0 ? naps / 2 : (unsigned)o.start;
		if (k > naps) {
			gprintf("mpvm-guest: start=%u, but there are only %u APs\n", k, naps);
			guest_exit(1);
		}
		gprintf("mpvm-guest: partial: starting %u of %u APs\n", k, naps);
		smp_start_each(k);
		break;
	}
	case SC_BROADCAST:
		smp_start_broadcast();
		break;
	default:
		smp_start_each(naps);
		break;
	}
	if (scenario_hostile[o.scenario])
		hostile_run(scenario_hostile[o.scenario]);
	if (o.scenario == SC_HEARTBEAT)
		heartbeat_run();

	if (o.scenario == SC_SECOND_SIPI)
		smp_second_sipi();
	if (o.scenario == SC_REINIT)
		smp_reinit();
	if (o.scenario == SC_IPI_BENCH)
		bench_ipi(o.rounds, o.spin);
	if (o.scenario == SC_HOTPLUG)
		hotplug_run(o.events ? o.events : 1, o.sci);
	if (o.scenario == SC_HANG) {
		gprintf("mpvm-guest: hang: %u/%u CPUs online; the BSP now halts with interrupts off, "
			"for good\n", 1 + smp_online(), cpus.n);
		for (;;)
			__asm__ volatile("cli; hlt");
	}

	smp_hold(HOLD_ONLINE);
	unsigned n = smp_online(), acked = smp_ipi_round(1);
	gprintf("mpvm-guest: IPI 0x%02x: %u/%u APs acknowledged\n", IPI_VECTOR, acked, n);
	delay_us(10000); /* let them halt again */
	acked = smp_ipi_round(2);
	gprintf("mpvm-guest: HLT wake-up round 2: %u/%u APs woke\n", acked, n);

	smp_final_check();
	if (o.scenario == SC_APIC_DISABLE)
		apic_disable_check();
	if (o.scenario == SC_APIC_BASE_GP)
		apic_base_gp_check();
	if (o.scenario == SC_NMI_STORM && smp_online())
		nmi_storm_check(n);
	gprintf("%u/%u CPUs online\n", 1 + smp_online(), cpus.n);
	guest_exit(failures ? 1 : 0);
}
