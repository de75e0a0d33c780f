/*
 * scenario=hotplug events=N [sci=1]: the guest side of ACPI CPU hotplug,
 * for a guest without an AML interpreter. It does by hand what the DSDT's
 * methods do (core/acpi_cpu_hotplug.c, QEMU's interface): it enables GPE 2
 * and polls GPE0_STS for it, or with sci=1 routes the SCI (ISA IRQ 9 = I/O
 * APIC pin 9, level, active high, as the MADT's override says) to the BSP
 * and sleeps in HLT until it comes, as an OS takes it; then it scans the
 * register block: command 0 selects the next CPU with an
 * event; an insert is a CPU to bring up (INIT-SIPI-SIPI, as at boot), a
 * remove is a CPU to offline: park it with INIT, eject it (_EJ0) and say
 * so (_OST). It reports each bring-up time and ends after N events.
 */
#include "guest.h"
#include "cpu.h"

#define HP(off) ((uint16_t)(MPVM_CPU_HOTPLUG_PORT + (off)))
#define GPE0_STS ((uint16_t)MPVM_GPE0_PORT)
#define GPE0_EN  ((uint16_t)(MPVM_GPE0_PORT + 2))
#define GPE_CPU  (1u << MPVM_GPE_CPU_HOTPLUG)

/* ACPI 6.3 §5.6.6 Notify values, §6.3.5 _OST source events and status codes */
#define NOTIFY_DEVICE_CHECK   1
#define NOTIFY_EJECT_REQUEST  3
#define OST_EJECT_EVENT       0x103
#define OST_SUCCESS           0
#define OST_EJECT_IN_PROGRESS 0x84

#define SCI_PIN     9
#define IOAPIC_ADDR 0xfec00000u

static volatile uint32_t scis;      /* SCIs taken */
static volatile bool gpe_seen;      /* the handler found GPE 2 and cleared it */

static void ioapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)IOAPIC_ADDR = reg;
	*(volatile uint32_t *)(uintptr_t)(IOAPIC_ADDR + 0x10) = v;
}

/* COST: the _OST an OS evaluates, through the register block. */
static void ost(uint32_t sel, uint32_t event, uint32_t status)
{
	outl(HP(CPUHP_OFF_SEL), sel);
	outb(HP(CPUHP_OFF_CMD), CPUHP_CMD_OST_EVENT);
	outl(HP(CPUHP_OFF_DATA), event);
	outb(HP(CPUHP_OFF_CMD), CPUHP_CMD_OST_STATUS);
	outl(HP(CPUHP_OFF_DATA), status);
}

static void cpu_inserted(uint32_t sel, uint32_t apic_id)
{
	int i = smp_add_cpu(apic_id);
	int64_t us;

	if (i < 0) {
		FAIL("hotplug: CPU %u: APIC ID %u does not fit the guest's tables\n", sel, apic_id);
		return;
	}
	us = smp_bring_up((unsigned)i);
	if (us < 0) {
		FAIL("hotplug: CPU %u (APIC ID %u) did not check in after INIT-SIPI-SIPI\n", sel, apic_id);
		return;
	}
	if (!smp_ping((unsigned)i))
		FAIL("hotplug: CPU %u (APIC ID %u) is up but took no fixed IPI\n", sel, apic_id);
	gprintf("mpvm-guest: hotplug: CPU %u (APIC ID %u) added and online, bring-up %ld us\n",
		sel, apic_id, us);
	ost(sel, NOTIFY_DEVICE_CHECK, OST_SUCCESS);
}

static void cpu_removed(uint32_t sel, uint32_t apic_id)
{
	int i = smp_add_cpu(apic_id); /* known already, from the table or an insert */

	ost(sel, NOTIFY_EJECT_REQUEST, OST_EJECT_IN_PROGRESS);
	if (i >= 0)
		smp_park((unsigned)i);
	delay_us(10000);
	/* CEJM: the eject (_EJ0) */
	outl(HP(CPUHP_OFF_SEL), sel);
	outb(HP(CPUHP_OFF_STS), CPUHP_CTL_EJECT);
	if (inb(HP(CPUHP_OFF_STS)) & CPUHP_STS_ENABLED)
		FAIL("hotplug: CPU %u still present after its eject\n", sel);
	gprintf("mpvm-guest: hotplug: CPU %u (APIC ID %u) parked (INIT) and ejected\n", sel, apic_id);
	ost(sel, OST_EJECT_EVENT, OST_SUCCESS);
}

