/*
 * scenario=ipi-bench: IPI latencies between the BSP and the first AP, timed
 * with the TSC (TSCs are synchronized in a VM, so the two CPUs' readings can
 * be compared).
 *
 *  - IPI round trip: the BSP sends BENCH_PING to the AP, parked in
 *    ap_main's sti; hlt loop; the AP's handler answers with BENCH_PONG; the
 *    BSP's handler reads the TSC. Cycles = TSC in the BSP's BENCH_PONG
 *    handler - TSC before the send. The BSP waits in sti; hlt (wait=hlt,
 *    default) or spinning with pause and interrupts on (wait=spin). On a
 *    KVM-PVM host, with the local APICs in KVM (kernel, split), a spinning
 *    BSP often took the reply milliseconds late (run medians either ~0.35
 *    or ~2.5 ms); a halted one did not (~0.25 ms).
 *  - HLT wake-up: the AP runs a loop of its own (entered through BENCH_LOOP)
 *    that sets a flag right before sti; hlt; the BSP waits for the flag and
 *    50 us more, reads the TSC and sends BENCH_WAKE; the AP's handler reads
 *    the TSC. Cycles = AP's TSC at handler entry - BSP's TSC before the send.
 *
 * idt.c ends the test on any vector it does not know, so these vectors get
 * IDT gates of their own (the BSP and the APs share one IDT), pointing at
 * the stubs below, which save the caller-saved registers and call
 * bench_interrupt().
 */
#include "guest.h"
#include "cpu.h"

#define BENCH_PING 0x41 /* BSP -> AP: answer with BENCH_PONG */
#define BENCH_PONG 0x42 /* AP -> BSP */
#define BENCH_WAKE 0x43 /* BSP -> AP, halted in the HLT loop */
#define BENCH_LOOP 0x44 /* BSP -> AP: run the HLT loop until bench_stop */

#define WARMUP      10
#define HLT_MAX     200 /* HLT wake-up rounds: each waits HLT_SETTLE_US */
#define HLT_SETTLE_US 50

void bench_interrupt(uint64_t vector);

/* One stub per vector; 9 pushes after the CPU's 5 keep the call 16-aligned. */
#define STUB(v)                                                                          \
	"	.balign 16\n"                                                            \
	"bench_stub_" #v ":\n"                                                           \
	"	push %rax\n	push %rcx\n	push %rdx\n	push %rsi\n	push %rdi\n"        \
	"	push %r8\n	push %r9\n	push %r10\n	push %r11\n"                    \
	"	mov $" #v ", %edi\n"                                                     \
	"	cld\n"                                                                   \
	"	call bench_interrupt\n"                                                  \
	"	pop %r11\n	pop %r10\n	pop %r9\n	pop %r8\n"                        \
	"	pop %rdi\n	pop %rsi\n	pop %rdx\n	pop %rcx\n	pop %rax\n"          \
	"	iretq\n"
__asm__(".text\n" STUB(0x41) STUB(0x42) STUB(0x43) STUB(0x44));
extern char bench_stub_0x41[], bench_stub_0x42[], bench_stub_0x43[], bench_stub_0x44[];

static uint32_t bsp_id, ap_id;
static volatile uint64_t pong_tsc, wake_tsc;
static volatile uint32_t pongs, wakes;
static volatile uint32_t ap_ready; /* the AP is about to execute sti; hlt */
static volatile uint32_t ap_in_loop, bench_stop;
static uint64_t samples[BENCH_MAX_ROUNDS];

/* The AP's HLT loop, run inside its BENCH_LOOP handler (EOI'd first). */
static void ap_hlt_loop(void)
{
	__atomic_store_n(&ap_in_loop, 1, __ATOMIC_RELEASE);
	while (!bench_stop) {
		__atomic_store_n(&ap_ready, 1, __ATOMIC_RELEASE);
		__asm__ volatile("sti; hlt; cli" : : : "memory");
	}
	__atomic_store_n(&ap_in_loop, 0, __ATOMIC_RELEASE);
}

void bench_interrupt(uint64_t vector)
{
	uint64_t t = rdtsc();

	switch (vector) {
	case BENCH_PING:
		lapic_eoi();
		lapic_send_ipi(bsp_id, ICR_FIXED | ICR_ASSERT | BENCH_PONG);
		break;
	case BENCH_PONG:
		pong_tsc = t;
		__atomic_fetch_add(&pongs, 1, __ATOMIC_RELEASE);
		lapic_eoi();
		break;
	case BENCH_WAKE:
		ap_ready = 0;
		wake_tsc = t;
		__atomic_fetch_add(&wakes, 1, __ATOMIC_RELEASE);
		lapic_eoi();
		break;
	case BENCH_LOOP:
		lapic_eoi(); /* else BENCH_WAKE (same priority class) stays blocked */
		ap_hlt_loop();
		break;
	}
}

static void set_gate(unsigned vector, char *stub)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} p;
	uint64_t a = (uint64_t)(uintptr_t)stub;

	__asm__ volatile("sidt %0" : "=m"(p));
	uint32_t *g = (uint32_t *)(uintptr_t)(p.base + 16 * vector);
	/* 64-bit interrupt gate, present, DPL 0 (SDM vol. 3A §6.14.1) */
	g[0] = (uint32_t)(a & 0xffff) | ((uint32_t)SEL_CODE64 << 16);
	g[1] = (uint32_t)(a & 0xffff0000) | 0x8e00;
	g[2] = (uint32_t)(a >> 32);
	g[3] = 0;
}

