/*
 * AP bring-up with INIT-SIPI-SIPI (SDM vol. 3A §8.4.4.1 "Typical BSP
 * Initialization Sequence", MP spec 1.4 appendix B.4) and the tests run on
 * the APs once they are up.
 *
 * CPU index i is the i-th enabled CPU of the table. The AP side finds its
 * index from its APIC ID (apic_index[]), the trampoline finds its stack the
 * same way (ap_stack_top[]). The AP's trampoline entry counts and start CS
 * live below 1 MiB (APREC_ADDR), written in real mode.
 */
#include "guest.h"
#include "cpu.h"

#define AP_ENTRIES ((volatile uint32_t *)(APREC_ADDR + APREC_ENTRIES))
#define STARTUP_VECTOR(addr) ((addr) >> 12)

struct cpu_list cpus;
uint64_t ap_stack_top[MAX_APIC_ID];

struct percpu {
	/* written by the AP before it increments checkins */
	uint32_t lapic_id, cpuid_id, start_cs;
	uint64_t apic_base;
	uint64_t checkin_tsc;
	struct topo_leaf topo;      /* CPUID 0BH as this CPU reads it */
	volatile uint32_t checkins; /* ap_main runs: once per SIPI that started it */
	volatile uint32_t acks;     /* IPI_VECTOR interrupts taken */
	/* BSP only */
	bool started;
	uint32_t expect;            /* check-ins (= trampoline entries) expected */
	uint64_t init_tsc;
};

static struct percpu pc[MAX_CPUS];

/* ---- topology: what CPUID 0BH tells each CPU (SDM vol. 2A, CPUID leaf 0BH) ---- */

static void read_topology(struct topo_leaf *t)
{
	uint32_t r[4];

	cpuid_vmm(0, 0, r);
	if (r[0] < 0xb) {
		t->valid = false;
		return;
	}
	cpuid_vmm(0xb, 0, r);
	t->smt_shift = r[0] & 0x1f;
	t->threads = r[1] & 0xffff;
	t->x2apic_id = r[3];
	cpuid_vmm(0xb, 1, r);
	t->pkg_shift = r[0] & 0x1f;
	t->per_pkg = r[1] & 0xffff;
	t->valid = ((r[2] >> 8) & 0xff) == 2; /* subleaf 1 is the core level */
}
static uint16_t apic_index[MAX_APIC_ID]; /* CPU index + 1; 0: not in the table */
static unsigned bsp_idx;

/* ---- the AP side -------------------------------------------------------- */

void ap_main(uint32_t id, uint32_t cpuid_id, uint32_t start_cs)
{
	struct percpu *p = &pc[apic_index[id] - 1]; /* the trampoline checked it */

	idt_load();
	lapic_enable();
	p->cpuid_id = cpuid_id;
	p->start_cs = start_cs;
	p->lapic_id = lapic_id();
	p->apic_base = rdmsr(MSR_APIC_BASE);
	read_topology(&p->topo);
	p->checkin_tsc = rdtsc();
	__atomic_fetch_add(&p->checkins, 1, __ATOMIC_RELEASE);
	if (ap_fault)
		do_fault((enum fault)ap_fault);
	if (heartbeat_on)
		heartbeat_start_cpu();

	/* Parked: each IPI wakes us, the handler runs, and we halt again. */
	for (;;)
		__asm__ volatile("sti; hlt" : : : "memory");
}

/*
 * scenario=hotplug: an AP's IPI handler also reads a port, an exit from
 * guest code, so that mpvm records the AP RUNNABLE with KVM's local APICs
 * too (where it sees MP states only when a vCPU comes back from KVM_RUN).
 */
bool ap_io_on_ipi;

void smp_ap_ipi(void)
{
	uint32_t id = lapic_id();

	if (ap_io_on_ipi)
		(void)inb(0x80); /* the POST port: reads ignore it */
	if (id < MAX_APIC_ID && apic_index[id])
		__atomic_fetch_add(&pc[apic_index[id] - 1].acks, 1, __ATOMIC_RELEASE);
}

