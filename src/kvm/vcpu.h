/*
 * One vCPU: its KVM file descriptor, its kvm_run page, its host thread and
 * what was observed of its MP state.
 *
 * The thread is an explicit state machine, as Firecracker's vstate/vcpu:
 * each state below is one function that returns the next state.
 *
 *   START_GATE -> WAIT_RUNNABLE <-> RUNNING -> EXITED
 *                        \            /
 *                         -> PAUSED <-
 *
 *   START_GATE     the thread exists and waits until every vCPU thread
 *                  does (so any thread may signal any other);
 *   WAIT_RUNNABLE  the irqchip does not let it run (waiting for INIT or
 *                  SIPI, halted with nothing to wake it): it sleeps there.
 *                  With KVM's local APICs that wait happens inside
 *                  KVM_RUN and counts as RUNNING;
 *   RUNNING        in or around KVM_RUN, handling exits;
 *   PAUSED         told to pause: out of KVM_RUN, registers quiet,
 *                  waiting for resume or stop;
 *   EXITED         its run loop is over (the VM stopped, or a command);
 *   ABSENT         a possible vCPU that is not plugged in (CPU hotplug,
 *                  kvm/hotplug.c): not added yet (its KVM vCPU is made
 *                  when it is), or ejected by the guest; it waits there.
 *
 * Other threads talk to it by message only (vcpu_command(): pause, resume,
 * stop, answered once done) or by a kick that makes it look
 * (vcpu_kick()); they never touch its registers.
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

#define VCPU_SIPI_SEEN 0x100u

enum vcpu_thread_state {
	VCPU_STATE_START_GATE,
	VCPU_STATE_WAIT_RUNNABLE,
	VCPU_STATE_RUNNING,
	VCPU_STATE_PAUSED,
	VCPU_STATE_EXITED,
	VCPU_STATE_ABSENT,
};
#define VCPU_STATE_COUNT 6
/* Exit reasons counted one by one (KVM_EXIT_* are below 48 today); above: one "other" slot. */
#define VCPU_EXIT_REASONS 49

enum vcpu_command {
	VCPU_CMD_NONE,
	VCPU_CMD_PAUSE,  /* answered once the thread is PAUSED */
	VCPU_CMD_RESUME, /* answered once it has left PAUSED */
	VCPU_CMD_STOP,   /* answered once it is EXITED (the VM goes on) */
	VCPU_CMD_SAVE,   /* paused: reads its state for a snapshot (kvm/snapshot.c), result in save_ret */
	VCPU_CMD_RESET,  /* paused: its power-on state back (kvm/reset.c), result in save_ret */
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	uint32_t apic_id;
	bool bsp;
	atomic_bool present;        /* plugged in (always, without CPU hotplug): kvm/hotplug.c */
	int fd;                     /* -1 until its KVM vCPU exists */
	atomic_bool made;           /* fd and run are set up: other threads may kick it (hotplug makes it late) */
	struct kvm_run *run;
	pthread_t thread;
	atomic_bool thread_started; /* created (by vcpus.c's starter) and not yet joined; read by any thread */
	void *chip;                 /* the irqchip's per-vCPU state (irqchip_user.c) */
	atomic_uint kvm_mp_state;   /* with KVM's local APICs: the last KVM_GET_MP_STATE */
	atomic_int tid;             /* the thread's host id, once it runs (0 before) */
	atomic_bool in_kvm_run;     /* inside (or about to enter) KVM_RUN: a kick must signal */
	atomic_uint last_sipi;      /* VCPU_SIPI_SEEN | vector of the last SIPI taken; 0: none seen */

	/* The thread's state; written by the thread, read by anyone. */
	atomic_int state;           /* enum vcpu_thread_state */
	enum vcpu_thread_state state_at_stop; /* the state it left for EXITED */
	uint64_t state_ns[VCPU_STATE_COUNT];  /* time spent in each state */
	uint64_t state_since_ns;

	/* The command mailbox, under cmd_lock. */
	pthread_mutex_t cmd_lock;
	pthread_cond_t cmd_cond;
	atomic_bool cmd_waiting;    /* a command is there: checked each loop without the lock */
	enum vcpu_command cmd;
	uint64_t cmd_sent, cmd_done;
	int save_ret;               /* VCPU_CMD_SAVE's or _RESET's outcome: 0, or -1 (not paused, or KVM refused) */

	/* Owned by the vCPU thread while it runs; read by others after join. */
	uint64_t exits;             /* written with __atomic_store_n: the control socket reads it live */
	uint64_t exits_by_reason[VCPU_EXIT_REASONS]; /* KVM_EXIT_*; the last slot: any above */
	uint64_t interrupted;       /* returns without an exit: kicks (EINTR), EAGAIN */
	struct mp_history mp;
	uint64_t first_run_ns;      /* when KVM_RUN was first entered */
	uint64_t first_exit_ns;     /* when it first came back with an exit */
};

/* KVM_EXIT_IO -> "KVM_EXIT_IO"; "unknown exit reason" for one mpvm does not know. */
const char *vcpu_exit_reason_name(uint32_t reason);

/* Fills in the struct (no KVM call): every vCPU is prepared before any is created. */
void vcpu_prepare(struct vcpu *v, struct vm *vm, unsigned int id);
/*
 * Creates the KVM vCPU, maps kvm_run, sets its CPUID, MSRs and irqchip
 * state. -1 after printing why. Safe to run for several vCPUs at once
 * (vcpus.c): it touches only its own vCPU and reads the VM. A possible
 * vCPU beyond the ones present at start (CPU hotplug) is left as
 * prepared: vcpu_create_kvm() makes it when it is added.
 */
int vcpu_create(struct vcpu *v);
int vcpu_create_kvm(struct vcpu *v);
/* A vCPU added by CPU hotplug: the thread's own set-up and its seccomp filter. -1: the VM stops. */
int vcpu_confine(struct vcpu *v);
int vcpu_start(struct vcpu *v);
void vcpu_join(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

/*
 * Sends a command and waits for the thread's answer. 0 once done; -1 if
 * the thread is not running (not started, or already exited).
 */
int vcpu_command(struct vcpu *v, enum vcpu_command cmd);
const char *vcpu_state_name(enum vcpu_thread_state s);

/*
 * Makes the vCPU thread look at its state: interrupts KVM_RUN and wakes it
 * where it sleeps (in the irqchip, or paused). Safe from any thread; does
 * nothing before the thread exists.
 */
void vcpu_kick(struct vcpu *v);
/* Only interrupts KVM_RUN (immediate_exit and the kick signal). */
void vcpu_interrupt_run(struct vcpu *v);

/* The vCPU whose thread calls it (a device's exit handler), or NULL on any other thread. */
struct vcpu *vcpu_current(void);
/*
 * The vCPU's own thread, outside KVM_RUN: sleeps until a command arrives
 * or the VM stops (kvm/reset.c: a guest's reset waits for the reset to
 * pause it, running no more guest code meanwhile).
 */
void vcpu_await_command(struct vcpu *v);

/* One MSR through KVM_GET_MSRS / KVM_SET_MSRS. -1 (errno set) if KVM refuses. */
int vcpu_get_msr(struct vcpu *v, uint32_t index, uint64_t *value);
int vcpu_set_msr(struct vcpu *v, uint32_t index, uint64_t value);

/*
 * Reports a guest fault on this vCPU (message, exit reason, registers and
 * the bytes at RIP) on stderr and stops the VM.
 */
void vcpu_guest_fault(struct vcpu *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The signal that interrupts KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1
void vcpu_install_kick_handler(void);

#endif
