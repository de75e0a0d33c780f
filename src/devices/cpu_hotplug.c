/*
 * QEMU's ACPI CPU hotplug register block (cpu_hotplug.h; the registers are
 * in core/acpi_cpu_hotplug.h, after QEMU docs/specs/acpi_cpu_hotplug.rst).
 *
 * Accesses: the AML reads and writes the selector and command data as
 * dwords (a DWordAcc field) and the status/control and command registers
 * as bytes (a ByteAcc, WriteAsZeros field). Other widths work byte by
 * byte on the same registers: a write to bytes of the selector changes
 * those bytes; a write that touches command data (0x8-0xb) stores the
 * bytes it has, the others 0, once per access. Reserved bytes (0x6, 0x7)
 * read 0 and ignore writes, as the interface says.
 *
 * Selector: the interface's rule is that a selector naming no possible
 * CPU makes all reads 0 and all writes but the selector's ignored.
 *
 * Command 0 ("get next CPU with event") runs when it is written: from the
 * selected CPU on, wrapping around once, the first CPU with an insert or
 * remove event becomes the selected one; with none, nothing changes. The
 * scan in the DSDT then reads status and command data (the selector) and
 * clears the event it has notified the OS of by writing its bit.
 *
 * Eject (control bit 3, the DSDT's _EJ0): the selected CPU, if present
 * and not the boot CPU, becomes absent and its events are dropped; the
 * VMM hears of it through ops->ejected. The boot CPU's device has no _EJ0
 * (core/acpi_cpu_hotplug.c), so only a guest writing the register itself
 * can try, and nothing happens.
 */
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "devices/cpu_hotplug.h"

int cpu_hotplug_init(struct cpu_hotplug *hp, unsigned int maxcpus, unsigned int present,
		     const uint32_t *apic_ids, unsigned int boot_cpu,
		     const struct cpu_hotplug_ops *ops, void *opaque)
{
	*hp = (struct cpu_hotplug){ .ops = ops, .opaque = opaque, .ncpus = maxcpus,
				    .boot_cpu = boot_cpu };
	hp->cpus = calloc(maxcpus ? maxcpus : 1, sizeof(*hp->cpus));
	if (!hp->cpus)
		return -1;
	for (unsigned int i = 0; i < maxcpus; i++) {
		hp->cpus[i].apic_id = apic_ids[i];
		hp->cpus[i].enabled = i < present;
	}
	pthread_mutex_init(&hp->lock, NULL);
	return 0;
}

void cpu_hotplug_destroy(struct cpu_hotplug *hp)
{
	if (!hp->cpus)
		return;
	pthread_mutex_destroy(&hp->lock);
	free(hp->cpus);
	hp->cpus = NULL;
}

int cpu_hotplug_add(struct cpu_hotplug *hp, unsigned int cpu, char *err, size_t errlen)
{
	pthread_mutex_lock(&hp->lock);
	if (cpu >= hp->ncpus) {
		pthread_mutex_unlock(&hp->lock);
		return errmsg(err, errlen, "no CPU %u (possible CPUs are 0 to %u)", cpu, hp->ncpus - 1);
	}
	if (hp->cpus[cpu].enabled) {
		pthread_mutex_unlock(&hp->lock);
		return errmsg(err, errlen, "CPU %u is already present", cpu);
	}
	hp->cpus[cpu] = (struct cpu_hotplug_cpu){ .apic_id = hp->cpus[cpu].apic_id,
						  .enabled = true, .inserting = true };
	pthread_mutex_unlock(&hp->lock);
	if (hp->ops->notify)
		hp->ops->notify(hp->opaque);
	return 0;
}

int cpu_hotplug_request_remove(struct cpu_hotplug *hp, unsigned int cpu, char *err, size_t errlen)
{
	pthread_mutex_lock(&hp->lock);
	if (cpu >= hp->ncpus) {
		pthread_mutex_unlock(&hp->lock);
		return errmsg(err, errlen, "no CPU %u (possible CPUs are 0 to %u)", cpu, hp->ncpus - 1);
	}
	if (cpu == hp->boot_cpu) {
		pthread_mutex_unlock(&hp->lock);
		return errmsg(err, errlen, "CPU %u is the boot CPU (BSP) and cannot be removed", cpu);
	}
	if (!hp->cpus[cpu].enabled) {
		pthread_mutex_unlock(&hp->lock);
		return errmsg(err, errlen, "CPU %u is not present", cpu);
	}
	hp->cpus[cpu].removing = true;
	pthread_mutex_unlock(&hp->lock);
	if (hp->ops->notify)
		hp->ops->notify(hp->opaque);
	return 0;
}

bool cpu_hotplug_get(struct cpu_hotplug *hp, unsigned int cpu, struct cpu_hotplug_cpu *out)
{
	bool ok;

	pthread_mutex_lock(&hp->lock);
	ok = cpu < hp->ncpus;
	if (ok)
		*out = hp->cpus[cpu];
	pthread_mutex_unlock(&hp->lock);
	return ok;
}

