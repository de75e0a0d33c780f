/*
 * Local APIC access (xAPIC MMIO or x2APIC MSRs, SDM vol. 3A ch. 10) and
 * TSC-based time.
 */
#include "guest.h"
#include "cpu.h"

#define LAPIC_ID      0x020
#define LAPIC_EOI     0x0b0
#define LAPIC_SVR     0x0f0
#define LAPIC_ICR_LO  0x300
#define LAPIC_ICR_HI  0x310
#define SVR_ENABLE    0x100
#define X2APIC_MSR(reg) (0x800 + ((reg) >> 4)) /* SDM §10.12.1.2 */

uint64_t tsc_khz;
bool x2apic_mode;
uint64_t lapic_base; /* from IA32_APIC_BASE, set by the BSP before any APIC use */

/* ---- time ------------------------------------------------------------- */

bool time_init(void)
{
	uint32_t r[4];

	/* mpvm's timing leaf: EAX = TSC kHz (guest_abi.h). */
	cpuid(0x40000000, 0, r);
	if (r[0] < MPVM_CPUID_TIMING_LEAF || r[0] > 0x400000ff) {
		gprintf("mpvm-guest: CPUID leaf 0x%x is missing (max hypervisor leaf 0x%x): "
			"no TSC frequency\n", MPVM_CPUID_TIMING_LEAF, r[0]);
		return false;
	}
	cpuid(MPVM_CPUID_TIMING_LEAF, 0, r);
	if (!r[0]) {
		gprintf("mpvm-guest: CPUID leaf 0x%x reports a TSC frequency of 0\n",
			MPVM_CPUID_TIMING_LEAF);
		return false;
	}
	tsc_khz = r[0];
	gprintf("mpvm-guest: TSC frequency %lu kHz\n", tsc_khz);
	return true;
}

uint64_t us_to_tsc(uint64_t us)
{
	return us * tsc_khz / 1000;
}

uint64_t tsc_to_us(uint64_t tsc)
{
	return tsc * 1000 / tsc_khz;
}

void delay_us(uint64_t us)
{
	uint64_t end = rdtsc() + us_to_tsc(us);
	while (rdtsc() < end)
		cpu_relax();
}

/* ---- local APIC --------------------------------------------------------- */

uint32_t lapic_read(uint32_t reg)
{
	if (x2apic_mode)
		return (uint32_t)rdmsr(X2APIC_MSR(reg));
	return mmio_read32(lapic_base + reg);
}

void lapic_write(uint32_t reg, uint32_t v)
{
	if (x2apic_mode)
		wrmsr(X2APIC_MSR(reg), v);
	else
		mmio_write32(lapic_base + reg, v);
}

/*
 * Per CPU: switch to x2APIC mode if the system uses it (xAPIC -> x2APIC by
 * setting EXTD with EN set, SDM §10.12.5), then software-enable the APIC
 * with the spurious vector (SDM §10.4.3, §10.9).
 */
void lapic_enable(void)
{
	if (x2apic_mode) {
		uint64_t b = rdmsr(MSR_APIC_BASE);
		if (!(b & APIC_BASE_EXTD))
			wrmsr(MSR_APIC_BASE, b | APIC_BASE_EN | APIC_BASE_EXTD);
	}
	lapic_write(LAPIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR);
}

uint32_t lapic_id(void)
{
	/* xAPIC: ID in bits 31:24; x2APIC: the full 32-bit ID (SDM §10.4.6, §10.12.5.1). */
	uint32_t v = lapic_read(LAPIC_ID);
	return x2apic_mode ? v : v >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

/*
 * Send an IPI (SDM §10.6.1). xAPIC: destination in ICR high bits 31:24,
 * written first because the write to ICR low sends; then wait for the
 * delivery status bit to clear. x2APIC (§10.12.9): one 64-bit MSR write with
 * a 32-bit destination and no delivery status to poll. Returns false if the
 * ICR stayed busy for 100 ms.
 */
bool lapic_send_ipi(uint32_t dest, uint32_t icr_low)
{
	if (x2apic_mode) {
		/* WRMSR to the ICR is not serializing: order our stores before it. */
		__asm__ volatile("lock orl $0, (%%rsp)" : : : "memory");
		wrmsr(X2APIC_MSR(LAPIC_ICR_LO), ((uint64_t)dest << 32) | icr_low);
		return true;
	}
	lapic_write(LAPIC_ICR_HI, dest << 24);
	lapic_write(LAPIC_ICR_LO, icr_low);
	uint64_t end = rdtsc() + us_to_tsc(100000);
	while (lapic_read(LAPIC_ICR_LO) & ICR_BUSY) {
		if (rdtsc() > end) {
			FAIL("ICR delivery status still busy after 100 ms (ICR 0x%x, dest %u)\n",
			     icr_low, dest);
			return false;
		}
		cpu_relax();
	}
	return true;
}
