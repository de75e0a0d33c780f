/*
 * libFuzzer target: the CPU hotplug register block (devices/cpu_hotplug.c)
 * under any mix of guest port accesses (any port of the block, any width,
 * any value) and VMM requests (add, remove), with its rules as invariants:
 * the boot CPU is never ejected and always present; an insert event is
 * only ever pending on a present CPU; an eject leaves a CPU with nothing
 * pending; the callbacks come without the device's lock (they read it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/cpu_hotplug.h"

#define NCPUS 6
#define BOOT  1

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static uint32_t u32(struct in *in)
{
	return (uint32_t)u8(in) | (uint32_t)u8(in) << 8 | (uint32_t)u8(in) << 16 | (uint32_t)u8(in) << 24;
}

static struct cpu_hotplug hp;

static void check(unsigned int cpu)
{
	struct cpu_hotplug_cpu c;

	if (!cpu_hotplug_get(&hp, cpu, &c)) /* takes the lock: not held by the caller */
		abort();
	if (c.inserting && !c.enabled)
		abort();
	if (cpu == BOOT && !c.enabled)
		abort();
}

static void on_notify(void *o) { (void)o; }

static void on_ejected(void *o, unsigned int cpu)
{
	struct cpu_hotplug_cpu c;

	(void)o;
	if (cpu == BOOT || cpu >= NCPUS || !cpu_hotplug_get(&hp, cpu, &c))
		abort();
	if (c.enabled || c.inserting || c.removing || c.fw_eject)
		abort();
}

static void on_ost(void *o, unsigned int cpu, uint32_t ev, uint32_t st)
{
	(void)o;
	(void)ev;
	(void)st;
	if (cpu >= NCPUS)
		abort();
	check(cpu);
}

static const struct cpu_hotplug_ops ops = { .notify = on_notify, .ejected = on_ejected, .ost = on_ost };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t ids[NCPUS] = { 0, 1, 2, 4, 5, 6 };
	static const unsigned int sizes[] = { 1, 2, 4, 4 };
	struct in in = { data, size };
	char err[128];

	if (cpu_hotplug_init(&hp, NCPUS, 3, ids, BOOT, &ops, NULL))
		abort();
	while (in.n) {
		uint8_t op = u8(&in);
		unsigned int cpu = u8(&in) % (NCPUS + 1); /* one past the end: refused */
		uint32_t v;

		switch (op % 4) {
		case 0:
			(void)cpu_hotplug_add(&hp, cpu, err, sizeof(err));
			break;
		case 1:
			if (cpu_hotplug_request_remove(&hp, cpu, err, sizeof(err)) == 0 && cpu == BOOT)
				abort();
			break;
		case 2:
			v = u32(&in);
			cpu_hotplug_pio(&hp, (uint16_t)(ACPI_CPU_HOTPLUG_BASE + u8(&in) % (ACPI_CPU_HOTPLUG_LEN + 2)),
					true, &v, sizes[u8(&in) & 3]);
			break;
		case 3:
			v = 0;
			cpu_hotplug_pio(&hp, (uint16_t)(ACPI_CPU_HOTPLUG_BASE + u8(&in) % (ACPI_CPU_HOTPLUG_LEN + 2)),
					false, &v, sizes[u8(&in) & 3]);
			break;
		}
		for (unsigned int i = 0; i < NCPUS; i++)
			check(i);
	}
	cpu_hotplug_destroy(&hp);
	return 0;
}
