/*
 * system_reset (reset.h; README, "The control socket"): the power-on state
 * kept as a snapshot in memory, restored in place.
 *
 * Order of a reset, on the main thread, as a restore's (kvm/snapshot.c):
 *   1. every vCPU paused: out of KVM_RUN, its thread waiting for commands;
 *   2. RAM: every page dropped (zero again), the pages booting wrote back;
 *   3. each vCPU by its own thread (VCPU_CMD_RESET): special registers,
 *      registers, XCRs, XSAVE, debug registers, KVM's local APIC, MSRs
 *      (the TSC back to its power-on value, as a RESET clears it: SDM vol.
 *      3B §17.17), vCPU events, KVM's MP state last (the BSP RUNNABLE at
 *      its boot entry, each AP UNINITIALIZED: waiting for INIT);
 *   4. the interrupt controllers (KVM's PICs, IOAPIC and PIT, or mpvm's,
 *      and with --irqchip user each CPU's MP state, queued INIT/SIPI/NMIs
 *      and local APIC), then the device models (machine_load());
 *   5. the RESET event, the asker answered, then the vCPUs that were not
 *      paused before resumed (a stopped VM stays stopped).
 * KVM's clock is not put back: kvmclock and VM time go on (the guest's
 * kvmclock MSRs are cleared in step 3, so it registers its clock again).
 */
#include "kvm/reset.h"

#include <errno.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/clock.h"
#include "core/errmsg.h"
#include "core/snapshot_file.h"
#include "core/trace.h"
#include "kvm/control.h"
#include "kvm/machine.h"
#include "kvm/snapshot.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

struct reset {
	void *data;            /* the power-on state: a snapshot container (core/snapshot_file.h) */
	size_t len;
	struct snap_file f;    /* parsed once */
	char (*vcpu_err)[160]; /* per vCPU: why its VCPU_CMD_RESET failed */
	bool kept;             /* the power-on state is there; else why_not says why */
	char why_not[256];

	/* The request (vm.h's job for the main thread), its field under job.lock. */
	struct vm_job job;
	bool guest;            /* the guest's own reset (--reboot), not system_reset */
};

int reset_prepare(struct vm *vm)
{
	struct reset *r;

	/* Only the control socket and --reboot ask for a reset; without them nothing is kept. */
	if (!vm->opts->control_path && !vm->opts->reboot)
		return 0;
	/* Hot-added vCPUs have no power-on state here (they are made later): refused, see reset_request(). */
	if (vm->hotplug)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->vcpu_err = calloc(vm->ncpus, sizeof(*r->vcpu_err)))) {
		free(r);
		fprintf(stderr, "mpvm: out of memory for the power-on state\n");
		return -1;
	}
	vm_job_init(&r->job);
	vm->reset = r;
	/*
	 * A VM that cannot keep it still runs (a host whose KVM lists no MSRs):
	 * system_reset is then refused with the reason, --reboot ends the run.
	 */
	if (snapshot_capture(vm, &r->data, &r->len, r->why_not, sizeof(r->why_not)) ||
	    snap_file_parse(&r->f, r->data, r->len, "the power-on state", r->why_not, sizeof(r->why_not))) {
		if (vm->opts->reboot)
			fprintf(stderr, "mpvm: warning: --reboot: the power-on state cannot be kept (%s); a guest's "
				"reset will end the run\n", r->why_not);
		return 0;
	}
	r->kept = true;
	return 0;
}

void reset_destroy(struct vm *vm)
{
	struct reset *r = vm->reset;

	if (!r)
		return;
	snap_file_close(&r->f);
	free(r->data);
	free(r->vcpu_err);
	vm_job_destroy(&r->job);
	free(r);
	vm->reset = NULL;
}

/*
 * A return to user space for a port or MMIO access is finished inside the
 * next KVM_RUN (complete_userspace_io: an IN's or an MMIO read's value
 * written to its register by KVM's emulator, RIP moved past it). Finished
 * after the reset, it would write the old instruction's outcome over the
 * power-on registers. KVM_RUN with immediate_exit finishes it and returns
 * EINTR without entering the guest (KVM API, kvm_run.immediate_exit); an
 * access that needs another exit (string I/O going on) is dropped, as the
 * devices are reset too.
 */
static int finish_pending_io(struct vcpu *v, char *err, size_t errlen)
{
	for (int i = 0; i < 1024; i++) {
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (ioctl(v->fd, KVM_RUN, 0) < 0)
			return errno == EINTR ? 0 : errmsg(err, errlen, "KVM_RUN (finishing its last I/O): %s",
							   strerror(errno));
	}
	return errmsg(err, errlen, "KVM_RUN (finishing its last I/O): still exiting after 1024 tries");
}

int reset_vcpu(struct vcpu *v)
{
	struct reset *r = v->vm->reset;

	if (!r)
		return -1;
	r->vcpu_err[v->id][0] = '\0';
	if (finish_pending_io(v, r->vcpu_err[v->id], sizeof(r->vcpu_err[v->id])))
		return -1;
	if (snapshot_restore_vcpu(v, &r->f, r->vcpu_err[v->id], sizeof(r->vcpu_err[v->id])))
		return -1;
	atomic_store(&v->last_sipi, 0); /* no SIPI since power-on */
	return 0;
}