/* ---- setup -------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Copy the trampoline to a page below 1 MiB and patch its data block. */
static void install_trampoline(uint32_t addr)
{
	size_t size = (size_t)(tramp_end - tramp_start);
	uint8_t *d = (uint8_t *)(uintptr_t)addr + (tramp_data - tramp_start);

	memcpy((void *)(uintptr_t)addr, tramp_start, size);
	put16(d + TD_GDTR, (uint16_t)(gdt_end - gdt - 1));
	put32(d + TD_GDTR + 2, (uint32_t)(uintptr_t)gdt);
	put32(d + TD_FAR32, addr + (uint32_t)(tramp_pm32 - tramp_start));
	put16(d + TD_FAR32 + 4, SEL_CODE32);
	put32(d + TD_FAR64, addr + (uint32_t)(tramp_lm64 - tramp_start));
	put16(d + TD_FAR64 + 4, SEL_CODE64);
	put32(d + TD_CR3, (uint32_t)read_cr3()); /* the BSP's tables, below 4 GiB */
	put32(d + TD_EFER, EFER_LME | (uint32_t)(rdmsr(MSR_EFER) & EFER_NXE));
	put32(d + TD_APIC_BASE, (uint32_t)lapic_base);
	put16(d + TD_APREC_SEG, APREC_ADDR >> 4);
	d[TD_X2APIC] = x2apic_mode;
}

void smp_prepare(uint32_t bsp_apic_id)
{
	memset((void *)APREC_ADDR, 0, APREC_SIZE);
	for (unsigned i = 0; i < cpus.n; i++) {
		uint32_t id = cpus.apic_id[i];
		apic_index[id] = (uint16_t)(i + 1);
		if (id == bsp_apic_id)
			bsp_idx = i;
		else
			ap_stack_top[id] = (uint64_t)(uintptr_t)(ap_stacks + (i + 1) * STACK_SIZE);
	}
	install_trampoline(TRAMP_ADDR);
	install_trampoline(TRAMP2_ADDR);
	read_topology(&pc[bsp_idx].topo);
}

/* The AP stacks are not in the image: RAM must reach the last one. */
uint64_t smp_ram_needed(void)
{
	return (uint64_t)(uintptr_t)(ap_stacks + cpus.n * STACK_SIZE);
}

/* ---- helpers ------------------------------------------------------------ */

static uint32_t checkins(unsigned i)
{
	return __atomic_load_n(&pc[i].checkins, __ATOMIC_ACQUIRE);
}

uint32_t smp_checkins(unsigned i)
{
	return checkins(i);
}

static bool wait_checkins(unsigned i, uint32_t n, uint64_t deadline)
{
	while (checkins(i) < n) {
		if (rdtsc() > deadline)
			return false;
		cpu_relax();
	}
	return true;
}

static uint32_t entries(unsigned i)
{
	return AP_ENTRIES[cpus.apic_id[i]];
}

static int64_t bringup_us(unsigned i)
{
	int64_t d = (int64_t)(pc[i].checkin_tsc - pc[i].init_tsc);
	return d < 0 ? -(int64_t)tsc_to_us((uint64_t)-d) : (int64_t)tsc_to_us((uint64_t)d);
}

/* What the AP recorded at check-in must match what we asked for. */
static void check_checkin(unsigned i, uint32_t vector)
{
	struct percpu *p = &pc[i];
	uint32_t id = cpus.apic_id[i];

	if (p->cpuid_id != id)
		FAIL("AP APIC ID %u: CPUID reports initial APIC ID %u\n", id, p->cpuid_id);
	if (p->lapic_id != id)
		FAIL("AP APIC ID %u: local APIC ID register reads %u\n", id, p->lapic_id);
	if (p->start_cs != vector << 8)
		FAIL("AP APIC ID %u: started with CS 0x%x, expected 0x%x (vector 0x%02x)\n", id,
		     p->start_cs, vector << 8, vector);
	if (p->apic_base & APIC_BASE_BSP)
		FAIL("AP APIC ID %u: IA32_APIC_BASE.BSP=1 on an AP\n", id);
}

