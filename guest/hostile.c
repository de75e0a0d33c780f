/*
 * Hostile guests (scenario=hostile-mp|hostile-ipi|hostile-apic|hostile-io):
 * a guest that pushes at the VMM's interrupt controllers and MP machinery
 * the way a buggy or malicious operating system could. Each scenario checks
 * that the VMM survives and that what the guest sees is what KVM's in-kernel
 * irqchip gives it, so the same checks hold in every --irqchip mode.
 *
 * The APs are started as usual (smp.c) and park in HLT. Work reaches them
 * as a task: the BSP stores it in the AP's slot and sends TASK_VECTOR; the
 * handler sends EOI, enables interrupts and runs the task, so an AP can be
 * kept busy (not halted) while still taking IPIs. A CPU finds its own slot
 * from its stack pointer (AP i runs on the i-th stack, the BSP on its own),
 * which needs no APIC access: hostile-apic writes garbage to the APIC ID.
 *
 * Not sent: SMI (the guest has no SMM handler, and KVM-PVM runs no SMM),
 * and INT3 (KVM-PVM cannot emulate it in guest kernel mode).
 */
#include "guest.h"
#include "cpu.h"

#define TASK_VECTOR   0x42 /* run the task in this CPU's slot */
#define COUNT_VECTOR  0x43 /* counted per receiving CPU */
#define TIMER_VECTOR  0x44 /* hostile-apic: the local APIC timer */
#define UART_VECTOR   0x45 /* hostile-io: COM1 through the IOAPIC */

#define ICR_LOWEST    (1u << 8)
#define ICR_LOGICAL   (1u << 11)
#define ICR_SELF      (1u << 18)
#define ICR_ALL_INCL  (2u << 18)

#define REG_ID     0x020
#define REG_VER    0x030
#define REG_TPR    0x080
#define REG_PPR    0x0a0
#define REG_EOI    0x0b0
#define REG_LDR    0x0d0
#define REG_DFR    0x0e0
#define REG_SVR    0x0f0
#define REG_ISR    0x100
#define REG_IRR    0x200
#define REG_ESR    0x280
#define REG_ICR    0x300
#define REG_ICR2   0x310
#define REG_LVTT   0x320
#define REG_LVT0   0x350
#define REG_LVTERR 0x370
#define REG_TMICT  0x380
#define REG_TMCCT  0x390
#define REG_TDCR   0x3e0

#define IOAPIC_BASE 0xfec00000u
#define UNMAPPED_VA 0x200000000ull /* 8 GiB: above the 4 GiB identity map */

enum task { T_NONE, T_SPIN, T_SPIN_CLI, T_STORM, T_FAULTS, T_LDR };

struct hcpu {
	volatile uint32_t got;     /* COUNT_VECTOR interrupts taken */
	volatile uint32_t nmis;
	volatile uint32_t stray;   /* other vectors, swallowed while `swallow` is set */
	volatile uint32_t timer, uart;
	volatile uint32_t task, arg, arg2;
	volatile uint32_t started, done; /* tasks begun, tasks finished */
	volatile uint32_t sent;    /* T_STORM: IPIs sent */
	volatile uint32_t faults;  /* expected exceptions taken */
	volatile uint32_t fault_vec;
	volatile uint64_t fault_cr2;
	volatile uint64_t fixup;   /* where an expected exception resumes, 0: none expected */
	volatile uint64_t spins;
};

#define BSP_SLOT MAX_CPUS
static struct hcpu hc[MAX_CPUS + 1];
static volatile bool active;  /* the hook below is in charge */
static volatile bool swallow; /* unknown vectors are counted, not fatal */
static volatile bool release; /* T_SPIN tasks return */
static unsigned bsp_i;        /* the BSP's index in cpus */

static unsigned my_slot(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0), lo = (uintptr_t)ap_stacks;

	if (sp >= lo && sp < lo + (uintptr_t)MAX_CPUS * STACK_SIZE)
		return (unsigned)((sp - lo) / STACK_SIZE);
	return BSP_SLOT;
}

static struct hcpu *slot(unsigned i)
{
	return &hc[i == bsp_i ? BSP_SLOT : i];
}

static uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

/* ---- raw local APIC access (the mode's MMIO page or MSRs) ----------------- */

static uint32_t apic_rd(uint32_t off)
{
	if (x2apic_mode)
		return (uint32_t)rdmsr(0x800 + (off >> 4));
	return mmio_read32(lapic_base + off);
}

static void apic_wr(uint32_t off, uint32_t v)
{
	if (x2apic_mode)
		wrmsr(0x800 + (off >> 4), v);
	else
		mmio_write32(lapic_base + off, v);
}

static bool in_service(unsigned v)
{
	return (apic_rd(REG_ISR + (v >> 5) * 0x10) >> (v & 31)) & 1;
}

/* RDMSR that may fault, as wrmsr_safe() (BSP only: gp_fixup is global). */
static bool rdmsr_safe(uint32_t msr, uint64_t *v)
{
	uint32_t lo = 0, hi = 0;

	gp_seen = 0;
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, %[fix]\n\trdmsr\n1:\n\tmovq $0, %[fix]"
			 : [fix] "=m"(gp_fixup), "+a"(lo), "+d"(hi)
			 : "c"(msr)
			 : "r11", "memory");
	*v = (uint64_t)hi << 32 | lo;
	return !gp_seen;
}

/* ---- the interrupt hook (idt.c) ---------------------------------------------- */

static void run_task(struct hcpu *c);

bool hostile_interrupt(uint64_t vector, uint64_t *rip)
{
	if (!active)
		return false;
	struct hcpu *c = &hc[my_slot()];

	if (vector == 2) { /* NMI: IRET ends NMI blocking (SDM §6.7.1) */
		c->nmis++;
		return true;
	}
	if (vector < 32) {
		if (!c->fixup)
			return false;
		if (vector == 14)
			c->fault_cr2 = read_cr2();
		c->fault_vec = (uint32_t)vector;
		c->faults++;
		*rip = c->fixup;
		c->fixup = 0;
		return true;
	}
	switch (vector) {
	case TASK_VECTOR:
		lapic_eoi();
		run_task(c);
		return true;
	case COUNT_VECTOR:
		c->got++;
		lapic_eoi();
		return true;
	case TIMER_VECTOR:
		c->timer++;
		lapic_eoi();
		return true;
	case UART_VECTOR:
		(void)inb(MPVM_COM1_PORT + 2); /* IIR: reading it acknowledges THR empty */
		outb(MPVM_COM1_PORT + 1, 0);   /* IER: once is enough */
		c->uart++;
		lapic_eoi();
		return true;
	}
	if (!swallow)
		return false;
	c->stray++;
	/* A spurious vector is not in service and takes no EOI (SDM §10.9). */
	if (in_service((unsigned)vector))
		lapic_eoi();
	return true;
}

/* ---- helpers ------------------------------------------------------------------ */

static bool wait_at_least(volatile uint32_t *p, uint32_t want, uint64_t ms)
{
	uint64_t end = rdtsc() + us_to_tsc(ms * 1000);

	while (*p < want) {
		if (rdtsc() > end)
			return false;
		cpu_relax();
	}
	return true;
}

static void give_task(unsigned i, enum task t, uint32_t arg)
{
	struct hcpu *c = slot(i);

	c->arg = arg;
	c->task = t;
	lapic_send_ipi(cpus.apic_id[i], ICR_FIXED | ICR_ASSERT | TASK_VECTOR);
}

