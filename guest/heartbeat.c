/*
 * scenario=heartbeat: a guest for mpvm's control socket (--control). Every
 * AP is started; then each CPU, the BSP too, counts the ticks of its own
 * local APIC timer (periodic, HEARTBEAT_MS) and the NMIs it takes, and
 * halts in between. What a test steers through the socket shows in these
 * counters: a paused vCPU stops ticking, an AP sent INIT and SIPI enters
 * the trampoline again (the entry counts and start CS come from the
 * trampoline's own records, APREC_*), an NMI is counted only where it
 * arrived.
 *
 * The BSP reads COM1 at each of its ticks: `h` prints one report (a
 * numbered block, a line per CPU, then an `end` line), `q` ends the run
 * with status 0. Otherwise it runs until mpvm stops it.
 */
#include "guest.h"
#include "cpu.h"

#define HEARTBEAT_MS 20

/* Local APIC timer registers (SDM vol. 3A §10.5.4): LVT, initial and current count, divide. */
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_CCR 0x390
#define LAPIC_TIMER_DCR 0x3e0
#define LVT_MASKED      (1u << 16)
#define LVT_PERIODIC    (1u << 17)
#define DCR_DIV16       0x3

#define UART_RBR 0 /* receive buffer (DLAB = 0) */
#define UART_LSR 5
#define LSR_DR   0x01 /* data ready */

/* Per APIC ID: written by that CPU's handlers only, read by the BSP. */
static volatile uint64_t beats[MAX_APIC_ID];
static volatile uint32_t nmis[MAX_APIC_ID];
static uint32_t timer_count; /* initial count for one period, from the BSP's calibration */
volatile bool heartbeat_on;

/*
 * The timer's input clock is the VMM's (KVM's local APIC and mpvm's
 * differ): count it against the TSC for 10 ms, one-shot and masked.
 */
static void calibrate(void)
{
	uint32_t left;

	lapic_write(LAPIC_TIMER_DCR, DCR_DIV16);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | HEARTBEAT_VECTOR);
	lapic_write(LAPIC_TIMER_ICR, 0xffffffffu);
	delay_us(10000);
	left = lapic_read(LAPIC_TIMER_CCR);
	lapic_write(LAPIC_TIMER_ICR, 0);
	timer_count = (uint32_t)((0xffffffffull - left) * HEARTBEAT_MS / 10);
	if (!timer_count)
		timer_count = 1;
}

/* This CPU's periodic tick; an INIT resets the local APIC, so a restarted AP comes here again. */
void heartbeat_start_cpu(void)
{
	lapic_write(LAPIC_TIMER_DCR, DCR_DIV16);
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | HEARTBEAT_VECTOR);
	lapic_write(LAPIC_TIMER_ICR, timer_count);
}

void heartbeat_prepare(void)
{
	calibrate();
	heartbeat_on = true;
	gprintf("mpvm-guest: heartbeat: local APIC timer %u counts (divide by 16) per %u ms\n",
		timer_count, HEARTBEAT_MS);
}

bool heartbeat_interrupt(uint64_t vector)
{
	uint32_t id;

	if (!heartbeat_on || (vector != HEARTBEAT_VECTOR && vector != 2))
		return false;
	id = lapic_id();
	if (id >= MAX_APIC_ID)
		return false;
	if (vector == 2) { /* NMI: no EOI; IRET ends NMI blocking (SDM §6.7.1) */
		__atomic_fetch_add(&nmis[id], 1, __ATOMIC_RELAXED);
		return true;
	}
	__atomic_fetch_add(&beats[id], 1, __ATOMIC_RELAXED);
	lapic_eoi();
	return true;
}

static void report(unsigned n)
{
	for (unsigned i = 0; i < cpus.n; i++) {
		uint32_t id = cpus.apic_id[i];
		const volatile uint32_t *entries = (const volatile uint32_t *)(APREC_ADDR + APREC_ENTRIES);
		const volatile uint16_t *cs = (const volatile uint16_t *)(APREC_ADDR + APREC_CS);

		gprintf("mpvm-guest: heartbeat %u: cpu %u apic %u beats %lu entries %u start-cs 0x%x nmis %u\n",
			n, i, id, __atomic_load_n(&beats[id], __ATOMIC_RELAXED), entries[id], cs[id],
			__atomic_load_n(&nmis[id], __ATOMIC_RELAXED));
	}
	gprintf("mpvm-guest: heartbeat %u: end\n", n);
}

__attribute__((noreturn)) void heartbeat_run(void)
{
	uint64_t deadline = rdtsc() + us_to_tsc(ap_timeout_ms * 1000);
	uint32_t me = lapic_id();
	unsigned reports = 0;

	heartbeat_start_cpu();
	/* Every AP that checked in ticks before the guest says it is ready. */
	for (unsigned i = 0; i < cpus.n; i++) {
		uint32_t id = cpus.apic_id[i];

		if (id == me || !smp_checkins(i))
			continue;
		__asm__ volatile("sti" : : : "memory");
		while (!__atomic_load_n(&beats[id], __ATOMIC_RELAXED) && rdtsc() < deadline)
			cpu_relax();
		if (!__atomic_load_n(&beats[id], __ATOMIC_RELAXED))
			FAIL("heartbeat: AP APIC ID %u does not tick\n", id);
	}
	gprintf("mpvm-guest: heartbeat: %u/%u CPUs online, each ticking every %u ms; "
		"keys on COM1: h prints the counters, q quits\n", 1 + smp_online(), cpus.n, HEARTBEAT_MS);
	for (;;) {
		__asm__ volatile("sti; hlt; cli" : : : "memory");
		while (inb(MPVM_COM1_PORT + UART_LSR) & LSR_DR) {
			uint8_t key = inb(MPVM_COM1_PORT + UART_RBR);

			if (key == 'h')
				report(++reports);
			if (key == 'q') {
				gprintf("mpvm-guest: heartbeat: quit\n");
				guest_exit(failures ? 1 : 0);
			}
		}
	}
}
