/*
 * One vCPU: its KVM file descriptor, its kvm_run page, its host thread and
 * what was observed of its MP state.
 *
 * The thread is an explicit state machine (enum vcpu_thread_state): it is
 * CREATED, then RUNNING (in or around KVM_RUN) until the VM asks it to stop
 * or its guest faults, then EXITED. The VM talks to it only through
 * vcpu_kick() (immediate_exit + a signal) from the main thread, never by
 * touching its registers from another thread.
 */
#ifndef MPVM_KVM_VCPU_H
#define MPVM_KVM_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/mpstate.h"

struct vm;
struct kvm_run;
struct user_cpu;

enum vcpu_thread_state {
	VCPU_CREATED,
	VCPU_RUNNING,
	VCPU_EXITED,
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	uint32_t apic_id;
	bool bsp;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;        /* main thread only: created and not yet joined */
	struct user_cpu *user;      /* --irqchip user: local APIC and MP state (irqchip_user.c) */
	atomic_int state;           /* enum vcpu_thread_state */

	/* Owned by the vCPU thread while it runs; read by others after join. */
	uint64_t exits;
	struct mp_history mp;
	uint64_t first_run_ns;      /* when KVM_RUN was first entered */
	uint64_t first_exit_ns;     /* when it first came back with an exit */
};

/* Creates the KVM vCPU, maps kvm_run, sets its CPUID. -1 after printing why. */
int vcpu_create(struct vcpu *v, struct vm *vm, unsigned int id);
int vcpu_start(struct vcpu *v);
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

/* Reads KVM_GET_MP_STATE and records it if it changed. */
void vcpu_observe_mp_state(struct vcpu *v);

/*
 * Reports a guest fault on this vCPU (message, exit reason, registers and
 * the bytes at RIP) on stderr and stops the VM.
 */
void vcpu_guest_fault(struct vcpu *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Makes the vCPU thread look at its state: interrupts KVM_RUN and wakes it
 * if it sleeps. Safe from any thread once vm_run() has started the vCPUs.
 */
void vcpu_notify(struct vcpu *v);

/* The signal that interrupts KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1
void vcpu_install_kick_handler(void);

#endif