/* Give AP i a task and wait until it has begun it. */
static bool start_task(unsigned i, enum task t, uint32_t arg)
{
	uint32_t n = slot(i)->started;

	give_task(i, t, arg);
	if (wait_at_least(&slot(i)->started, n + 1, ap_timeout_ms))
		return true;
	FAIL("hostile: AP %u did not begin task %u\n", cpus.apic_id[i], (unsigned)t);
	return false;
}

static uint32_t entries_of(unsigned i)
{
	return ((volatile uint32_t *)(APREC_ADDR + APREC_ENTRIES))[cpus.apic_id[i]];
}

static void send_init(uint32_t dest, uint32_t mode)
{
	lapic_send_ipi(dest, ICR_INIT | ICR_ASSERT | mode);
	lapic_send_ipi(dest, ICR_INIT | ICR_LEVEL | mode); /* de-assert: KVM ignores it */
}

static void send_sipi(uint32_t dest, uint32_t mode, uint32_t page)
{
	lapic_send_ipi(dest, ICR_STARTUP | ICR_ASSERT | mode | (page >> 12));
}

/* A fixed IPI to AP i is taken. */
static bool answers(unsigned i)
{
	uint32_t n = slot(i)->got;

	lapic_send_ipi(cpus.apic_id[i], ICR_FIXED | ICR_ASSERT | COUNT_VECTOR);
	return wait_at_least(&slot(i)->got, n + 1, ap_timeout_ms);
}

static bool all_answer(const char *when)
{
	unsigned ok = 0, n = 0;

	for (unsigned i = 0; i < cpus.n; i++) {
		if (i == bsp_i)
			continue;
		n++;
		if (answers(i))
			ok++;
		else
			FAIL("%s: AP %u does not take a fixed IPI\n", when, cpus.apic_id[i]);
	}
	gprintf("mpvm-guest: %s: %u/%u APs took a fixed IPI\n", when, ok, n);
	return ok == n;
}

/* The APs, in table order, without the BSP. */
static unsigned ap_list(unsigned *ap)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cpus.n; i++)
		if (i != bsp_i)
			ap[n++] = i;
	return n;
}

/* ---- tasks (on the AP, interrupts on) --------------------------------------------- */

/* Fixed IPIs to every other CPU, `arg` to each, as fast as the ICR takes them. */
static void storm_all(struct hcpu *c)
{
	uint32_t self = (uint32_t)(c - hc);

	for (uint32_t k = 0; k < c->arg; k++)
		for (unsigned j = 0; j < cpus.n; j++) {
			if (j == self || (j == bsp_i && self == BSP_SLOT))
				continue;
			lapic_send_ipi(cpus.apic_id[j], ICR_FIXED | ICR_ASSERT | COUNT_VECTOR);
			c->sent++;
		}
}

/*
 * Each kind of fault `arg` times, each handled (the handler resumes after
 * the instruction): #UD, #DE, #GP (non-canonical address) and #PF (above
 * the identity map). A wrong vector or CR2 is counted in arg2. No INT3:
 * KVM-PVM cannot emulate it in guest kernel mode (an internal error).
 */
static void fault_loop(struct hcpu *c)
{
	static const uint8_t want[4] = { 6, 0, 13, 14 };

	for (uint32_t k = 0; k < c->arg; k++) {
		for (unsigned f = 0; f < 4; f++) {
			uint32_t before = c->faults;

			switch (f) {
			case 0:
				__asm__ volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, %0\n\tud2\n1:"
						 : "=m"(c->fixup) : : "r11", "memory");
				break;
			case 1:
				__asm__ volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, %0\n\tdivl %%ecx\n1:"
						 : "=m"(c->fixup) : "a"(1), "d"(0), "c"(0) : "r11", "memory");
				break;
			case 2:
				__asm__ volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, %0\n\tmovq (%%rcx), %%rax\n1:"
						 : "=m"(c->fixup) : "c"(0x8000000000000000ull)
						 : "rax", "r11", "memory");
				break;
			case 3:
				__asm__ volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, %0\n\tmovq (%%rcx), %%rax\n1:"
						 : "=m"(c->fixup) : "c"(UNMAPPED_VA) : "rax", "r11", "memory");
				break;
			}
			if (c->faults != before + 1 || c->fault_vec != want[f] ||
			    (f == 3 && c->fault_cr2 != UNMAPPED_VA))
				c->arg2++;
			c->fixup = 0;
		}
	}
}

static void run_task(struct hcpu *c)
{
	uint32_t t = c->task;

	c->task = T_NONE;
	c->started++;
	__asm__ volatile("sti" : : : "memory");
	switch (t) {
	case T_SPIN:
		while (!release) {
			c->spins++;
			cpu_relax();
		}
		break;
	case T_SPIN_CLI: /* never halts, never takes an interrupt again; only INIT gets it out */
		__asm__ volatile("cli" : : : "memory");
		for (;;) {
			c->spins++;
			cpu_relax();
		}
	case T_STORM:
		storm_all(c);
		break;
	case T_FAULTS:
		fault_loop(c);
		break;
	case T_LDR: /* xAPIC logical destination: DFR model, LDR (SDM §10.6.2.2) */
		apic_wr(REG_DFR, c->arg2);
		apic_wr(REG_LDR, c->arg);
		break;
	}
	__asm__ volatile("cli" : : : "memory");
	c->done++;
}

/* ---- scenario=hostile-mp: SIPI storms, INIT in every state, faults, spinning APs ---- */

#define SIPI_STORM 300u

/* INIT, then one SIPI: the AP must start again exactly once. */
static void init_restart(unsigned i, const char *state, unsigned inits)
{
	uint32_t id = cpus.apic_id[i], e = entries_of(i), ck = smp_checkins(i);

	for (unsigned k = 0; k < inits; k++)
		send_init(id, 0);
	delay_us(10000);
	if (entries_of(i) != e || smp_checkins(i) != ck)
		FAIL("hostile-mp: AP %u ran on after INIT (%s)\n", id, state);
	send_sipi(id, 0, TRAMP_ADDR);
	uint64_t end = rdtsc() + us_to_tsc(ap_timeout_ms * 1000);
	while (smp_checkins(i) < ck + 1 && rdtsc() < end)
		cpu_relax();
	delay_us(20000);
	bool ok = entries_of(i) == e + 1 && smp_checkins(i) == ck + 1 && answers(i);
	gprintf("mpvm-guest: hostile-mp: INIT x%u to AP %u %s, then SIPI: %s (entries %u -> %u)\n",
		inits, id, state, ok ? "restarted once" : "WRONG", e, entries_of(i));
	if (!ok)
		FAIL("hostile-mp: AP %u (%s): entries %u -> %u, check-ins %u -> %u\n", id, state, e,
		     entries_of(i), ck, smp_checkins(i));
}

