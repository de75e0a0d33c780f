/*
 * CPU hotplug (hotplug.h): the register block's owner, the vCPU threads'
 * ABSENT state, and the two control-socket commands. Events on the socket:
 * QEMU's ACPI_DEVICE_OST for each _OST the guest writes, and DEVICE_DELETED
 * once an ejected vCPU is parked; the MP_STATE_CHANGE events show the rest.
 */
#include <errno.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/errmsg.h"
#include "core/trace.h"
#include "devices/bus.h"
#include "devices/cpu_hotplug.h"
#include "kvm/control.h"
#include "kvm/hotplug.h"
#include "kvm/irqchip.h"
#include "kvm/machine.h"
#include "kvm/vm.h"

struct hotplug {
	struct cpu_hotplug regs;
	/* Per possible vCPU, under that vCPU's cmd_lock: the add handshake. */
	bool *want;      /* the control thread asks the absent thread to plug in */
	bool *answered;  /* ...and the thread has answered: */
	int *result;     /* 0, or -1: its KVM vCPU could not be made (said on stderr) */
	bool *ejected;   /* ejected by the guest, DEVICE_DELETED not yet sent */
	bool *made;      /* the vCPU thread's own: its KVM vCPU is made and confined */
	bool *broken;    /* ...or making it failed */
};

static void device_id(unsigned int cpu, char *id, size_t idlen, char *path, size_t pathlen)
{
	snprintf(id, idlen, "cpu%u", cpu);
	snprintf(path, pathlen, "/machine/unattached/device[%u]", cpu); /* as query-cpus-fast */
}

/* An insert or remove event waits: GPE 2, the DSDT's \_GPE._E02. */
static void regs_notify(void *opaque)
{
	machine_gpe_raise(opaque, ACPI_GPE_CPU_HOTPLUG);
}

/*
 * The guest ejected `cpu` (_EJ0), on the thread of the vCPU that wrote the
 * register: the ejected vCPU's thread leaves KVM_RUN (or its sleep) and
 * parks in ABSENT, which reports it.
 */
static void regs_ejected(void *opaque, unsigned int cpu)
{
	struct vm *vm = opaque;
	struct vcpu *v = &vm->vcpus[cpu];

	pthread_mutex_lock(&v->cmd_lock);
	vm->hotplug->ejected[cpu] = true;
	atomic_store(&v->present, false);
	pthread_mutex_unlock(&v->cmd_lock);
	if (vm->irqchip->vcpu_present)
		vm->irqchip->vcpu_present(v, false);
	trace_instant(vm->trace, (int)cpu, "ejected (_EJ0)", vm_now_ns(vm), NULL);
	vcpu_kick(v);
}

/* QEMU's ACPI_DEVICE_OST: {"info": {"device", "slot", "slot-type", "source", "status"}}. */
static void regs_ost(void *opaque, unsigned int cpu, uint32_t event, uint32_t status)
{
	struct vm *vm = opaque;
	struct json_object *info = json_object_new_object(), *d = json_object_new_object();
	char id[16], path[64], slot[16];

	device_id(cpu, id, sizeof(id), path, sizeof(path));
	snprintf(slot, sizeof(slot), "%u", cpu);
	json_object_object_add(info, "device", json_object_new_string(id));
	json_object_object_add(info, "slot", json_object_new_string(slot));
	json_object_object_add(info, "slot-type", json_object_new_string("CPU"));
	json_object_object_add(info, "source", json_object_new_int64(event));
	json_object_object_add(info, "status", json_object_new_int64(status));
	json_object_object_add(d, "info", info);
	control_post_event(vm->control, "ACPI_DEVICE_OST", d);
}

static const struct cpu_hotplug_ops regs_ops = {
	.notify = regs_notify, .ejected = regs_ejected, .ost = regs_ost,
};

