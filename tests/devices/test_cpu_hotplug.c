/*
 * Unit tests of the CPU hotplug register block (devices/cpu_hotplug.c),
 * driven the way the DSDT's methods (core/acpi_cpu_hotplug.c) and QEMU's
 * documented use cases drive it: detection, enumeration, the GPE scan with
 * its Notify values, _STA, _EJ0 and _OST, and what a guest may do wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "devices/cpu_hotplug.h"

struct fake {
	int notifies;
	int ejected[8], nejected;
	unsigned int ost_cpu;
	uint32_t ost_event, ost_status;
	int osts;
};

static void fake_notify(void *opaque) { ((struct fake *)opaque)->notifies++; }

static void fake_ejected(void *opaque, unsigned int cpu)
{
	struct fake *f = opaque;

	f->ejected[f->nejected++ & 7] = (int)cpu;
}

static void fake_ost(void *opaque, unsigned int cpu, uint32_t event, uint32_t status)
{
	struct fake *f = opaque;

	f->ost_cpu = cpu;
	f->ost_event = event;
	f->ost_status = status;
	f->osts++;
}

static const struct cpu_hotplug_ops ops = {
	.notify = fake_notify, .ejected = fake_ejected, .ost = fake_ost,
};

#define BASE ACPI_CPU_HOTPLUG_BASE

static uint32_t in(struct cpu_hotplug *hp, unsigned int off, unsigned int size)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(cpu_hotplug_pio(hp, (uint16_t)(BASE + off), false, &v, size), 0);
	return v;
}

static void out(struct cpu_hotplug *hp, unsigned int off, uint32_t v, unsigned int size)
{
	assert_int_equal(cpu_hotplug_pio(hp, (uint16_t)(BASE + off), true, &v, size), 0);
}

/* APIC IDs with a gap, as 3 cores per socket give them */
static const uint32_t ids[6] = { 0, 1, 2, 4, 5, 6 };

static void setup(struct cpu_hotplug *hp, struct fake *f, unsigned int present)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(cpu_hotplug_init(hp, 6, present, ids, 0, &ops, f), 0);
}

/* CSTA (n): select, read CPEN. */
static int sta(struct cpu_hotplug *hp, unsigned int cpu)
{
	out(hp, CPUHP_OFF_SEL, cpu, 4);
	return in(hp, CPUHP_OFF_STS, 1) & CPUHP_STS_ENABLED ? 0xf : 0;
}

/*
 * CSCN: until command 0 finds no CPU with an event, notify the selected
 * CPU (1: Device Check for an insert, 3: Eject Request for a remove) and
 * clear that event. Records (cpu, value) pairs.
 */
static unsigned int scan(struct cpu_hotplug *hp, unsigned int notified[][2], unsigned int max)
{
	unsigned int n = 0;

	for (;;) {
		uint8_t sts;

		out(hp, CPUHP_OFF_CMD, CPUHP_CMD_NEXT_EVENT, 1);
		sts = (uint8_t)in(hp, CPUHP_OFF_STS, 1);
		assert_true(n < max);
		if (sts & CPUHP_STS_INSERT) {
			notified[n][0] = in(hp, CPUHP_OFF_DATA, 4);
			notified[n++][1] = ACPI_NOTIFY_DEVICE_CHECK;
			out(hp, CPUHP_OFF_STS, CPUHP_STS_INSERT, 1);
		} else if (sts & CPUHP_STS_REMOVE) {
			notified[n][0] = in(hp, CPUHP_OFF_DATA, 4);
			notified[n++][1] = ACPI_NOTIFY_EJECT_REQUEST;
			out(hp, CPUHP_OFF_STS, CPUHP_STS_REMOVE, 1);
		} else {
			return n;
		}
	}
}