/* After a sequential start or a broadcast: say how it went. */
static bool report_start(unsigned i, bool ok)
{
	uint32_t id = cpus.apic_id[i];

	if (!ok) {
		FAIL("AP APIC ID %u did not check in within the timeout (trampoline entries %u)\n",
		     id, entries(i));
		return false;
	}
	gprintf("mpvm-guest: AP APIC ID %u online, trampoline entries %u, bring-up %ld us\n", id,
		entries(i), bringup_us(i));
	check_checkin(i, STARTUP_VECTOR(TRAMP_ADDR));
	if (entries(i) != 1)
		FAIL("AP APIC ID %u: %u trampoline entries, expected 1\n", id, entries(i));
	return true;
}

/* INIT assert, INIT de-assert (SDM §10.6.1; §8.4.4.1 step by step). */
static void send_init(uint32_t dest, uint32_t shorthand)
{
	lapic_send_ipi(dest, ICR_INIT | ICR_ASSERT | shorthand);          /* edge, assert */
	lapic_send_ipi(dest, ICR_INIT | ICR_LEVEL | shorthand);           /* level, de-assert */
}

static void send_sipi(uint32_t dest, uint32_t shorthand, uint32_t tramp)
{
	/* STARTUP: the vector is the page number of the real-mode entry point. */
	lapic_send_ipi(dest, ICR_STARTUP | ICR_ASSERT | shorthand | STARTUP_VECTOR(tramp));
}

/* ---- bring-up ----------------------------------------------------------- */

/*
 * The order to start the chosen APs in. In xAPIC mode: table order. In
 * x2APIC mode an AP not started yet is still in xAPIC mode (its reset state,
 * SDM §10.12.5): its 8-bit xAPIC ID is the low byte of its x2APIC ID, so it
 * also takes an IPI for that byte, and 0xff as a broadcast (§10.6.2.1). An
 * INIT for APIC ID 5 would start APIC ID 261 as well (seen on KVM). A real
 * BIOS switches every CPU to x2APIC mode before the OS runs; we have none,
 * so start the IDs above 0xff first (a destination above 0xff reaches only
 * its x2APIC ID, and once up an AP stays in x2APIC mode, INIT keeps it),
 * then the others, and 0xff last.
 */
static unsigned start_order(unsigned count, unsigned *order)
{
	unsigned n = 0;

	for (int pass = x2apic_mode ? 0 : 1; pass < (x2apic_mode ? 3 : 2); pass++) {
		unsigned seen = 0;
		for (unsigned i = 0; i < cpus.n && seen < count; i++) {
			if (i == bsp_idx)
				continue;
			seen++;
			uint32_t id = cpus.apic_id[i];
			if (!x2apic_mode || (pass == 0 && id > 0xff) || (pass == 1 && id < 0xff) ||
			    (pass == 2 && id == 0xff))
				order[n++] = i;
		}
	}
	return n;
}

enum guest_hold guest_hold;

void smp_hold(enum guest_hold at)
{
	static const char *const names[] = { "", "start", "init", "sipi", "online" };

	if (guest_hold != at)
		return;
	gprintf("mpvm-guest: hold %s\n", names[at]);
	serial_getc();
	gprintf("mpvm-guest: hold %s: released\n", names[at]);
}

