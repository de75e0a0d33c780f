/*
 * System-call filters (seccomp, through libseccomp) for mpvm's threads, one
 * list per kind of thread, each installed by the thread itself once its
 * set-up is done and before the first guest instruction (--seccomp); the
 * vCPU threads are born under theirs (vcpus.c).
 *
 * A guest drives mpvm's vCPU threads, device models and console: if one of
 * them is made to do what it never does (open a file, run a program, open
 * a socket), the filter stops mpvm. The lists (sandbox.c) say what each
 * kind does:
 *   vCPU      KVM_RUN and the vCPU and interrupt ioctls, the local APIC
 *             timer, writing the console and logs, memory, futexes, kicks,
 *             starting threads (of this process, under this filter);
 *   timer     the PIT's and the irqchip's timed work: interrupt ioctls;
 *   console   reading stdin and its eventfd, poll, interrupt ioctls;
 *   main      waiting for the stop, joining the threads, writing the
 *             report file (so files, but no exec, no sockets, no threads);
 *   control   the QMP socket (--control): accepting and serving clients
 *             on sockets it already has, poll, MSIs to the VM; no new
 *             socket, no file.
 *
 * With --seccomp on a forbidden call raises SIGSYS: mpvm prints the thread
 * and the system call and exits with status 125. With log the kernel logs
 * it (audit) and lets it go through. A filter stays with its thread and
 * with the threads it starts afterwards.
 */
#ifndef MPVM_KVM_SANDBOX_H
#define MPVM_KVM_SANDBOX_H

#include "core/options.h"

enum sandbox_thread {
	SANDBOX_MAIN,
	SANDBOX_VCPU,
	SANDBOX_TIMER,
	SANDBOX_CONSOLE,
	SANDBOX_CONTROL,
};

/*
 * Installs the calling thread's filter. The vCPU list allows the vCPU
 * ioctls on `vcpu_fd` (the first vCPU's) and the descriptors after it, and
 * the VM's on `vm_fd`; the others only on vm_fd (and terminal ioctls on
 * stdin). 0 (also with SECCOMP_OFF), or -1 after printing why.
 */
int sandbox_enter(enum sandbox_thread kind, enum seccomp_mode mode, int vm_fd, int vcpu_fd);
/*
 * A thread started by one that had already entered `kind`'s filter (which
 * it inherits): what sandbox_enter() does for the thread itself, without
 * loading a program (the SIGSYS message's thread kind, SIGSYS unblocked).
 */
void sandbox_inherited(enum sandbox_thread kind, enum seccomp_mode mode);

/*
 * --control: vCPU threads may also write to this eventfd (an MP-state change
 * wakes the control thread). Before the vCPU threads enter their filters.
 */
void sandbox_allow_event_fd(int fd);

/* --trace: vCPU threads may also write to the trace file. Before the vCPU threads enter their filters. */
void sandbox_allow_trace_fd(int fd);

/* --trace in kernel/split mode: the main thread may also remove its tracefs instance. Before its filter. */
void sandbox_allow_tracefs(bool on);

/* "vCPU", "main", ...: for messages. */
const char *sandbox_thread_name(enum sandbox_thread kind);

#endif
