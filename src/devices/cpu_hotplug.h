/*
 * The register block of QEMU's ACPI CPU hotplug interface
 * (core/acpi_cpu_hotplug.h has the layout; QEMU docs/specs/acpi_cpu_hotplug.rst):
 * for each possible CPU whether it is present (enabled) and whether an
 * insert or remove event waits for the OS, a selector, a command, and the
 * _OST registers. The VMM adds CPUs and asks for their removal here; the
 * OS learns of both through the DSDT's scan (GPE 2) and answers with _EJ0
 * (the eject bit) and _OST.
 *
 * KVM-free: what a guest's access or a VMM request causes comes back
 * through the callbacks, called without the device's lock held, on the
 * thread that caused it. Thread-safe.
 */
#ifndef MPVM_DEVICES_CPU_HOTPLUG_H
#define MPVM_DEVICES_CPU_HOTPLUG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/acpi_cpu_hotplug.h"

struct cpu_hotplug_ops {
	/* An insert or remove event is now pending: raise GPE 2. */
	void (*notify)(void *opaque);
	/* The OS ejected CPU `cpu` (wrote the eject bit: _EJ0); it is absent
	 * from now on, and may be added again. */
	void (*ejected)(void *opaque, unsigned int cpu);
	/* The OS wrote _OST status `status` for `event` on CPU `cpu` (ACPI 6.3
	 * §6.3.5); may be NULL. */
	void (*ost)(void *opaque, unsigned int cpu, uint32_t event, uint32_t status);
};

struct cpu_hotplug_cpu {
	uint32_t apic_id;
	bool enabled;      /* present: the OS may use it */
	bool inserting;    /* insert event not yet taken by the OS */
	bool removing;     /* remove (eject request) event not yet taken by the OS */
	bool fw_eject;     /* the OS handed its eject to firmware (bit 4) */
};

struct cpu_hotplug {
	pthread_mutex_t lock;
	const struct cpu_hotplug_ops *ops;
	void *opaque;
	unsigned int ncpus;      /* possible CPUs: selector values 0 .. ncpus-1 */
	unsigned int boot_cpu;   /* never removed */
	struct cpu_hotplug_cpu *cpus;
	uint32_t selector;
	uint8_t command;
	uint32_t ost_event;
};

/*
 * maxcpus possible CPUs with the given APIC IDs, the first `present` of
 * them there from the start. 0, or -1 if out of memory.
 */
int cpu_hotplug_init(struct cpu_hotplug *hp, unsigned int maxcpus, unsigned int present,
		     const uint32_t *apic_ids, unsigned int boot_cpu,
		     const struct cpu_hotplug_ops *ops, void *opaque);
void cpu_hotplug_destroy(struct cpu_hotplug *hp);

/*
 * The VMM adds CPU `cpu`: present from now on, with an insert event for
 * the OS (ops->notify). 0, or -1 with the reason in err (no such CPU,
 * already present).
 */
int cpu_hotplug_add(struct cpu_hotplug *hp, unsigned int cpu, char *err, size_t errlen);

/*
 * The VMM asks the OS to remove CPU `cpu`: a remove event (ops->notify);
 * the CPU stays present until the OS ejects it (ops->ejected). Asking
 * again while the request is pending is allowed and raises the event
 * again. 0, or -1 with the reason in err (no such CPU, absent, the boot
 * CPU).
 */
int cpu_hotplug_request_remove(struct cpu_hotplug *hp, unsigned int cpu, char *err, size_t errlen);

/* A copy of CPU `cpu`'s state (false if there is no such CPU). */
bool cpu_hotplug_get(struct cpu_hotplug *hp, unsigned int cpu, struct cpu_hotplug_cpu *out);

/* The port-bus handler for ACPI_CPU_HOTPLUG_BASE .. + ACPI_CPU_HOTPLUG_LEN. */
int cpu_hotplug_pio(void *opaque, uint16_t port, bool is_write, uint32_t *data, unsigned int size);

#endif