/* The interface's detection and enumeration use cases. */
static void detect_and_enumerate(void **state)
{
	struct cpu_hotplug hp;
	struct fake f;
	unsigned int present = 0, it;

	(void)state;
	setup(&hp, &f, 2);
	out(&hp, CPUHP_OFF_SEL, 0, 4);
	out(&hp, CPUHP_OFF_CMD, CPUHP_CMD_NEXT_EVENT, 1);
	assert_int_equal(in(&hp, 0, 4), 0);            /* command data 2: modern interface */
	for (it = 0;;) {
		if (in(&hp, CPUHP_OFF_STS, 1) & CPUHP_STS_ENABLED)
			present++;
		out(&hp, CPUHP_OFF_SEL, ++it, 4);
		if (!in(&hp, CPUHP_OFF_DATA, 4))
			break;
	}
	assert_int_equal(it, 6);                        /* max_cpus */
	assert_int_equal(present, 2);
	/* selector 6 names no CPU: the command write is ignored until a valid one */
	out(&hp, CPUHP_OFF_CMD, CPUHP_CMD_ARCH_ID, 1);
	out(&hp, CPUHP_OFF_SEL, 3, 4);
	assert_int_equal(in(&hp, CPUHP_OFF_DATA, 4), 3); /* still command 0: the selector */
	out(&hp, CPUHP_OFF_SEL, 0, 4);                  /* the use case's last step */
	/* command 3: each CPU's APIC ID, gaps and all */
	out(&hp, CPUHP_OFF_CMD, CPUHP_CMD_ARCH_ID, 1);
	for (it = 0; it < 6; it++) {
		out(&hp, CPUHP_OFF_SEL, it, 4);
		assert_int_equal(in(&hp, CPUHP_OFF_DATA, 4), ids[it]);
		assert_int_equal(in(&hp, 0, 4), 0);
	}
	assert_int_equal(f.notifies, 0);
	cpu_hotplug_destroy(&hp);
}

static void add_scan_eject_readd(void **state)
{
	struct cpu_hotplug hp;
	struct cpu_hotplug_cpu c;
	struct fake f;
	unsigned int n, got[8][2];
	char err[128];

	(void)state;
	setup(&hp, &f, 2);
	assert_int_equal(sta(&hp, 3), 0);
	assert_int_equal(cpu_hotplug_add(&hp, 3, err, sizeof(err)), 0);
	assert_int_equal(cpu_hotplug_add(&hp, 5, err, sizeof(err)), 0);
	assert_int_equal(f.notifies, 2);
	assert_int_equal(sta(&hp, 3), 0xf);
	/* the scan finds both, from the selected CPU (5) on, wrapping */
	out(&hp, CPUHP_OFF_SEL, 5, 4);
	n = scan(&hp, got, 8);
	assert_int_equal(n, 2);
	assert_int_equal(got[0][0], 5);
	assert_int_equal(got[0][1], ACPI_NOTIFY_DEVICE_CHECK);
	assert_int_equal(got[1][0], 3);
	assert_int_equal(scan(&hp, got, 8), 0);         /* events cleared */
	/* the OS reports success of the insert through _OST */
	out(&hp, CPUHP_OFF_SEL, 3, 4);
	out(&hp, CPUHP_OFF_CMD, CPUHP_CMD_OST_EVENT, 1);
	out(&hp, CPUHP_OFF_DATA, ACPI_NOTIFY_DEVICE_CHECK, 4);
	out(&hp, CPUHP_OFF_CMD, CPUHP_CMD_OST_STATUS, 1);
	out(&hp, CPUHP_OFF_DATA, 0, 4);
	assert_int_equal(f.osts, 1);
	assert_int_equal(f.ost_cpu, 3);
	assert_int_equal(f.ost_event, ACPI_NOTIFY_DEVICE_CHECK);

	/* removal: an eject request, the CPU present until _EJ0 */
	assert_int_equal(cpu_hotplug_request_remove(&hp, 3, err, sizeof(err)), 0);
	n = scan(&hp, got, 8);
	assert_int_equal(n, 1);
	assert_int_equal(got[0][0], 3);
	assert_int_equal(got[0][1], ACPI_NOTIFY_EJECT_REQUEST);
	assert_int_equal(sta(&hp, 3), 0xf);
	assert_int_equal(f.nejected, 0);
	out(&hp, CPUHP_OFF_SEL, 3, 4);                  /* CEJM (3) */
	out(&hp, CPUHP_OFF_STS, CPUHP_CTL_EJECT, 1);
	assert_int_equal(f.nejected, 1);
	assert_int_equal(f.ejected[0], 3);
	assert_int_equal(sta(&hp, 3), 0);
	out(&hp, CPUHP_OFF_STS, CPUHP_CTL_EJECT, 1);    /* absent: nothing more */
	assert_int_equal(f.nejected, 1);
	assert_true(cpu_hotplug_get(&hp, 3, &c));
	assert_false(c.enabled || c.inserting || c.removing);
	assert_int_equal(c.apic_id, 4);

	/* and back again */
	assert_int_equal(cpu_hotplug_add(&hp, 3, err, sizeof(err)), 0);
	n = scan(&hp, got, 8);
	assert_int_equal(n, 1);
	assert_int_equal(got[0][1], ACPI_NOTIFY_DEVICE_CHECK);
	assert_int_equal(sta(&hp, 3), 0xf);
	cpu_hotplug_destroy(&hp);
}

