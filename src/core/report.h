/*
 * What mpvm tells about a finished VM: one line per vCPU on the terminal,
 * and with --report the same plus every vCPU's observed MP-state sequence
 * as JSON. KVM-free: the VM layer fills these structs.
 */
#ifndef MPVM_CORE_REPORT_H
#define MPVM_CORE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/mpstate.h"

#define REPORT_THREAD_STATES_MAX 8
#define REPORT_EXIT_REASONS_MAX 24

/* How many of a vCPU's returns from KVM_RUN had one reason ("KVM_EXIT_IO", "interrupted", ...). */
struct report_count {
	const char *name;
	uint64_t n;
};

/* Time a vCPU thread spent in one of its states ("running", "paused", ...). */
struct report_state_time {
	const char *state;
	uint64_t ns;
};

struct vcpu_report {
	unsigned int id;
	uint32_t apic_id;
	bool bsp;
	bool absent;                    /* CPU hotplug: not plugged in at the stop (never added, or ejected) */
	uint32_t mp_state;              /* final */
	uint64_t exits;
	const struct mp_history *history;
	const char *thread_state;       /* the thread's state when the VM stopped; NULL: not known */
	struct report_state_time thread_time[REPORT_THREAD_STATES_MAX];
	unsigned int nthread_time;
	struct report_count exit_reasons[REPORT_EXIT_REASONS_MAX];
	unsigned int nexit_reasons;
};

struct vm_report {
	unsigned int ncpus;
	unsigned int boot_cpu;
	const char *irqchip;
	const char *stop;               /* "guest-exit", "guest-fault", ... */
	int exit_status;
	uint64_t start_to_vm_ns;        /* process start to VM created (t = 0 of the histories) */
	uint64_t first_run_ns;          /* VM created to the BSP's first KVM_RUN */
	uint64_t first_exit_ns;         /* VM created to the BSP's first exit */
	uint64_t run_ns;                /* VM created to the last vCPU thread joined */
	const struct vcpu_report *vcpus;
};

void report_print(FILE *f, const struct vm_report *r);

/*
 * Writes the JSON report to `path` atomically (a temporary file in the same
 * folder, fsync, rename). -1 with the reason in err.
 */
int report_write_json(const char *path, const struct vm_report *r, char *err, size_t errlen);

/* The JSON text (caller frees), or NULL if out of memory. */
char *report_json(const struct vm_report *r);

#endif