static void hostile_mp(void)
{
	unsigned ap[MAX_CPUS];
	unsigned n = ap_list(ap);

	if (n < 3) {
		gprintf("mpvm-guest: hostile-mp needs 3 APs (--cpus 4 or more)\n");
		guest_exit(1);
	}
	unsigned run = ap[0], halt = ap[1], wait = ap[2];
	uint32_t e_run = entries_of(run), e_halt = entries_of(halt), e_wait = entries_of(wait);

	/* One AP busy (interrupts on), one halted, one sent back to wait-for-SIPI. */
	release = false;
	start_task(run, T_SPIN, 0);
	send_init(cpus.apic_id[wait], 0);
	delay_us(10000);

	/* SIPIs outside wait-for-SIPI are ignored (SDM §8.4.4.1, §10.6.1). */
	for (unsigned k = 0; k < SIPI_STORM; k++) {
		send_sipi(cpus.apic_id[run], 0, TRAMP2_ADDR);
		send_sipi(cpus.apic_id[halt], 0, TRAMP2_ADDR);
	}
	delay_us(50000);
	bool ok = entries_of(run) == e_run && entries_of(halt) == e_halt && answers(run) &&
		  answers(halt) && slot(run)->done == 0;
	gprintf("mpvm-guest: hostile-mp: %u SIPIs each to a running and a halted AP: %s\n",
		SIPI_STORM, ok ? "ignored" : "NOT IGNORED");
	if (!ok)
		FAIL("hostile-mp: SIPI storm: entries %u -> %u and %u -> %u\n", e_run,
		     entries_of(run), e_halt, entries_of(halt));

	/* In wait-for-SIPI the first SIPI starts the AP; the rest find it running. */
	uint32_t ck = smp_checkins(wait);
	for (unsigned k = 0; k < SIPI_STORM; k++)
		send_sipi(cpus.apic_id[wait], 0, TRAMP2_ADDR);
	uint64_t end = rdtsc() + us_to_tsc(ap_timeout_ms * 1000);
	while (smp_checkins(wait) < ck + 1 && rdtsc() < end)
		cpu_relax();
	delay_us(50000);
	ok = entries_of(wait) == e_wait + 1 && smp_checkins(wait) == ck + 1 && answers(wait);
	gprintf("mpvm-guest: hostile-mp: %u SIPIs to an AP in wait-for-SIPI: %s (entries %u -> %u)\n",
		SIPI_STORM, ok ? "started once" : "WRONG", e_wait, entries_of(wait));
	if (!ok)
		FAIL("hostile-mp: SIPI storm to wait-for-SIPI: check-ins %u -> %u\n", ck,
		     smp_checkins(wait));

	/* INIT in each state an AP can be in, then a SIPI brings it back. */
	init_restart(run, "running with interrupts on", 1);
	start_task(run, T_SPIN_CLI, 0);
	init_restart(run, "running with interrupts off", 1);
	init_restart(halt, "halted", 1);
	init_restart(wait, "in wait-for-SIPI (INIT twice)", 2);

	/* A fault storm on one AP while the others run and take IPIs. */
	start_task(halt, T_SPIN, 0);
	start_task(wait, T_SPIN, 0);
	uint64_t s_halt = slot(halt)->spins, s_wait = slot(wait)->spins;
	uint32_t done = slot(run)->done;
	give_task(run, T_FAULTS, 100);
	bool fin = wait_at_least(&slot(run)->done, done + 1, 10 * ap_timeout_ms);
	ok = fin && slot(run)->arg2 == 0 && slot(run)->faults == 400 &&
	     slot(halt)->spins > s_halt && slot(wait)->spins > s_wait;
	gprintf("mpvm-guest: hostile-mp: AP %u took %u faults (#UD #DE #GP #PF, 100 each, %u "
		"wrong) while APs %u and %u ran: %s\n", cpus.apic_id[run], slot(run)->faults,
		slot(run)->arg2, cpus.apic_id[halt], cpus.apic_id[wait], ok ? "ok" : "WRONG");
	if (!ok)
		FAIL("hostile-mp: fault storm: finished %u, faults %u, wrong %u\n", fin,
		     slot(run)->faults, slot(run)->arg2);
	all_answer("hostile-mp: after the fault storm");
	release = true;
	delay_us(10000);

	/* Leave with one AP spinning with interrupts off and one with them on. */
	release = false;
	start_task(halt, T_SPIN, 0);
	start_task(wait, T_SPIN_CLI, 0);
	gprintf("mpvm-guest: hostile-mp: exiting with AP %u spinning with interrupts on and AP %u "
		"with interrupts off\n", cpus.apic_id[halt], cpus.apic_id[wait]);
}

/* ---- scenario=hostile-ipi: storms, absent IDs, every delivery mode ------------------ */

#define IPI_STORM  2000u
#define ALL_STORM  200u

static uint32_t snap_got[32], snap_nmi[32];

static void snapshot(void)
{
	for (unsigned i = 0; i < cpus.n; i++) {
		snap_got[i] = slot(i)->got;
		snap_nmi[i] = slot(i)->nmis;
	}
}

/* CPUs (bit = table index) whose counter moved since snapshot(); *many: one moved by more than 1. */
static uint32_t moved(bool nmi, bool *many)
{
	uint32_t m = 0;

	*many = false;
	for (unsigned i = 0; i < cpus.n; i++) {
		uint32_t d = nmi ? slot(i)->nmis - snap_nmi[i] : slot(i)->got - snap_got[i];
		if (d)
			m |= 1u << i;
		if (d > 1)
			*many = true;
	}
	return m;
}

static void print_set(uint32_t m)
{
	bool first = true;

	gprintf("{");
	for (unsigned i = 0; i < cpus.n; i++)
		if (m & (1u << i)) {
			gprintf(first ? "%u" : ",%u", cpus.apic_id[i]);
			first = false;
		}
	gprintf("}");
}

static unsigned cases, cases_ok;

/*
 * Send one IPI and see who took it (fixed: COUNT_VECTOR; NMI: the NMI
 * count). `want` is the set of CPUs that must take it once; `one_of`: for
 * lowest priority, exactly one CPU of `want`.
 */
static void deliver(const char *what, uint32_t dest, uint32_t icr, uint32_t want, bool one_of)
{
	bool nmi = (icr & (7u << 8)) == ICR_NMI, many;
	uint64_t end;

	snapshot();
	lapic_send_ipi(dest, icr);
	end = rdtsc() + us_to_tsc(200000);
	while (rdtsc() < end) {
		uint32_t m = moved(nmi, &many);
		if (one_of ? m != 0 : (m & want) == want)
			break;
		cpu_relax();
	}
	delay_us(20000); /* anyone else who would take it */
	uint32_t m = moved(nmi, &many);
	bool ok = !many && (one_of ? (m & ~want) == 0 && (want ? m && !(m & (m - 1)) : !m)
				   : m == want);
	cases++;
	cases_ok += ok;
	gprintf("mpvm-guest: hostile-ipi: %s: taken by ", what);
	print_set(m);
	gprintf("%s\n", ok ? "" : " -- WRONG");
	if (!ok) {
		FAIL("hostile-ipi: %s: want %s", what, one_of ? "one of " : "");
		print_set(want);
		gprintf(" once each\n");
	}
}

/* Logical destination for the CPUs in `set` (bit = table index), in the current model. */
static uint32_t x2_logical(uint32_t set)
{
	/* x2APIC: the LDR is cluster (ID[19:4]) << 16 | 1 << ID[3:0] (SDM §10.12.10.2). */
	uint32_t d = 0;

	for (unsigned i = 0; i < cpus.n; i++)
		if (set & (1u << i))
			d |= (cpus.apic_id[i] >> 4) << 16 | 1u << (cpus.apic_id[i] & 15);
	return d;
}