/* Start the first `count` APs of the table, one at a time. */
unsigned smp_start_each(unsigned count)
{
	static unsigned order[MAX_CPUS];
	unsigned n = start_order(count, order), online = 0;

	if (n && cpus.apic_id[order[0]] > 0xff)
		gprintf("mpvm-guest: x2APIC: starting APIC IDs above 255 first (until an AP runs "
			"it is in xAPIC mode and answers to its ID's low 8 bits)\n");

	for (unsigned k = 0; k < n; k++) {
		unsigned i = order[k];
		uint32_t id = cpus.apic_id[i];
		pc[i].started = true;
		pc[i].expect = 1;
		pc[i].init_tsc = rdtsc();
		/* MP spec B.4: INIT, 10 ms, STARTUP, 200 us, STARTUP. */
		send_init(id, 0);
		delay_us(10000);
		if (k == 0)
			smp_hold(HOLD_INIT);
		send_sipi(id, 0, TRAMP_ADDR);
		delay_us(200);
		send_sipi(id, 0, TRAMP_ADDR);
		if (k == 0)
			smp_hold(HOLD_SIPI);
		bool ok = wait_checkins(i, 1, rdtsc() + us_to_tsc(ap_timeout_ms * 1000));
		online += report_start(i, ok);
	}
	return online;
}

/* Start every AP at once: shorthand all-excluding-self, one SIPI, no delay. */
unsigned smp_start_broadcast(void)
{
	unsigned online = 0, naps = cpus.n - 1;
	uint64_t t0 = rdtsc();

	for (unsigned i = 0; i < cpus.n; i++) {
		if (i == bsp_idx)
			continue;
		pc[i].started = true;
		pc[i].expect = 1;
		pc[i].init_tsc = t0;
	}
	/* SDM §10.6.1: with a shorthand the destination field is ignored. */
	send_init(0, ICR_ALL_BUT_SELF);
	send_sipi(0, ICR_ALL_BUT_SELF, TRAMP_ADDR);

	/* They come up in parallel; allow for many vCPUs on few host CPUs. */
	uint64_t deadline = t0 + us_to_tsc((ap_timeout_ms + 250ull * naps) * 1000);
	for (unsigned i = 0; i < cpus.n; i++) {
		if (i == bsp_idx)
			continue;
		online += report_start(i, wait_checkins(i, 1, deadline));
	}
	return online;
}

/* ---- tests on running APs ------------------------------------------------ */

/* A STARTUP IPI is only acted on in wait-for-SIPI (SDM §8.4.4.1, §10.6.1). */
void smp_second_sipi(void)
{
	for (unsigned i = 0; i < cpus.n; i++)
		if (pc[i].started && checkins(i))
			send_sipi(cpus.apic_id[i], 0, TRAMP_ADDR);
	delay_us(10000);
	for (unsigned i = 0; i < cpus.n; i++) {
		if (!pc[i].started || !checkins(i))
			continue;
		uint32_t id = cpus.apic_id[i];
		if (entries(i) == 1 && checkins(i) == 1)
			gprintf("mpvm-guest: second-sipi: AP %u entries 1 (SIPI ignored)\n", id);
		else
			FAIL("second-sipi: AP %u entries %u, check-ins %u: the SIPI was not ignored\n",
			     id, entries(i), checkins(i));
	}
}

/* INIT sends a running AP back to wait-for-SIPI; restart it at another vector. */
void smp_reinit(void)
{
	const uint32_t vector = STARTUP_VECTOR(TRAMP2_ADDR);

	for (unsigned i = 0; i < cpus.n; i++) {
		if (!pc[i].started || !checkins(i))
			continue;
		uint32_t id = cpus.apic_id[i];
		pc[i].expect = 2;
		send_init(id, 0);
		delay_us(10000);
		send_sipi(id, 0, TRAMP2_ADDR);
		if (!wait_checkins(i, 2, rdtsc() + us_to_tsc(ap_timeout_ms * 1000))) {
			FAIL("reinit: AP %u did not check in again (entries %u)\n", id, entries(i));
			continue;
		}
		check_checkin(i, vector);
		if (entries(i) == 2 && pc[i].start_cs == vector << 8)
			gprintf("mpvm-guest: reinit: AP %u restarted at vector 0x%02x, entries %u\n",
				id, pc[i].start_cs >> 8, entries(i));
		else
			FAIL("reinit: AP %u entries %u, started with CS 0x%x\n", id, entries(i),
			     pc[i].start_cs);
	}
}