/* Shell sort: n log n-ish, few instructions (CPL0 code may be emulated). */
static void sort_u64(uint64_t *v, unsigned n)
{
	static const unsigned gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };

	for (unsigned g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		unsigned gap = gaps[g];
		for (unsigned i = gap; i < n; i++) {
			uint64_t x = v[i];
			unsigned j = i;
			for (; j >= gap && v[j - gap] > x; j -= gap)
				v[j] = v[j - gap];
			v[j] = x;
		}
	}
}

static void report(const char *what, unsigned n)
{
	sort_u64(samples, n);
	uint64_t med = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
	uint64_t cus = med * 100000 / tsc_khz; /* hundredths of a microsecond */

	gprintf("mpvm-guest: %s: median %lu cycles (%lu.%02lu us), min %lu, max %lu, over %u rounds\n",
		what, med, cus / 100, cus % 100, samples[0], samples[n - 1], n);
}

/* Wait until *v reaches want; false (and a FAIL) after the AP timeout. */
static bool wait_for(volatile uint32_t *v, uint32_t want, const char *what)
{
	uint64_t end = rdtsc() + us_to_tsc(ap_timeout_ms * 1000);

	while (__atomic_load_n(v, __ATOMIC_ACQUIRE) < want) {
		if (rdtsc() > end) {
			FAIL("ipi-bench: %s: no answer from AP %u within %lu ms\n", what, ap_id,
			     ap_timeout_ms);
			return false;
		}
		cpu_relax();
	}
	return true;
}

/*
 * The BSP waits for the reply spinning (wait=spin), or halted (wait=hlt,
 * the default). A halted BSP has no deadline (there is no timer), so the
 * warm-up rounds always spin with one: an AP that answers those is there.
 */
static bool round_trips(unsigned rounds, bool spin)
{
	for (unsigned r = 0; r < WARMUP + rounds; r++) {
		uint32_t want = pongs + 1;
		uint64_t t0 = rdtsc();
		lapic_send_ipi(ap_id, ICR_FIXED | ICR_ASSERT | BENCH_PING);
		if (spin || r < WARMUP) {
			if (!wait_for(&pongs, want, "round trip"))
				return false;
		} else {
			/* sti's one-instruction shadow: the reply cannot slip in before hlt */
			__asm__ volatile("cli" : : : "memory");
			while (__atomic_load_n(&pongs, __ATOMIC_ACQUIRE) < want)
				__asm__ volatile("sti; hlt; cli" : : : "memory");
			__asm__ volatile("sti" : : : "memory");
		}
		if (r >= WARMUP)
			samples[r - WARMUP] = pong_tsc - t0;
	}
	report("ipi round trip", rounds);
	return true;
}

static bool hlt_wakeups(unsigned rounds)
{
	bench_stop = 0;
	ap_ready = 0;
	lapic_send_ipi(ap_id, ICR_FIXED | ICR_ASSERT | BENCH_LOOP);
	for (unsigned r = 0; r < WARMUP + rounds; r++) {
		uint32_t want = wakes + 1;
		if (!wait_for(&ap_ready, 1, "HLT loop"))
			return false; /* the AP is stuck: leave it */
		delay_us(HLT_SETTLE_US); /* ap_ready is set just before sti; hlt */
		uint64_t t0 = rdtsc();
		lapic_send_ipi(ap_id, ICR_FIXED | ICR_ASSERT | BENCH_WAKE);
		if (!wait_for(&wakes, want, "HLT wake-up"))
			return false;
		uint64_t t1 = wake_tsc;
		if (r >= WARMUP)
			samples[r - WARMUP] = t1 > t0 ? t1 - t0 : 0;
	}
	/*
	 * Back to ap_main's park loop: the AP sees bench_stop after its next
	 * wake-up (or has seen it already, then this BENCH_WAKE wakes it in the
	 * park loop, where the handler runs just the same).
	 */
	bench_stop = 1;
	uint32_t want = wakes + 1;
	lapic_send_ipi(ap_id, ICR_FIXED | ICR_ASSERT | BENCH_WAKE);
	if (!wait_for(&wakes, want, "leaving the HLT loop"))
		return false;
	uint64_t end = rdtsc() + us_to_tsc(ap_timeout_ms * 1000);
	while (__atomic_load_n(&ap_in_loop, __ATOMIC_ACQUIRE) && rdtsc() < end)
		cpu_relax();
	if (ap_in_loop) {
		FAIL("ipi-bench: AP %u did not leave the HLT loop\n", ap_id);
		return false;
	}
	report("hlt wake-up", rounds);
	return true;
}

void bench_ipi(unsigned rounds, bool spin)
{
	bsp_id = lapic_id();
	ap_id = bsp_id;
	for (unsigned i = 0; i < cpus.n && ap_id == bsp_id; i++)
		ap_id = cpus.apic_id[i];
	if (ap_id == bsp_id || !smp_online()) {
		FAIL("ipi-bench: no AP online\n");
		return;
	}
	set_gate(BENCH_PING, bench_stub_0x41);
	set_gate(BENCH_PONG, bench_stub_0x42);
	set_gate(BENCH_WAKE, bench_stub_0x43);
	set_gate(BENCH_LOOP, bench_stub_0x44);
	gprintf("mpvm-guest: ipi-bench: BSP APIC ID %u, AP APIC ID %u, %u rounds (+%u warm-up), "
		"the BSP waits for replies %s\n", bsp_id, ap_id, rounds, WARMUP,
		spin ? "spinning (wait=spin)" : "halted (wait=hlt)");

	__asm__ volatile("sti" : : : "memory");
	bool ok = round_trips(rounds, spin);
	__asm__ volatile("cli" : : : "memory");
	if (ok)
		hlt_wakeups(rounds < HLT_MAX ? rounds : HLT_MAX);
	/* Let the AP halt in its park loop again before the usual IPI rounds. */
	delay_us(10000);
}