static void set_xapic_logical(uint32_t dfr, uint32_t (*ldr_of)(unsigned))
{
	for (unsigned i = 0; i < cpus.n; i++) {
		if (i == bsp_i) {
			apic_wr(REG_DFR, dfr);
			apic_wr(REG_LDR, ldr_of(i));
			continue;
		}
		uint32_t d = slot(i)->done;
		slot(i)->arg2 = dfr;
		give_task(i, T_LDR, ldr_of(i));
		if (!wait_at_least(&slot(i)->done, d + 1, ap_timeout_ms))
			FAIL("hostile-ipi: AP %u did not set its LDR\n", cpus.apic_id[i]);
	}
}

/* Flat model: CPU i is bit i of the 8-bit logical ID. Cluster model: cluster 1, member i. */
static uint32_t ldr_flat(unsigned i)
{
	return 1u << (24 + i);
}

static uint32_t ldr_cluster(unsigned i)
{
	return (0x10u | (1u << i)) << 24;
}

static void hostile_ipi(void)
{
	unsigned ap[MAX_CPUS];
	unsigned n = ap_list(ap);
	uint32_t bsp = 1u << bsp_i, all = (1u << cpus.n) - 1, aps = all & ~bsp;

	if (n < 3 || cpus.n > 8) {
		gprintf("mpvm-guest: hostile-ipi needs 3 to 7 APs (--cpus 4 to 8)\n");
		guest_exit(1);
	}
	__asm__ volatile("sti" : : : "memory");

	/* A storm of fixed IPIs at one busy AP and one halted AP: they merge in IRR. */
	release = false;
	start_task(ap[0], T_SPIN, 0);
	for (unsigned t = 0; t < 2; t++) {
		unsigned i = ap[t];
		uint32_t before = slot(i)->got, now;
		for (unsigned k = 0; k < IPI_STORM; k++)
			lapic_send_ipi(cpus.apic_id[i], ICR_FIXED | ICR_ASSERT | COUNT_VECTOR);
		do {
			now = slot(i)->got;
			delay_us(50000);
		} while (now != slot(i)->got);
		now -= before;
		bool ok = now >= 1 && now <= IPI_STORM && answers(i);
		gprintf("mpvm-guest: hostile-ipi: %u fixed IPIs to %s AP %u: %s (%u taken)\n", IPI_STORM,
			t ? "a halted" : "a running", cpus.apic_id[i], ok ? "ok" : "WRONG", now);
		if (!ok)
			FAIL("hostile-ipi: storm to AP %u: %u taken\n", cpus.apic_id[i], now);
	}
	release = true;
	delay_us(10000);

	/* Every CPU sends to every other at once. */
	uint32_t got0[8], sent0[8];
	for (unsigned i = 0; i < cpus.n; i++) {
		got0[i] = slot(i)->got;
		sent0[i] = slot(i)->sent;
	}
	for (unsigned k = 0; k < n; k++)
		give_task(ap[k], T_STORM, ALL_STORM);
	slot(bsp_i)->arg = ALL_STORM;
	storm_all(slot(bsp_i));
	bool ok = true;
	for (unsigned k = 0; k < n; k++) {
		struct hcpu *c = slot(ap[k]);
		uint64_t end = rdtsc() + us_to_tsc(10 * ap_timeout_ms * 1000);
		while (c->sent - sent0[ap[k]] < ALL_STORM * (cpus.n - 1) && rdtsc() < end)
			cpu_relax();
		if (c->sent - sent0[ap[k]] != ALL_STORM * (cpus.n - 1)) {
			FAIL("hostile-ipi: AP %u got stuck sending: %u of %u sent\n", cpus.apic_id[ap[k]],
			     c->sent - sent0[ap[k]], ALL_STORM * (cpus.n - 1));
			ok = false;
		}
	}
	delay_us(100000);
	for (unsigned i = 0; i < cpus.n; i++) {
		uint32_t d = slot(i)->got - got0[i];
		if (d < 1 || d > ALL_STORM * (cpus.n - 1)) {
			FAIL("hostile-ipi: all-to-all: APIC ID %u took %u\n", cpus.apic_id[i], d);
			ok = false;
		}
	}
	gprintf("mpvm-guest: hostile-ipi: %u CPUs each sent %u fixed IPIs to every other at once: %s\n",
		cpus.n, ALL_STORM, ok ? "all sent, all took some" : "WRONG");
	all_answer("hostile-ipi: after the all-to-all storm");

	/* IPIs of every kind to APIC IDs nobody has: nothing happens, the sender goes on. */
	uint32_t e[8];
	for (unsigned i = 0; i < cpus.n; i++)
		e[i] = entries_of(i);
	snapshot();
	unsigned absent = 0;
	uint32_t top = x2apic_mode ? 0x400 : 0xff;
	for (uint32_t id = 0; id < top; id++) {
		bool present = false;
		for (unsigned i = 0; i < cpus.n; i++)
			present |= cpus.apic_id[i] == id;
		if (present)
			continue;
		static const uint32_t kinds[4] = {
			ICR_FIXED | ICR_ASSERT | COUNT_VECTOR, ICR_NMI | ICR_ASSERT,
			ICR_INIT | ICR_ASSERT, ICR_STARTUP | ICR_ASSERT | (TRAMP2_ADDR >> 12),
		};
		for (unsigned k = 0; k < 4; k++)
			absent += lapic_send_ipi(id, kinds[k]);
	}
	if (x2apic_mode) {
		static const uint32_t far[3] = { 0x12345678u, 0xfffffffeu, 0x10000u };
		for (unsigned k = 0; k < 3; k++)
			absent += lapic_send_ipi(far[k], ICR_FIXED | ICR_ASSERT | COUNT_VECTOR) +
				  lapic_send_ipi(far[k], ICR_NMI | ICR_ASSERT);
	}
	/* Logical destination 0 names nobody in either model. */
	absent += lapic_send_ipi(0, ICR_FIXED | ICR_ASSERT | ICR_LOGICAL | COUNT_VECTOR);
	delay_us(50000);
	bool many;
	uint32_t m = moved(false, &many) | moved(true, &many);
	bool same = true;
	for (unsigned i = 0; i < cpus.n; i++)
		same &= entries_of(i) == e[i];
	gprintf("mpvm-guest: hostile-ipi: %u IPIs (fixed, NMI, INIT, SIPI) to absent APIC IDs: %s\n",
		absent, !m && same ? "nobody took any" : "SOMEONE TOOK ONE");
	if (m || !same)
		FAIL("hostile-ipi: an IPI to an absent APIC ID reached someone\n");

	/* Every delivery mode, destination mode and shorthand (SDM §10.6.1, Table 10-3). */
	uint32_t a1 = 1u << ap[0], a2 = 1u << ap[1], a3 = 1u << ap[2];
	uint32_t bcast = x2apic_mode ? 0xffffffffu : 0xff;
	for (unsigned k = 0; k < n; k++)
		deliver("fixed, physical, to each AP", cpus.apic_id[ap[k]],
			ICR_FIXED | ICR_ASSERT | COUNT_VECTOR, 1u << ap[k], false);
	deliver("fixed, physical, to its own APIC ID", cpus.apic_id[bsp_i],
		ICR_FIXED | ICR_ASSERT | COUNT_VECTOR, bsp, false);
	deliver("fixed, physical broadcast", bcast, ICR_FIXED | ICR_ASSERT | COUNT_VECTOR, all, false);
	deliver("fixed, shorthand self", 0, ICR_FIXED | ICR_ASSERT | ICR_SELF | COUNT_VECTOR, bsp, false);
	deliver("fixed, shorthand all including self", 0,
		ICR_FIXED | ICR_ASSERT | ICR_ALL_INCL | COUNT_VECTOR, all, false);
	deliver("fixed, shorthand all excluding self", 0,
		ICR_FIXED | ICR_ASSERT | ICR_ALL_BUT_SELF | COUNT_VECTOR, aps, false);
	deliver("NMI, physical", cpus.apic_id[ap[0]], ICR_NMI | ICR_ASSERT, a1, false);
	deliver("NMI, shorthand all excluding self", 0, ICR_NMI | ICR_ASSERT | ICR_ALL_BUT_SELF, aps,
		false);
	/* The SDM shows lowest priority reserved in the x2APIC ICR; KVM sends it all the same. */
	deliver("lowest priority, physical", cpus.apic_id[ap[1]],
		ICR_LOWEST | ICR_ASSERT | COUNT_VECTOR, a2, false);
	deliver("fixed, illegal vector 5", cpus.apic_id[ap[0]], ICR_FIXED | ICR_ASSERT | 5, 0, false);
	deliver("reserved delivery mode 3", cpus.apic_id[ap[0]], (3u << 8) | ICR_ASSERT | COUNT_VECTOR,
		0, false);
	deliver("reserved delivery mode 7", cpus.apic_id[ap[0]], (7u << 8) | ICR_ASSERT | COUNT_VECTOR,
		0, false);

	if (x2apic_mode) {
		deliver("fixed, logical (x2APIC cluster)", x2_logical(a1 | a3),
			ICR_FIXED | ICR_ASSERT | ICR_LOGICAL | COUNT_VECTOR, a1 | a3, false);
		deliver("NMI, logical (x2APIC cluster)", x2_logical(a2 | a3),
			ICR_NMI | ICR_ASSERT | ICR_LOGICAL, a2 | a3, false);
		deliver("fixed, logical broadcast", bcast,
			ICR_FIXED | ICR_ASSERT | ICR_LOGICAL | COUNT_VECTOR, all, false);
		deliver("lowest priority, logical (x2APIC cluster)", x2_logical(aps),
			ICR_LOWEST | ICR_ASSERT | ICR_LOGICAL | COUNT_VECTOR, aps, true);
	} else {
		set_xapic_logical(0xffffffffu, ldr_flat);
		deliver("fixed, logical (flat)", (a1 | a3) & 0xff,
			ICR_FIXED | ICR_ASSERT | ICR_LOGICAL | COUNT_VECTOR, a1 | a3, false);
		deliver("NMI, logical (flat)", (a2 | a3) & 0xff, ICR_NMI | ICR_ASSERT | ICR_LOGICAL,
			a2 | a3, false);
		deliver("lowest priority, logical (flat)", aps & 0xff,
			ICR_LOWEST | ICR_ASSERT | ICR_LOGICAL | COUNT_VECTOR, aps, true);
		deliver("fixed, logical broadcast (flat)", 0xff,
			ICR_FIXED | ICR_ASSERT | ICR_LOGICAL | COUNT_VECTOR, all, false);
		set_xapic_logical(0x0fffffffu, ldr_cluster);
		deliver("fixed, logical (cluster)", 0x10 | ((a1 | a3) & 0xf),
			ICR_FIXED | ICR_ASSERT | ICR_LOGICAL | COUNT_VECTOR, a1 | a3, false);
		deliver("lowest priority, logical (cluster)", 0x10 | (aps & 0xf),
			ICR_LOWEST | ICR_ASSERT | ICR_LOGICAL | COUNT_VECTOR, aps, true);
	}

	/*
	 * INIT through a logical destination, then SIPI. In xAPIC mode INIT
	 * clears the LDR and DFR (SDM §10.4.7.3): the AP has no logical ID
	 * any more, so a logical SIPI reaches nobody and only a physical one
	 * starts it. An x2APIC LDR follows from the ID and survives INIT.
	 */
	uint32_t ldest = x2apic_mode ? x2_logical(a2) : 0x10 | (a2 & 0xf);
	uint32_t ck = smp_checkins(ap[1]), e2 = entries_of(ap[1]);
	send_init(ldest, ICR_LOGICAL);
	delay_us(10000);
	send_sipi(ldest, ICR_LOGICAL, TRAMP_ADDR);
	if (!x2apic_mode) {
		delay_us(20000);
		ok = entries_of(ap[1]) == e2;
		gprintf("mpvm-guest: hostile-ipi: SIPI, logical, to AP %u after INIT cleared its LDR: %s\n",
			cpus.apic_id[ap[1]], ok ? "reached nobody" : "STARTED IT");
		if (!ok)
			FAIL("hostile-ipi: a logical SIPI reached an AP whose LDR INIT cleared\n");
		send_sipi(cpus.apic_id[ap[1]], 0, TRAMP_ADDR);
	}
	uint64_t end = rdtsc() + us_to_tsc(ap_timeout_ms * 1000);
	while (smp_checkins(ap[1]) < ck + 1 && rdtsc() < end)
		cpu_relax();
	delay_us(20000);
	ok = smp_checkins(ap[1]) == ck + 1 && entries_of(ap[1]) == e2 + 1;
	gprintf("mpvm-guest: hostile-ipi: INIT, logical, to AP %u, then SIPI: %s\n",
		cpus.apic_id[ap[1]], ok ? "restarted once" : "WRONG");
	if (!ok)
		FAIL("hostile-ipi: logical INIT/SIPI: check-ins %u -> %u\n", ck, smp_checkins(ap[1]));
	for (unsigned i = 0; i < cpus.n; i++)
		e[i] = entries_of(i);
	send_init(0, ICR_ALL_BUT_SELF);
	delay_us(10000);
	send_sipi(0, ICR_ALL_BUT_SELF, TRAMP_ADDR);
	end = rdtsc() + us_to_tsc(ap_timeout_ms * 1000);
	unsigned restarted = 0;
	for (unsigned k = 0; k < n; k++) {
		while (entries_of(ap[k]) < e[ap[k]] + 1 && rdtsc() < end)
			cpu_relax();
	}
	delay_us(50000);
	for (unsigned k = 0; k < n; k++)
		restarted += entries_of(ap[k]) == e[ap[k]] + 1;
	gprintf("mpvm-guest: hostile-ipi: INIT and SIPI to all excluding self: %u/%u APs restarted "
		"once\n", restarted, n);
	if (restarted != n)
		FAIL("hostile-ipi: INIT/SIPI all excluding self restarted %u of %u\n", restarted, n);
	delay_us(20000);
	all_answer("hostile-ipi: at the end");
	gprintf("mpvm-guest: hostile-ipi: %u/%u delivery cases as KVM delivers them\n", cases_ok,
		cases);
}