int hotplug_create(struct vm *vm)
{
	struct hotplug *h = calloc(1, sizeof(*h));
	uint32_t *ids = calloc(vm->ncpus, sizeof(*ids));
	struct bus_range r = { .base = ACPI_CPU_HOTPLUG_BASE, .len = ACPI_CPU_HOTPLUG_LEN,
			       .name = "ACPI CPU hotplug", .pio = cpu_hotplug_pio };

	if (h) {
		h->want = calloc(vm->ncpus, sizeof(*h->want));
		h->answered = calloc(vm->ncpus, sizeof(*h->answered));
		h->result = calloc(vm->ncpus, sizeof(*h->result));
		h->ejected = calloc(vm->ncpus, sizeof(*h->ejected));
		h->made = calloc(vm->ncpus, sizeof(*h->made));
		h->broken = calloc(vm->ncpus, sizeof(*h->broken));
	}
	vm->hotplug = h;
	if (!h || !ids || !h->want || !h->answered || !h->result || !h->ejected || !h->made || !h->broken) {
		free(ids);
		fprintf(stderr, "mpvm: out of memory for CPU hotplug\n");
		return -1;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++)
		ids[i] = vm->vcpus[i].apic_id;
	if (cpu_hotplug_init(&h->regs, vm->ncpus, vm->opts->cpus, ids, vm->opts->boot_cpu, &regs_ops, vm)) {
		free(ids);
		fprintf(stderr, "mpvm: out of memory for CPU hotplug\n");
		return -1;
	}
	free(ids);
	r.opaque = &h->regs;
	if (bus_register(&vm->pio, &r)) {
		fprintf(stderr, "mpvm: ACPI CPU hotplug: I/O ports 0x%x-0x%x are taken by another device\n",
			ACPI_CPU_HOTPLUG_BASE, ACPI_CPU_HOTPLUG_BASE + ACPI_CPU_HOTPLUG_LEN - 1);
		return -1;
	}
	return 0;
}

void hotplug_destroy(struct vm *vm)
{
	struct hotplug *h = vm->hotplug;

	if (!h)
		return;
	cpu_hotplug_destroy(&h->regs);
	free(h->want);
	free(h->answered);
	free(h->result);
	free(h->ejected);
	free(h->made);
	free(h->broken);
	free(h);
	vm->hotplug = NULL;
}

static int no_hotplug(const struct vm *vm, char *err, size_t errlen)
{
	return errmsg(err, errlen, "this VM has no CPU hotplug: start it with --cpus %u,maxcpus=M "
		      "(M above %u)", vm->opts->cpus, vm->opts->cpus);
}

int hotplug_cpu_add(struct vm *vm, unsigned int cpu, char *err, size_t errlen)
{
	struct hotplug *h = vm->hotplug;
	struct vcpu *v = &vm->vcpus[cpu];
	int r;

	if (!h)
		return no_hotplug(vm, err, errlen);
	pthread_mutex_lock(&v->cmd_lock);
	if (atomic_load(&v->present)) {
		pthread_mutex_unlock(&v->cmd_lock);
		return errmsg(err, errlen, "vCPU %u is already present", cpu);
	}
	if (atomic_load(&v->state) == VCPU_STATE_PAUSED) {
		pthread_mutex_unlock(&v->cmd_lock);
		return errmsg(err, errlen, "vCPU %u is paused (cont or mpvm-vcpu-resume first)", cpu);
	}
	if (h->ejected[cpu] || (atomic_load(&v->state) != VCPU_STATE_ABSENT &&
				atomic_load(&v->state) != VCPU_STATE_START_GATE)) {
		/* ejected, but its thread has not parked yet: a moment */
		pthread_mutex_unlock(&v->cmd_lock);
		return errmsg(err, errlen, "vCPU %u is still being ejected (wait for DEVICE_DELETED)", cpu);
	}
	h->want[cpu] = true;
	h->answered[cpu] = false;
	pthread_cond_broadcast(&v->cmd_cond);
	while (!h->answered[cpu] && atomic_load(&v->state) != VCPU_STATE_EXITED)
		pthread_cond_wait(&v->cmd_cond, &v->cmd_lock);
	r = h->answered[cpu] ? h->result[cpu] : -1;
	h->want[cpu] = false;
	pthread_mutex_unlock(&v->cmd_lock);
	if (r)
		return errmsg(err, errlen, "vCPU %u could not be created (mpvm's stderr says why); it stays absent", cpu);
	return cpu_hotplug_add(&h->regs, cpu, err, errlen);
}

int hotplug_cpu_del(struct vm *vm, unsigned int cpu, char *err, size_t errlen)
{
	struct hotplug *h = vm->hotplug;

	if (!h) {
		if (cpu == vm->opts->boot_cpu)
			return errmsg(err, errlen, "vCPU %u is the boot CPU (BSP) and cannot be removed", cpu);
		return no_hotplug(vm, err, errlen);
	}
	if (cpu_hotplug_request_remove(&h->regs, cpu, err, errlen)) {
		/* The register block says CPU; the socket's words are vCPUs. */
		if (!strncmp(err, "CPU ", 4) && errlen > 1) {
			memmove(err + 1, err, strnlen(err, errlen - 2) + 1);
			err[0] = 'v';
		}
		return -1;
	}
	return 0;
}