/* The 12 bytes a read sees now; all 0 when the selector is not valid. */
static void snapshot(const struct cpu_hotplug *hp, uint8_t regs[ACPI_CPU_HOTPLUG_LEN])
{
	const struct cpu_hotplug_cpu *c;
	uint32_t data = 0;

	memset(regs, 0, ACPI_CPU_HOTPLUG_LEN);
	if (hp->selector >= hp->ncpus)
		return;
	c = &hp->cpus[hp->selector];
	/* 0x0: command data 2, the APIC ID's upper half for command 3: 0 on x86 */
	regs[CPUHP_OFF_STS] = (uint8_t)((c->enabled ? CPUHP_STS_ENABLED : 0) |
					(c->enabled && c->inserting ? CPUHP_STS_INSERT : 0) |
					(c->removing ? CPUHP_STS_REMOVE : 0) |
					(c->fw_eject ? CPUHP_STS_FW_EJECT : 0));
	if (hp->command == CPUHP_CMD_NEXT_EVENT)
		data = hp->selector;
	else if (hp->command == CPUHP_CMD_ARCH_ID)
		data = c->apic_id;
	memcpy(regs + CPUHP_OFF_DATA, &data, 4);
}

/* Command 0: select the next CPU with an event, from the selected one on. */
static void select_next_event(struct cpu_hotplug *hp)
{
	unsigned int i = hp->selector;

	do {
		if (hp->cpus[i].inserting || hp->cpus[i].removing) {
			hp->selector = i;
			return;
		}
		i = i + 1 < hp->ncpus ? i + 1 : 0;
	} while (i != hp->selector);
}

struct effects {
	int ejected;            /* CPU ejected, or -1 */
	int ost_cpu;            /* _OST reported for this CPU, or -1 */
	uint32_t ost_event, ost_status;
};

/* Control (0x4): the bits the OS writes for the selected, valid CPU. */
static void write_control(struct cpu_hotplug *hp, uint8_t v, struct effects *fx)
{
	struct cpu_hotplug_cpu *c = &hp->cpus[hp->selector];

	if (v & CPUHP_STS_INSERT)
		c->inserting = false;
	if (v & CPUHP_STS_REMOVE)
		c->removing = false;
	if (v & CPUHP_STS_FW_EJECT)
		c->fw_eject = true;
	if ((v & CPUHP_CTL_EJECT) && c->enabled && hp->selector != hp->boot_cpu) {
		*c = (struct cpu_hotplug_cpu){ .apic_id = c->apic_id };
		fx->ejected = (int)hp->selector;
	}
}

int cpu_hotplug_pio(void *opaque, uint16_t port, bool is_write, uint32_t *data, unsigned int size)
{
	struct cpu_hotplug *hp = opaque;
	unsigned int off = (unsigned int)(port - ACPI_CPU_HOTPLUG_BASE), i;
	struct effects fx = { .ejected = -1, .ost_cpu = -1 };
	uint8_t regs[ACPI_CPU_HOTPLUG_LEN];
	uint32_t v = 0, cmd_data = 0;
	bool data_written = false;

	if (size > 4)
		size = 4;
	pthread_mutex_lock(&hp->lock);
	if (!is_write) {
		snapshot(hp, regs);
		for (i = 0; i < size; i++)
			if (off + i < ACPI_CPU_HOTPLUG_LEN)
				v |= (uint32_t)regs[off + i] << (8 * i);
		pthread_mutex_unlock(&hp->lock);
		*data = v;
		return 0;
	}
	for (i = 0; i < size && off + i < ACPI_CPU_HOTPLUG_LEN; i++) {
		unsigned int o = off + i;
		uint8_t b = (uint8_t)(*data >> (8 * i));

		if (o < CPUHP_OFF_STS) {
			hp->selector = (hp->selector & ~(0xffu << (8 * o))) | ((uint32_t)b << (8 * o));
			continue;
		}
		if (hp->selector >= hp->ncpus)
			continue;       /* no possible CPU selected: ignored */
		if (o == CPUHP_OFF_STS) {
			write_control(hp, b, &fx);
		} else if (o == CPUHP_OFF_CMD) {
			hp->command = b;
			if (b == CPUHP_CMD_NEXT_EVENT)
				select_next_event(hp);
		} else if (o >= CPUHP_OFF_DATA) {
			cmd_data |= (uint32_t)b << (8 * (o - CPUHP_OFF_DATA));
			data_written = true;
		}
	}
	if (data_written && hp->selector < hp->ncpus) {
		if (hp->command == CPUHP_CMD_OST_EVENT) {
			hp->ost_event = cmd_data;
		} else if (hp->command == CPUHP_CMD_OST_STATUS) {
			fx.ost_cpu = (int)hp->selector;
			fx.ost_event = hp->ost_event;
			fx.ost_status = cmd_data;
		}
	}
	pthread_mutex_unlock(&hp->lock);

	if (fx.ejected >= 0 && hp->ops->ejected)
		hp->ops->ejected(hp->opaque, (unsigned int)fx.ejected);
	if (fx.ost_cpu >= 0 && hp->ops->ost)
		hp->ops->ost(hp->opaque, (unsigned int)fx.ost_cpu, fx.ost_event, fx.ost_status);
	return 0;
}