/* ---- scenario=hostile-apic: garbage in every register --------------------------------- */

static const uint32_t garbage[] = { 0xffffffffu, 0x00000000u, 0x5a5a5a5au, 0xa5a5a5a5u, 0x0001a0f3u };
#define NGARBAGE (sizeof(garbage) / sizeof(garbage[0]))

/*
 * What a register reads after all ones were written to it, as KVM keeps
 * it: the writable bits (SDM Table 10-1, §10.5.1 Figure 10-8, §10.9). Bits
 * 12 (delivery status) and 14 (remote IRR) of the LVT are read-only and
 * KVM lets a write set them in its copy, so they are not compared. -1:
 * read-only, must not change; -2: not compared: ESR, SVR (checked on its
 * own), and offsets with no register, which KVM answers with whatever its
 * instruction emulator's buffer held (0xfee00000 here) and mpvm with 0.
 */
static int64_t xapic_after_ones(uint32_t off, bool tsc_deadline, unsigned maxlvt)
{
	switch (off) {
	case REG_ID:   return 0xff000000;
	case REG_TPR:  return 0xff;
	case REG_LDR:  return 0xff000000;
	case REG_DFR:  return 0xffffffff;
	case REG_ICR2: return 0xff000000;
	case REG_LVTT: return tsc_deadline ? 0x000600ff | 0x10000 : 0x000200ff | 0x10000;
	case 0x330: case 0x340: return 0x000107ff;                /* thermal, perf */
	case 0x350: case 0x360: return 0x0001a7ff;                /* LINT0, LINT1 */
	case REG_LVTERR: return 0x000100ff;
	case 0x2f0:    return maxlvt >= 6 ? 0x000107ff : -2;      /* CMCI, if the version has it */
	case REG_TMICT: return 0xffffffff;
	case REG_TDCR: return 0xb;
	case REG_VER: case REG_PPR: case REG_TMCCT: return -1;
	case REG_ESR: case REG_SVR: return -2;
	}
	if (off >= REG_ISR && off < 0x280)
		return -1;                                            /* ISR, TMR, IRR */
	return -2;                                                    /* no register */
}

