/*
 * scenario=hotplug events=N: the guest side of ACPI CPU hotplug, for a
 * guest without an AML interpreter. It does by hand what the DSDT's
 * methods do (core/acpi_cpu_hotplug.c, QEMU's interface): it enables GPE 2
 * and polls GPE0_STS for it (interrupts stay off; the SCI is the same bit),
 * then scans the register block: command 0 selects the next CPU with an
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

static uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
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

void hotplug_run(unsigned events)
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
	gprintf("mpvm-guest: hotplug: %u possible CPUs, %u present; waiting for %u events (GPE %u)\n",
		possible, present, events, MPVM_GPE_CPU_HOTPLUG);
	outw(GPE0_EN, GPE_CPU);
	ap_io_on_ipi = true;
	while (done < events) {
		while (!(inw(GPE0_STS) & GPE_CPU))
			delay_us(1000);
		outw(GPE0_STS, GPE_CPU); /* clear it before the scan: a later event sets it again */
		done += scan();
	}
	gprintf("mpvm-guest: hotplug: %u events taken\n", done);
	guest_exit(failures ? 1 : 0);
}