/* CSCN: every CPU with an event, until command 0 finds none. Returns the events taken. */
static unsigned scan(void)
{
	unsigned n = 0;

	outl(HP(CPUHP_OFF_SEL), 0);
	for (;;) {
		uint8_t st;
		uint32_t sel, apic_id;

		outb(HP(CPUHP_OFF_CMD), CPUHP_CMD_NEXT_EVENT);
		st = inb(HP(CPUHP_OFF_STS));
		if (!(st & (CPUHP_STS_INSERT | CPUHP_STS_REMOVE)))
			return n;
		sel = inl(HP(CPUHP_OFF_DATA));
		outb(HP(CPUHP_OFF_CMD), CPUHP_CMD_ARCH_ID);
		apic_id = inl(HP(CPUHP_OFF_DATA));
		/* clear the event first, as the DSDT does after its Notify */
		outb(HP(CPUHP_OFF_STS), st & CPUHP_STS_INSERT ? CPUHP_STS_INSERT : CPUHP_STS_REMOVE);
		if (st & CPUHP_STS_INSERT)
			cpu_inserted(sel, apic_id);
		else
			cpu_removed(sel, apic_id);
		n++;
	}
}

/*
 * The SCI's handler (idt.c): the line is level-triggered, so the source,
 * GPE0_STS, is cleared before the EOI, or the interrupt would come back at
 * once (ACPI 6.3 §5.6.4: OSPM clears the status bit of an edge GPE, _Exx,
 * before it runs the method).
 */
void hotplug_sci(void)
{
	uint16_t sts = inw((uint16_t)MPVM_GPE0_PORT);

	if (sts & GPE_CPU) {
		outw((uint16_t)MPVM_GPE0_PORT, GPE_CPU);
		gpe_seen = true;
	}
	scis++;
	lapic_eoi();
}

/*
 * I/O APIC redirection entry for pin 9 (IOREDTBL at 0x10 + 2 * pin): level,
 * active high, to the BSP. The 8259 PICs are masked first, as an OS in APIC
 * mode does: IRQ 9 reaches the slave PIC too, and KVM's BSP takes the PIC's
 * INTR through LINT0 (ExtINT at reset) with the PIC's reset vector base 0.
 */
static void route_sci(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	ioapic_write(0x10 + 2 * SCI_PIN + 1, lapic_id() << 24);
	ioapic_write(0x10 + 2 * SCI_PIN, SCI_VECTOR | 1u << 15);
}

/* Until GPE 2 is seen: polled, or asleep until the SCI. */
static void wait_gpe(bool sci)
{
	if (!sci) {
		while (!(inw(GPE0_STS) & GPE_CPU))
			delay_us(1000);
		outw(GPE0_STS, GPE_CPU); /* clear it before the scan: a later event sets it again */
		return;
	}
	__asm__ volatile("cli" : : : "memory");
	while (!gpe_seen)
		__asm__ volatile("sti; hlt; cli" : : : "memory"); /* the SCI ends the HLT */
	gpe_seen = false;
	__asm__ volatile("sti" : : : "memory");
}

void hotplug_run(unsigned events, bool sci)
{
	unsigned done = 0, possible = 0, present = 0;

	/* The interface's own detection and enumeration (QEMU's use cases). */
	outl(HP(CPUHP_OFF_SEL), 0);
	outb(HP(CPUHP_OFF_CMD), CPUHP_CMD_NEXT_EVENT);
	if (inl(HP(0)) != 0) {
		gprintf("mpvm-guest: hotplug: no CPU hotplug interface at 0x%x\n", MPVM_CPU_HOTPLUG_PORT);
		guest_exit(1);
	}
	for (;;) {
		present += inb(HP(CPUHP_OFF_STS)) & CPUHP_STS_ENABLED;
		outl(HP(CPUHP_OFF_SEL), ++possible);
		if (!inl(HP(CPUHP_OFF_DATA)))
			break;
	}
	outl(HP(CPUHP_OFF_SEL), 0);
	if (sci)
		route_sci();
	gprintf("mpvm-guest: hotplug: %u possible CPUs, %u present; waiting for %u events (GPE %u, %s)\n",
		possible, present, events, MPVM_GPE_CPU_HOTPLUG, sci ? "SCI on IRQ 9" : "polled");
	outw(GPE0_EN, GPE_CPU);
	ap_io_on_ipi = true;
	while (done < events) {
		wait_gpe(sci);
		done += scan();
	}
	if (sci)
		gprintf("mpvm-guest: hotplug: %u SCIs taken\n", scis);
	gprintf("mpvm-guest: hotplug: %u events taken\n", done);
	guest_exit(failures ? 1 : 0);
}