static void drain_strays(void)
{
	swallow = true;
	__asm__ volatile("sti" : : : "memory");
	delay_us(20000);
	__asm__ volatile("cli" : : : "memory");
	swallow = false;
}

static void xapic_garbage(void)
{
	uint32_t r[4], saved[64];
	unsigned bad = 0;

	cpuid(1, 0, r);
	bool tscd = r[2] & (1u << 24);
	unsigned maxlvt = (apic_rd(REG_VER) >> 16) & 0xff;

	for (uint32_t off = 0; off <= 0x3f0; off += 0x10)
		saved[off >> 4] = apic_rd(off);
	/* One register at a time: write all ones, read back, put the old value back. */
	for (uint32_t off = 0; off <= 0x3f0; off += 0x10) {
		if (off == REG_ICR || off == REG_EOI || off == REG_TMCCT)
			continue; /* the ICR sends (hostile-ipi has it); EOI has no value */
		int64_t want = xapic_after_ones(off, tscd, maxlvt);
		uint32_t before = apic_rd(off);
		apic_wr(off, 0xffffffffu);
		uint32_t got = apic_rd(off);
		if (off >= REG_LVTT && off <= REG_LVTERR)
			got &= ~((1u << 12) | (1u << 14));
		if (off == 0x2f0)
			got &= ~(1u << 12);
		if ((want == -1 && got != before) || (want >= 0 && got != (uint32_t)want)) {
			FAIL("hostile-apic: xAPIC offset 0x%03x reads 0x%08x after all ones, want 0x%08lx\n",
			     off, got, want == -1 ? before : (uint64_t)want);
			bad++;
		}
		if (off == REG_SVR && ((got & 0x3ff) != 0x3ff || (got & ~0x13ffu))) {
			FAIL("hostile-apic: SVR reads 0x%08x after all ones\n", got);
			bad++;
		}
		if (off == REG_TMICT)
			apic_wr(off, 0);
		if (want != -1 && off != REG_ESR)
			apic_wr(off, saved[off >> 4]);
	}
	gprintf("mpvm-guest: hostile-apic: xAPIC registers 0x000-0x3f0 after all ones: %s\n",
		bad ? "WRONG" : "as KVM keeps them");

	/* Then garbage everywhere at once, nothing put back until the end. */
	for (unsigned g = 0; g < NGARBAGE; g++)
		for (uint32_t off = 0; off <= 0x3f0; off += 0x10)
			if (off != REG_ICR && off != REG_TMCCT)
				apic_wr(off, garbage[g]);
	/* A byte, a misaligned word and reserved offsets beyond 0x3f0: all ignored. */
	*(volatile uint8_t *)(lapic_base + REG_TPR) = 0x77;
	*(volatile uint16_t *)(lapic_base + REG_TPR + 2) = 0x7777;
	for (uint32_t off = 0x400; off < 0x1000; off += 0x10)
		apic_wr(off, 0xffffffffu);
	uint32_t tpr = apic_rd(REG_TPR);
	if (tpr != (garbage[NGARBAGE - 1] & 0xff))
		FAIL("hostile-apic: a byte or misaligned write changed TPR to 0x%02x\n", tpr);
	/* Software-disable first: that masks every LVT entry (SDM §10.4.7.2). */
	apic_wr(REG_SVR, 0);
	apic_wr(REG_TMICT, 0);
	for (uint32_t off = REG_LVTT; off <= REG_LVTERR; off += 0x10)
		apic_wr(off, saved[off >> 4]);
	apic_wr(0x2f0, saved[0x2f0 >> 4]);
	apic_wr(REG_ID, saved[REG_ID >> 4]);
	apic_wr(REG_DFR, saved[REG_DFR >> 4]);
	apic_wr(REG_LDR, saved[REG_LDR >> 4]);
	apic_wr(REG_TDCR, saved[REG_TDCR >> 4]);
	apic_wr(REG_SVR, saved[REG_SVR >> 4]);
	apic_wr(REG_TPR, saved[REG_TPR >> 4]);
	gprintf("mpvm-guest: hostile-apic: garbage in every xAPIC register; TPR after a byte write "
		"of 0x77: 0x%02x\n", tpr);
}

/* Which x2APIC MSRs KVM has (SDM Table 10-6): readable, and writable with 0. */
static bool x2_readable(uint32_t msr, unsigned maxlvt)
{
	uint32_t off = (msr - 0x800) << 4;

	if (off >= REG_ISR && off < REG_ESR)
		return true;
	switch (off) {
	case REG_ID: case REG_VER: case REG_TPR: case REG_PPR: case REG_LDR: case REG_SVR:
	case REG_ESR: case REG_ICR: case REG_TMICT: case REG_TMCCT: case REG_TDCR:
		return true;
	case 0x2f0:
		return maxlvt >= 6;
	}
	return off >= REG_LVTT && off <= REG_LVTERR;
}

static bool x2_writable(uint32_t msr, unsigned maxlvt)
{
	uint32_t off = (msr - 0x800) << 4;

	switch (off) {
	case REG_TPR: case REG_EOI: case REG_SVR: case REG_ESR: case REG_ICR: case REG_TMICT:
	case REG_TDCR: case 0x3f0:
		return true;
	case 0x2f0:
		return maxlvt >= 6;
	}
	return off >= REG_LVTT && off <= REG_LVTERR;
}

