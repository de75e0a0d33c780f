/*
 * The VM's vCPUs as a group: creating them several at a time, and
 * starting their threads under one seccomp filter.
 *
 * ---- creating ----
 *
 * Each vCPU costs a KVM_CREATE_VCPU (KVM allocates and initialises the
 * vCPU, its MMU and its local APIC), a KVM_SET_CPUID2, an MSR write and
 * the irqchip's set-up: tens of microseconds of system time each, and
 * the same again for every added vCPU when one thread does them in a
 * row. None of it depends on another vCPU, and KVM holds its VM-wide
 * lock only around the bookkeeping of KVM_CREATE_VCPU (virt/kvm/kvm_main.c
 * kvm_vm_ioctl_create_vcpu), so the work spreads over the host's CPUs:
 * the calling thread and up to VCPUS_CREATE_HELPERS short-lived threads
 * take vCPUs from one shared counter.
 *
 * vCPU 0 is created first, alone: it is KVM's vCPU index 0 (the one
 * KVM's and guests' code reaches first, as on every other VMM) and its
 * file descriptor the lowest. The others get KVM indexes in the order
 * their creations finish; mpvm names vCPUs by their own id and APIC ID
 * (KVM's vcpu_id), never by KVM's index.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kvm/sandbox.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

/* Enough to keep a large host busy; each helper costs one thread start. */
#define VCPUS_CREATE_HELPERS 15
/* Below this many vCPUs a helper's start costs more than it saves. */
#define VCPUS_CREATE_PARALLEL_FROM 4

struct vcpus_create {
	struct vm *vm;
	atomic_uint next;   /* the next vCPU to create */
	atomic_bool failed; /* one failed: the others stop taking work */
};

static void *create_some(void *arg)
{
	struct vcpus_create *c = arg;

	while (!atomic_load(&c->failed)) {
		unsigned int i = atomic_fetch_add(&c->next, 1);

		if (i >= c->vm->ncpus)
			break;
		if (vcpu_create(&c->vm->vcpus[i]))
			atomic_store(&c->failed, true);
	}
	return NULL;
}

static unsigned int helpers_for(unsigned int ncpus)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n;

	if (ncpus < VCPUS_CREATE_PARALLEL_FROM || online < 2)
		return 0;
	n = (unsigned int)online - 1; /* the calling thread is one of the workers */
	if (n > VCPUS_CREATE_HELPERS)
		n = VCPUS_CREATE_HELPERS;
	if (n > ncpus - 2) /* vCPU 0 is done alone; the caller takes a share */
		n = ncpus - 2;
	return n;
}

int vm_create_vcpus(struct vm *vm)
{
	struct vcpus_create c = { .vm = vm };
	pthread_t helper[VCPUS_CREATE_HELPERS];
	unsigned int helpers = helpers_for(vm->ncpus), started = 0;
	int fd = -1;

	for (unsigned int i = 0; i < vm->ncpus; i++)
		vcpu_prepare(&vm->vcpus[i], vm, i);
	if (vcpu_create(&vm->vcpus[0]))
		return -1;
	atomic_init(&c.next, 1);
	atomic_init(&c.failed, false);
	for (; started < helpers; started++) {
		int err = pthread_create(&helper[started], NULL, create_some, &c);

		if (err) { /* fewer helpers: the work still gets done */
			fprintf(stderr, "mpvm: warning: a thread to create vCPUs with: %s\n", strerror(err));
			break;
		}
	}
	create_some(&c);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(helper[i], NULL);
	if (atomic_load(&c.failed))
		return -1;
	/* The vCPU threads' seccomp filter allows vCPU ioctls on descriptors from this one up. */
	for (unsigned int i = 0; i < vm->ncpus; i++)
		if (fd < 0 || vm->vcpus[i].fd < fd)
			fd = vm->vcpus[i].fd;
	vm->first_vcpu_fd = fd;
	return 0;
}

/*
 * ---- starting the threads ----
 *
 * Loading a seccomp filter costs the kernel a check and a translation of
 * the whole program, each time: 50 us for ten instructions and about 3 us
 * more per instruction on our test machines, for every thread that loads
 * one. A filter a thread has is inherited by the threads it starts, shared,
 * not loaded again. So one short-lived thread, the starter, loads the vCPU
 * filter and then starts every vCPU thread: each is born confined, before
 * its first instruction, and the start of N vCPUs costs one filter load.
 * The vCPU list therefore allows starting threads (clone with CLONE_THREAD:
 * a new thread of this process under the same filter, no new program;
 * sandbox.c), and what a thread does on its first steps (its name, the
 * robust-futex list, rseq, the APIC timer's timer_create).
 */
struct vcpus_start {
	struct vm *vm;
	int ret;
};

static void *start_all(void *arg)
{
	struct vcpus_start *s = arg;
	struct vm *vm = s->vm;

	pthread_setname_np(pthread_self(), "vcpu-starter");
	if (sandbox_enter(SANDBOX_VCPU, vm->opts->seccomp, vm->vm_fd, vm->first_vcpu_fd)) {
		s->ret = -1;
		return NULL;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		/* Counted first: a thread whose set-up fails leaves before the gate. */
		pthread_mutex_lock(&vm->threads_lock);
		vm->threads_running++;
		pthread_mutex_unlock(&vm->threads_lock);
		if (vcpu_start(&vm->vcpus[i])) {
			vm_thread_exited(vm);
			s->ret = -1;
			break;
		}
	}
	return NULL;
}

int vm_start_vcpus(struct vm *vm)
{
	struct vcpus_start s = { .vm = vm };
	pthread_t starter;
	int err = pthread_create(&starter, NULL, start_all, &s);

	if (err) {
		fprintf(stderr, "mpvm: cannot start the thread that starts the vCPU threads: %s\n", strerror(err));
		return -1;
	}
	pthread_join(starter, NULL);
	return s.ret;
}