/*
 * Fixed IPI to each running AP (physical destination); its handler counts
 * and EOIs. Returns how many acknowledged round `round`.
 */
unsigned smp_ipi_round(unsigned round)
{
	unsigned acked = 0;

	for (unsigned i = 0; i < cpus.n; i++)
		if (pc[i].started && checkins(i))
			lapic_send_ipi(cpus.apic_id[i], ICR_FIXED | ICR_ASSERT | IPI_VECTOR);

	uint64_t deadline = rdtsc() + us_to_tsc(ap_timeout_ms * 1000);
	for (unsigned i = 0; i < cpus.n; i++) {
		if (!pc[i].started || !checkins(i))
			continue;
		while (__atomic_load_n(&pc[i].acks, __ATOMIC_ACQUIRE) < round && rdtsc() < deadline)
			cpu_relax();
		uint32_t a = __atomic_load_n(&pc[i].acks, __ATOMIC_ACQUIRE);
		if (a == round)
			acked++;
		else
			FAIL("IPI round %u: AP %u took the interrupt %u times\n", round,
			     cpus.apic_id[i], a);
	}
	return acked;
}

unsigned smp_online(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < cpus.n; i++)
		n += pc[i].started && checkins(i);
	return n;
}

/*
 * The end: every started AP entered the trampoline and checked in exactly
 * as often as we started it; every other AP was never touched.
 */
/*
 * Every CPU that ran must agree on the field widths CPUID 0BH gives, its
 * x2APIC ID there must be its APIC ID in the firmware's table, and its
 * thread, core and package numbers (the ID cut at those widths) must make
 * the counts CPUID gives: at most `threads` per core, `per_pkg` per
 * package. Prints one line with the shape found.
 */
static void topology_check(void)
{
	const struct topo_leaf *b = &pc[bsp_idx].topo;
	static uint16_t in_pkg[MAX_APIC_ID], in_core[MAX_APIC_ID];
	unsigned pkgs = 0, cores = 0, n = 0, max_threads = 0;

	if (!b->valid) {
		gprintf("mpvm-guest: topology: no CPUID leaf 0BH core level; not checked\n");
		return;
	}
	memset(in_pkg, 0, sizeof(in_pkg));
	memset(in_core, 0, sizeof(in_core));
	for (unsigned i = 0; i < cpus.n; i++) {
		const struct topo_leaf *t = &pc[i].topo;
		uint32_t id = cpus.apic_id[i], pkg, core;

		if (i != bsp_idx && !checkins(i))
			continue;
		n++;
		if (!t->valid || t->smt_shift != b->smt_shift || t->pkg_shift != b->pkg_shift ||
		    t->threads != b->threads || t->per_pkg != b->per_pkg)
			FAIL("topology: CPU with APIC ID %u reads CPUID 0BH shifts %u/%u counts %u/%u, the BSP "
			     "%u/%u %u/%u\n", id, t->smt_shift, t->pkg_shift, t->threads, t->per_pkg,
			     b->smt_shift, b->pkg_shift, b->threads, b->per_pkg);
		if (t->x2apic_id != id)
			FAIL("topology: CPU with APIC ID %u in the table reads x2APIC ID %u in CPUID 0BH\n",
			     id, t->x2apic_id);
		pkg = id >> b->pkg_shift;
		core = id >> b->smt_shift; /* package and core: unique per core */
		if (pkg >= MAX_APIC_ID || core >= MAX_APIC_ID)
			continue;
		if (!in_pkg[pkg]++)
			pkgs++;
		if (!in_core[core]++)
			cores++;
		if (in_pkg[pkg] > b->per_pkg)
			FAIL("topology: package %u has more than the %u logical processors CPUID 0BH gives\n",
			     pkg, b->per_pkg);
		if (in_core[core] > b->threads)
			FAIL("topology: a core of package %u has more than the %u threads CPUID 0BH gives\n",
			     pkg, b->threads);
		if (in_core[core] > max_threads)
			max_threads = in_core[core];
	}
	gprintf("mpvm-guest: topology: %u CPU%s: %u package%s, %u core%s, up to %u thread%s per core "
		"(CPUID 0BH: %u threads per core, %u per package, shifts %u and %u)\n", n, n == 1 ? "" : "s", pkgs,
		pkgs == 1 ? "" : "s", cores, cores == 1 ? "" : "s", max_threads, max_threads == 1 ? "" : "s",
		b->threads, b->per_pkg, b->smt_shift, b->pkg_shift);
}