static void x2apic_garbage(void)
{
	unsigned maxlvt = (apic_rd(REG_VER) >> 16) & 0xff, rbad = 0, wbad = 0, hibad = 0;
	unsigned nr = 0, nw = 0;
	uint64_t saved[256], v;

	for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
		bool ok = rdmsr_safe(msr, &v);
		saved[msr - 0x800] = v;
		nr += ok;
		if (ok != x2_readable(msr, maxlvt)) {
			FAIL("hostile-apic: RDMSR 0x%x %s\n", msr, ok ? "read, want #GP" : "#GP, want a value");
			rbad++;
		}
	}
	for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
		uint32_t off = (msr - 0x800) << 4;
		if (off == REG_ICR || off == REG_EOI || off == 0x3f0)
			continue; /* sends, or acts without a value: below */
		bool ok = wrmsr_safe(msr, 0);
		nw += ok;
		if (ok != x2_writable(msr, maxlvt)) {
			FAIL("hostile-apic: WRMSR 0x%x = 0 %s\n", msr, ok ? "taken, want #GP" : "#GP, want it taken");
			wbad++;
		}
		/* Bits 63:32 are reserved in every x2APIC register but the ICR (§10.12.1.2). */
		if (x2_writable(msr, maxlvt) && wrmsr_safe(msr, 1ull << 32)) {
			FAIL("hostile-apic: WRMSR 0x%x with bit 32 set was taken, want #GP\n", msr);
			hibad++;
		}
		/* All ones: #GP or not, the APIC must still work (checked afterwards). */
		for (unsigned g = 0; g < NGARBAGE; g++)
			(void)wrmsr_safe(msr, garbage[g]);
		if (x2_writable(msr, maxlvt) && off != REG_ESR && off != REG_TMICT)
			(void)wrmsr_safe(msr, saved[msr - 0x800]);
	}
	(void)wrmsr_safe(0x838, 0); /* TMICT: timer off */
	/* EOI with nothing in service, and a self IPI of a vector nobody expects (swallowed). */
	(void)wrmsr_safe(0x80b, 0);
	(void)wrmsr_safe(0x83f, 0xf0);
	/* Software-disable, restore the LVT, enable again (SDM §10.4.7.2). */
	wrmsr_safe(0x80f, 0);
	for (uint32_t off = REG_LVTT; off <= REG_LVTERR; off += 0x10)
		(void)wrmsr_safe(0x800 + (off >> 4), saved[off >> 4]);
	(void)wrmsr_safe(0x80f, saved[REG_SVR >> 4]);
	(void)wrmsr_safe(0x808, saved[REG_TPR >> 4]);
	gprintf("mpvm-guest: hostile-apic: x2APIC MSRs 0x800-0x8ff: %u readable, %u writable with 0; "
		"%s\n", nr, nw, rbad || wbad || hibad ? "WRONG" : "the rest #GP as on KVM");

	/* The xAPIC page is no register in x2APIC mode: KVM reads all ones there (MMIO hole). */
	uint32_t ver = mmio_read32(lapic_base + REG_VER);
	mmio_write32(lapic_base + REG_TPR, 0x55);
	gprintf("mpvm-guest: hostile-apic: the xAPIC page in x2APIC mode reads 0x%08x, TPR 0x%02x\n",
		ver, apic_rd(REG_TPR));
	if (ver != 0xffffffffu || apic_rd(REG_TPR) != (saved[REG_TPR >> 4] & 0xff))
		FAIL("hostile-apic: the xAPIC page must read all ones and take no write in x2APIC mode\n");
}

/* After the garbage: self IPI, IPIs both ways, a one-shot timer. */
static void apic_works(void)
{
	unsigned ap[MAX_CPUS];
	unsigned n = ap_list(ap);
	struct hcpu *me = slot(bsp_i);
	uint32_t got = me->got, t = me->timer;

	__asm__ volatile("sti" : : : "memory");
	lapic_send_ipi(0, ICR_FIXED | ICR_ASSERT | ICR_SELF | COUNT_VECTOR);
	bool self = wait_at_least(&me->got, got + 1, 1000);
	apic_wr(REG_TDCR, 0xb);                    /* divide by 1 */
	apic_wr(REG_LVTT, TIMER_VECTOR);           /* one-shot, unmasked */
	apic_wr(REG_TMICT, 1000000);               /* 1 ms at 1 GHz */
	bool timer = wait_at_least(&me->timer, t + 1, 2000);
	apic_wr(REG_LVTT, 1u << 16);
	bool ipis = n ? all_answer("hostile-apic: after the garbage") : true;
	if (n) {
		/* And back: an AP sends to us. */
		got = me->got;
		give_task(ap[0], T_STORM, 1);
		ipis &= wait_at_least(&me->got, got + 1, ap_timeout_ms);
	}
	gprintf("mpvm-guest: hostile-apic: afterwards: self IPI %s, timer %s, IPIs %s, ID %u\n",
		self ? "taken" : "LOST", timer ? "fired" : "SILENT", ipis ? "both ways" : "LOST",
		lapic_id());
	if (!self || !timer || !ipis || lapic_id() != cpus.apic_id[bsp_i])
		FAIL("hostile-apic: the local APIC does not work after the garbage\n");
	__asm__ volatile("cli" : : : "memory");
}

static void hostile_apic(void)
{
	__asm__ volatile("cli" : : : "memory");
	if (x2apic_mode)
		x2apic_garbage();
	else
		xapic_garbage();
	apic_wr(REG_ESR, 0);
	apic_wr(REG_ESR, 0);
	drain_strays();
	gprintf("mpvm-guest: hostile-apic: %u stray interrupts drained, %u NMIs\n",
		slot(bsp_i)->stray, slot(bsp_i)->nmis);
	apic_works();
}

/* ---- scenario=hostile-io: IOAPIC garbage, port and MMIO floods ------------------------- */