static void vmm_errors(void **state)
{
	struct cpu_hotplug hp;
	struct fake f;
	char err[128];

	(void)state;
	setup(&hp, &f, 2);
	assert_int_equal(cpu_hotplug_add(&hp, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "CPU 1 is already present");
	assert_int_equal(cpu_hotplug_add(&hp, 6, err, sizeof(err)), -1);
	assert_string_equal(err, "no CPU 6 (possible CPUs are 0 to 5)");
	assert_int_equal(cpu_hotplug_request_remove(&hp, 0, err, sizeof(err)), -1);
	assert_string_equal(err, "CPU 0 is the boot CPU (BSP) and cannot be removed");
	assert_int_equal(cpu_hotplug_request_remove(&hp, 4, err, sizeof(err)), -1);
	assert_string_equal(err, "CPU 4 is not present");
	assert_int_equal(cpu_hotplug_request_remove(&hp, 9, err, sizeof(err)), -1);
	assert_int_equal(f.notifies, 0);
	/* a second request while one is pending raises the event again */
	assert_int_equal(cpu_hotplug_request_remove(&hp, 1, err, sizeof(err)), 0);
	assert_int_equal(cpu_hotplug_request_remove(&hp, 1, err, sizeof(err)), 0);
	assert_int_equal(f.notifies, 2);
	cpu_hotplug_destroy(&hp);
}

/* What a guest may write that the interface does not allow. */
static void guest_mistakes(void **state)
{
	struct cpu_hotplug hp;
	struct fake f;
	char err[128];

	(void)state;
	setup(&hp, &f, 2);
	/* the boot CPU cannot be ejected, even by a direct register write */
	out(&hp, CPUHP_OFF_SEL, 0, 4);
	out(&hp, CPUHP_OFF_STS, CPUHP_CTL_EJECT, 1);
	assert_int_equal(f.nejected, 0);
	assert_int_equal(sta(&hp, 0), 0xf);
	/* a CPU the VMM did not ask to remove may be ejected by the OS (QEMU's too) */
	out(&hp, CPUHP_OFF_SEL, 1, 4);
	out(&hp, CPUHP_OFF_STS, CPUHP_CTL_EJECT | CPUHP_STS_ENABLED, 1);
	assert_int_equal(f.nejected, 1);
	/* an invalid selector: reads 0, writes other than the selector ignored */
	assert_int_equal(cpu_hotplug_add(&hp, 2, err, sizeof(err)), 0);
	out(&hp, CPUHP_OFF_SEL, 0xffffffffu, 4);
	assert_int_equal(in(&hp, CPUHP_OFF_STS, 1), 0);
	assert_int_equal(in(&hp, CPUHP_OFF_DATA, 4), 0);
	out(&hp, CPUHP_OFF_CMD, CPUHP_CMD_NEXT_EVENT, 1);
	out(&hp, CPUHP_OFF_STS, CPUHP_STS_INSERT, 1);
	assert_int_equal(in(&hp, CPUHP_OFF_DATA, 4), 0);
	out(&hp, CPUHP_OFF_SEL, 2, 4);
	assert_int_equal(in(&hp, CPUHP_OFF_STS, 1), CPUHP_STS_ENABLED | CPUHP_STS_INSERT);
	/* byte writes to the selector change those bytes; 0x6-0x7 are reserved */
	out(&hp, CPUHP_OFF_SEL + 1, 0x01, 1);            /* selector 0x102: invalid */
	assert_int_equal(in(&hp, CPUHP_OFF_STS, 1), 0);
	out(&hp, CPUHP_OFF_SEL + 1, 0x00, 1);
	assert_int_equal(in(&hp, CPUHP_OFF_STS, 4), CPUHP_STS_ENABLED | CPUHP_STS_INSERT);
	out(&hp, 6, 0xffff, 2);
	assert_int_equal(in(&hp, 6, 2), 0);
	/* hand the eject to firmware: status bit 4 reads back */
	out(&hp, CPUHP_OFF_STS, CPUHP_STS_FW_EJECT, 1);
	assert_true(in(&hp, CPUHP_OFF_STS, 1) & CPUHP_STS_FW_EJECT);
	/* an access past the block's end reads 0 there */
	assert_int_equal(in(&hp, 11, 4) >> 8, 0);
	cpu_hotplug_destroy(&hp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(detect_and_enumerate),
		cmocka_unit_test(add_scan_eject_readd),
		cmocka_unit_test(vmm_errors),
		cmocka_unit_test(guest_mistakes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