void smp_final_check(void)
{
	topology_check();
	for (unsigned i = 0; i < cpus.n; i++) {
		if (i == bsp_idx)
			continue;
		uint32_t id = cpus.apic_id[i], want = pc[i].started ? pc[i].expect : 0;
		if (entries(i) != want || checkins(i) != want)
			FAIL("AP %u: %u trampoline entries and %u check-ins, expected %u%s\n", id,
			     entries(i), checkins(i), want,
			     !pc[i].started && x2apic_mode && id > 0xff
				     ? " (still in xAPIC mode, it took an IPI for APIC ID its low "
				       "8 bits name: only a firmware that switches every AP to "
				       "x2APIC mode first avoids that)"
				     : "");
	}
}

/* ---- CPU hotplug (hotplug.c) ------------------------------------------------ */

/* The CPU index of `apic_id`, appended to the table if it is new; -1: no room. */
int smp_add_cpu(uint32_t apic_id)
{
	unsigned i;

	if (apic_id >= MAX_APIC_ID)
		return -1;
	if (apic_index[apic_id])
		return apic_index[apic_id] - 1;
	if (cpus.n >= MAX_CPUS)
		return -1;
	i = cpus.n++;
	cpus.apic_id[i] = apic_id;
	ap_stack_top[apic_id] = (uint64_t)(uintptr_t)(ap_stacks + (i + 1) * STACK_SIZE);
	apic_index[apic_id] = (uint16_t)(i + 1); /* before any SIPI: the trampoline looks it up */
	return (int)i;
}

/* INIT-SIPI-SIPI to CPU i (again, after a park) and its next check-in: the bring-up in us, or -1. */
int64_t smp_bring_up(unsigned i)
{
	uint32_t id = cpus.apic_id[i], before = checkins(i);

	pc[i].started = true;
	pc[i].expect = before + 1;
	pc[i].init_tsc = rdtsc();
	send_init(id, 0);
	delay_us(10000);
	send_sipi(id, 0, TRAMP_ADDR);
	delay_us(200);
	send_sipi(id, 0, TRAMP_ADDR);
	if (!wait_checkins(i, before + 1, rdtsc() + us_to_tsc(ap_timeout_ms * 1000)))
		return -1;
	check_checkin(i, STARTUP_VECTOR(TRAMP_ADDR));
	if (entries(i) != before + 1)
		FAIL("AP APIC ID %u: %u trampoline entries, expected %u\n", id, entries(i), before + 1);
	return bringup_us(i);
}

/* Park CPU i as an OS offlines one: INIT, and it waits for a SIPI. */
void smp_park(unsigned i)
{
	send_init(cpus.apic_id[i], 0);
}

/* A fixed IPI to CPU i: does its handler run? */
bool smp_ping(unsigned i)
{
	uint32_t a = __atomic_load_n(&pc[i].acks, __ATOMIC_ACQUIRE);
	uint64_t deadline;

	lapic_send_ipi(cpus.apic_id[i], ICR_FIXED | ICR_ASSERT | IPI_VECTOR);
	deadline = rdtsc() + us_to_tsc(ap_timeout_ms * 1000);
	while (__atomic_load_n(&pc[i].acks, __ATOMIC_ACQUIRE) == a)
		if (rdtsc() > deadline)
			return false;
		else
			cpu_relax();
	return true;
}