static uint32_t ioapic_rd(uint32_t reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

static void ioapic_wr(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

static void ioapic_garbage(void)
{
	uint32_t ver = ioapic_rd(1), id = ioapic_rd(0);
	unsigned pins = ((ver >> 16) & 0xff) + 1, bad = 0;

	gprintf("mpvm-guest: hostile-io: IOAPIC version 0x%08x, %u pins\n", ver, pins);
	/*
	 * Redirection entries (82093AA §3.2.4) keep every bit written but
	 * delivery status (12) and remote IRR (14), which are read-only. All
	 * ones is a masked entry; interrupts off, so nothing can arrive.
	 */
	__asm__ volatile("cli" : : : "memory");
	for (unsigned p = 0; p < pins; p++) {
		ioapic_wr(0x10 + 2 * p, 0xffffffffu);
		ioapic_wr(0x11 + 2 * p, 0xffffffffu);
		uint32_t lo = ioapic_rd(0x10 + 2 * p), hi = ioapic_rd(0x11 + 2 * p);
		if (lo != 0xffffafffu || hi != 0xffffffffu) {
			FAIL("hostile-io: IOAPIC pin %u reads 0x%08x:%08x after all ones, want "
			     "0xffffffff:ffffafff\n", p, hi, lo);
			bad++;
		}
	}
	/* Every index, every garbage pattern; then the read-only ones again. */
	for (unsigned g = 0; g < NGARBAGE; g++)
		for (uint32_t reg = 0; reg < 0x100; reg++)
			ioapic_wr(reg, garbage[g]);
	/* IOREGSEL and IOWIN written a byte and a word at a time. */
	*(volatile uint8_t *)(uintptr_t)(IOAPIC_BASE + 1) = 0x5a;
	*(volatile uint16_t *)(uintptr_t)(IOAPIC_BASE + 0x12) = 0xa5a5;
	uint32_t ver2 = ioapic_rd(1), arb = ioapic_rd(2);
	gprintf("mpvm-guest: hostile-io: IOAPIC after garbage at every index: version 0x%08x, ID "
		"0x%08x, arbitration 0x%08x\n", ver2, ioapic_rd(0), arb);
	if (ver2 != ver || (ioapic_rd(0) & ~0x0f000000u) || arb != ioapic_rd(0)) {
		FAIL("hostile-io: IOAPIC version, ID or arbitration register wrong after garbage\n");
		bad++;
	}
	/* Put it back: every pin masked, edge (clears any remote IRR the garbage left). */
	for (unsigned p = 0; p < pins; p++) {
		ioapic_wr(0x11 + 2 * p, 0);
		ioapic_wr(0x10 + 2 * p, 1u << 16);
	}
	ioapic_wr(0, id);
	drain_strays();

	/*
	 * Does it still work? COM1 (IRQ 4, pin 4, ISA: edge, active high)
	 * raises its line when THR-empty interrupts are enabled and OUT2 is
	 * set, THR being empty now.
	 */
	struct hcpu *me = slot(bsp_i);
	uint32_t u = me->uart;
	ioapic_wr(0x11 + 2 * 4, cpus.apic_id[bsp_i] << 24);
	ioapic_wr(0x10 + 2 * 4, UART_VECTOR);
	uint8_t mcr = inb(MPVM_COM1_PORT + 4);
	__asm__ volatile("sti" : : : "memory");
	outb(MPVM_COM1_PORT + 4, mcr | 0x08);
	outb(MPVM_COM1_PORT + 1, 0x02);
	bool took = wait_at_least(&me->uart, u + 1, 2000);
	__asm__ volatile("cli" : : : "memory");
	outb(MPVM_COM1_PORT + 1, 0);
	outb(MPVM_COM1_PORT + 4, mcr);
	ioapic_wr(0x10 + 2 * 4, 1u << 16);
	gprintf("mpvm-guest: hostile-io: IOAPIC garbage: %s; afterwards COM1's interrupt %s\n",
		bad ? "WRONG" : "entries and registers as KVM keeps them", took ? "arrives" : "is LOST");
	if (!took)
		FAIL("hostile-io: the IOAPIC does not deliver after the garbage\n");
}

/* Ports no device has (mpvm's or KVM's): 0x200-0x2ff and 0x1000-0x10ff. */
static void port_flood(void)
{
	unsigned n = 0, bad = 0;
	static uint8_t buf[4096];

	for (unsigned range = 0; range < 2; range++) {
		uint16_t base = range ? 0x1000 : 0x200;
		for (uint16_t p = base; p < base + 0x100; p++) {
			uint16_t w;
			uint32_t l;
			outb(p, 0xa5);
			__asm__ volatile("outw %0, %1" : : "a"((uint16_t)0xa5a5), "Nd"(p));
			__asm__ volatile("outl %0, %1" : : "a"(0xa5a5a5a5u), "Nd"(p));
			__asm__ volatile("inw %1, %0" : "=a"(w) : "Nd"(p));
			__asm__ volatile("inl %1, %0" : "=a"(l) : "Nd"(p));
			bad += inb(p) != 0xff;
			bad += w != 0xffff;
			bad += l != 0xffffffffu;
			n += 6;
		}
	}
	/* String I/O: one exit, a page of bytes each way. */
	memset(buf, 0x5a, sizeof(buf));
	const void *src = buf;
	uint64_t cnt = sizeof(buf);
	__asm__ volatile("cld; rep outsb" : "+S"(src), "+c"(cnt) : "d"((uint16_t)0x2f0) : "memory");
	void *dst = buf;
	cnt = sizeof(buf);
	__asm__ volatile("cld; rep insb" : "+D"(dst), "+c"(cnt) : "d"((uint16_t)0x2f0) : "memory");
	for (unsigned i = 0; i < sizeof(buf); i++)
		bad += buf[i] != 0xff;
	n += 2 * sizeof(buf);
	gprintf("mpvm-guest: hostile-io: %u accesses to ports with no device: %s\n", n,
		bad ? "SOME READ OTHER THAN ALL ONES" : "reads gave all ones");
	if (bad)
		FAIL("hostile-io: %u reads from ports with no device gave something else\n", bad);

	/* Devices that are there, fed garbage that neither resets nor powers off the machine. */
	for (unsigned k = 0; k < 2000; k++) {
		__asm__ volatile("outw %0, %1" : : "a"((uint16_t)(k * 7919)), "Nd"((uint16_t)0x510));
		(void)inb(0x511);                    /* fw_cfg data of a garbage key */
		outb(0x70, (uint8_t)(k & 0x7f));     /* CMOS index, NMI stays enabled */
		(void)inb(0x71);
		outb(MPVM_COM1_PORT + 7, (uint8_t)k); /* scratch register */
		bad += inb(MPVM_COM1_PORT + 7) != (uint8_t)k;
	}
	gprintf("mpvm-guest: hostile-io: 10000 accesses to fw_cfg, CMOS and COM1 scratch: %s\n",
		bad ? "WRONG" : "ok");
	if (bad)
		FAIL("hostile-io: COM1's scratch register does not keep what was written\n");
}

static void mmio_flood(void)
{
	uint32_t sum = 0;

	/* Every word of the local APIC and IOAPIC pages, read; odd-sized reads too. */
	if (!x2apic_mode)
		for (uint32_t off = 0; off < 0x1000; off += 4)
			sum += mmio_read32(lapic_base + off) + *(volatile uint8_t *)(lapic_base + off + 1);
	for (uint32_t off = 0; off < 0x100; off += 4)
		sum += mmio_read32(IOAPIC_BASE + off);
	for (unsigned k = 0; k < 2000; k++)
		mmio_write32(IOAPIC_BASE, k & 0xff); /* IOREGSEL, over and over */
	gprintf("mpvm-guest: hostile-io: MMIO flood of the APIC pages done (sum 0x%x)\n", sum);
}

static void hostile_io(void)
{
	/*
	 * Mask the 8259s, as an operating system does first: KVM resets the
	 * BSP's LVT LINT0 to ExtINT unmasked (its LINT0_REENABLED quirk), so
	 * with --irqchip kernel an unprogrammed PIC (vector base 0, nothing
	 * masked) would pass COM1's IRQ 4 to the BSP as vector 4.
	 */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	ioapic_garbage();
	port_flood();
	mmio_flood();
	all_answer("hostile-io: at the end");
}

/* ---- entry --------------------------------------------------------------------------- */

void hostile_run(enum hostile which)
{
	for (unsigned i = 0; i < cpus.n; i++)
		if (cpus.apic_id[i] == lapic_id())
			bsp_i = i;
	active = true;
	switch (which) {
	case HOSTILE_MP:
		hostile_mp();
		break;
	case HOSTILE_IPI:
		hostile_ipi();
		break;
	case HOSTILE_APIC:
		hostile_apic();
		break;
	case HOSTILE_IO:
		hostile_io();
		break;
	case HOSTILE_NONE:
		return;
	}
	gprintf("mpvm-guest: %s: %s\n", which == HOSTILE_MP ? "hostile-mp" : which == HOSTILE_IPI
		? "hostile-ipi" : which == HOSTILE_APIC ? "hostile-apic" : "hostile-io",
		failures ? "FAILED" : "all checks passed");
	guest_exit(failures ? 1 : 0);
}