/*
 * KVM_CREATE_VCPU resets the new vCPU's local APIC before the vCPU counts
 * as online, so KVM's APIC-ID map, rebuilt at that reset, leaves it out:
 * an interrupt or INIT to its APIC ID then reaches nobody. Writing its
 * local APIC state back (KVM_SET_LAPIC, as QEMU does for every vCPU it
 * creates) rebuilds the map with it. With --irqchip user there is no
 * local APIC in KVM, and no map.
 */
static int kvm_lapic_into_map(struct vcpu *v)
{
	struct kvm_lapic_state s;

	if (v->vm->opts->irqchip == IRQCHIP_USER)
		return 0;
	if (ioctl(v->fd, KVM_GET_LAPIC, &s) == 0 && ioctl(v->fd, KVM_SET_LAPIC, &s) == 0)
		return 0;
	fprintf(stderr, "mpvm: vCPU %u: KVM_GET_LAPIC/KVM_SET_LAPIC: %s\n", v->id, strerror(errno));
	return -1;
}

/* Just parked after an eject: say so (DEVICE_DELETED), once. */
static void report_parked(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct json_object *d;
	char id[16], path[64];
	bool ejected;

	pthread_mutex_lock(&v->cmd_lock);
	ejected = vm->hotplug->ejected[v->id];
	vm->hotplug->ejected[v->id] = false;
	pthread_mutex_unlock(&v->cmd_lock);
	if (!ejected)
		return;
	trace_instant(vm->trace, (int)v->id, "parked (absent)", vm_now_ns(vm), NULL);
	device_id(v->id, id, sizeof(id), path, sizeof(path));
	d = json_object_new_object();
	json_object_object_add(d, "device", json_object_new_string(id));
	json_object_object_add(d, "path", json_object_new_string(path));
	control_post_event(vm->control, "DEVICE_DELETED", d);
}

enum vcpu_thread_state hotplug_state_absent(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct hotplug *h = vm->hotplug;
	enum vcpu_thread_state next;
	int r = 0;

	if (!h)
		return VCPU_STATE_EXITED; /* cannot be: only hotplug makes vCPUs absent */
	report_parked(v);
	pthread_mutex_lock(&v->cmd_lock);
	for (;;) {
		if (vm_stopping(vm) || v->cmd == VCPU_CMD_STOP) {
			pthread_mutex_unlock(&v->cmd_lock);
			return VCPU_STATE_EXITED;
		}
		if (v->cmd == VCPU_CMD_PAUSE) {
			pthread_mutex_unlock(&v->cmd_lock);
			return VCPU_STATE_PAUSED; /* answered there; a resume comes back here */
		}
		if (v->cmd != VCPU_CMD_NONE) { /* a resume: not paused, nothing to do */
			v->cmd = VCPU_CMD_NONE;
			v->cmd_done = v->cmd_sent;
			atomic_store(&v->cmd_waiting, false);
			pthread_cond_broadcast(&v->cmd_cond);
		}
		if (h->want[v->id] && !h->answered[v->id])
			break;
		pthread_cond_wait(&v->cmd_cond, &v->cmd_lock);
	}
	pthread_mutex_unlock(&v->cmd_lock);

	/* First time in: the KVM vCPU, and this thread's filter, as at start.
	 * A vCPU whose making failed half-way stays absent for good: its
	 * half-made KVM vCPU is not run, nor made again. */
	if (h->broken[v->id]) {
		r = -1;
	} else if (!h->made[v->id]) {
		r = vcpu_create_kvm(v) || kvm_lapic_into_map(v);
		h->broken[v->id] = r != 0;
		h->made[v->id] = r == 0;
		if (!r && vcpu_confine(v))
			return VCPU_STATE_EXITED; /* the VM stops (vcpu_confine() said why) */
	}
	if (!r && vm->irqchip->vcpu_present)
		vm->irqchip->vcpu_present(v, true);
	pthread_mutex_lock(&v->cmd_lock);
	h->result[v->id] = r;
	h->answered[v->id] = true;
	if (!r)
		atomic_store(&v->present, true);
	pthread_cond_broadcast(&v->cmd_cond);
	pthread_mutex_unlock(&v->cmd_lock);
	next = r ? VCPU_STATE_ABSENT : VCPU_STATE_WAIT_RUNNABLE;
	if (!r)
		trace_instant(vm->trace, (int)v->id, "added", vm_now_ns(vm), NULL);
	return next;
}