/*
 * Steps 1-4 above; *paused vCPUs were paused here, was_paused[] says which
 * were before. -1 with the reason in err; `broken` when the machine was
 * changed before it failed.
 */
static int do_reset(struct vm *vm, struct reset *r, bool *was_paused, unsigned int *npaused, bool *broken, char *err,
		    size_t errlen)
{
	unsigned int paused = 0;
	int ret = -1;

	for (; paused < vm->ncpus; paused++) {
		/* Paused before (stop, mpvm-vcpu-pause): it stays paused, as in QEMU a stopped VM stays stopped. */
		was_paused[paused] = atomic_load(&vm->vcpus[paused].state) == VCPU_STATE_PAUSED;
		if (vcpu_command(&vm->vcpus[paused], VCPU_CMD_PAUSE)) {
			errmsg(err, errlen, "vCPU %u has exited: the VM cannot be reset", paused);
			goto out;
		}
	}
	*broken = true;
	trace_instant(vm->trace, TRACE_NO_CPU, "system_reset", vm_now_ns(vm), NULL);
	if (snapshot_load_ram(vm, &r->f, err, errlen))
		goto out;
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (vcpu_command(v, VCPU_CMD_RESET) || v->save_ret) {
			errmsg(err, errlen, "vCPU %u: %s", i, r->vcpu_err[i][0] ? r->vcpu_err[i] : "it has exited");
			goto out;
		}
	}
	if (snapshot_load_chip(vm, &r->f, err, errlen) || machine_load(vm, &r->f, err, errlen))
		goto out;
	ret = 0;
	*broken = false;
out:
	*npaused = paused;
	return ret;
}

int reset_request(struct vm *vm, char *err, size_t errlen)
{
	struct reset *r = vm->reset;

	if (!r || !r->kept)
		return errmsg(err, errlen, vm->hotplug ?
			      "system_reset is not supported with CPU hotplug (maxcpus above the CPUs present) yet: "
			      "a hot-added vCPU has no power-on state to go back to" :
			      "this VM kept no power-on state: %s", r ? r->why_not : "no --control");
	if (vm_job_begin(&r->job, "a reset is already under way", err, errlen))
		return -1;
	r->guest = false;
	return vm_job_send(vm, &r->job, true, err, errlen); /* vm_run() calls reset_serve() */
}

int reset_guest(struct vm *vm)
{
	struct reset *r = vm->reset;
	char err[64];

	if (!vm->opts->reboot || !r || !r->kept) {
		vm_request_stop(vm, VM_STOP_GUEST_RESET, 0);
		return -1;
	}
	/*
	 * Asked from a vCPU thread, which the reset pauses: it does not wait
	 * for the outcome, but runs no more guest code until the reset's pause
	 * comes (on hardware the reset is at once). One already asked for does it.
	 */
	if (vm_job_begin(&r->job, "", err, sizeof(err)) == 0) {
		r->guest = true;
		vm_job_send(vm, &r->job, false, err, sizeof(err));
	}
	if (vcpu_current())
		vcpu_await_command(vcpu_current());
	return 0;
}

void reset_serve(struct vm *vm)
{
	struct reset *r = vm->reset;
	char err[sizeof(r->job.err)] = "";
	bool guest, broken = false, *was_paused;
	unsigned int paused = 0;
	uint64_t t0;
	int ret;

	if (!r || !vm_job_take(&r->job))
		return;
	guest = r->guest;
	pthread_mutex_unlock(&r->job.lock);

	t0 = monotonic_ns();
	was_paused = calloc(vm->ncpus, sizeof(bool));
	ret = !was_paused ? errmsg(err, sizeof(err), "out of memory") :
	      vm_stopping(vm) ? errmsg(err, sizeof(err), "the VM is stopping") :
	      do_reset(vm, r, was_paused, &paused, &broken, err, sizeof(err));
	if (ret && broken) {
		/* Half reset: no machine to go on with. */
		fprintf(stderr, "mpvm: %s: %s; stopping the VM\n", guest ? "--reboot" : "system_reset", err);
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
	} else if (!ret) {
		struct json_object *data = json_object_new_object();

		fprintf(stderr, "mpvm: %s: the VM is back in its power-on state (%.1f ms)\n",
			guest ? "the guest reset the machine (--reboot)" : "system_reset", (monotonic_ns() - t0) / 1e6);
		/* QEMU's shape and reasons. After system_reset's answer (the control thread drains it later). */
		json_object_object_add(data, "guest", json_object_new_boolean(guest));
		json_object_object_add(data, "reason",
				       json_object_new_string(guest ? "guest-reset" : "host-qmp-system-reset"));
		control_post_event(vm->control, "RESET", data);
	}
	/*
	 * Done before the vCPUs go on: a guest that resets again at once
	 * (--reboot) finds no reset under way and asks for its own.
	 */
	vm_job_done(&r->job, ret, err);
	for (unsigned int i = 0; i < paused && !broken; i++)
		if (!was_paused[i])
			vcpu_command(&vm->vcpus[i], VCPU_CMD_RESUME);
	free(was_paused);
}
