/*
 * Snapshot and restore (snapshot.h; README, "Snapshots").
 *
 * Sections, all in core/snapshot_file.h's container:
 *   OPTS#0   the options that shape the machine, as typed (NUL-separated
 *            arguments): a restore rebuilds the same machine from them
 *   MACH#0   struct snap_machine: vCPU count, RAM size, irqchip mode,
 *            the TSC frequency, the size of an XSAVE area
 *   RAM #0   guest RAM, sparse (pages of zeros are not written)
 *   VCPU#i   struct snap_vcpu: MP state, registers, special registers,
 *            XCRs, debug registers, KVM's local APIC page, vCPU events
 *   XSAV#i   KVM's XSAVE area of vCPU i (FPU, SSE, AVX ... state)
 *   MSRS#i   the MSRs KVM lists as saveable that it read back, as
 *            struct kvm_msr_entry
 *   CHIP#0   the interrupt controllers outside the vCPUs (irqchip's save hook)
 *   KCLK#0   KVM's clock (struct kvm_clock_data)
 *   COM1, RTC , ACPI, KBC , PORT, FWCF, TDEV: the device models (machine.c)
 * KVM's structures are stored as <linux/kvm.h> lays them out (its ABI is
 * stable; x86-64 only).
 *
 * Order of taking, per vCPU (snapshot_vcpu_save(), on its own thread,
 * paused so no KVM_RUN changes anything meanwhile):
 *   1. KVM_GET_MP_STATE first: it makes KVM take a pending INIT or SIPI
 *      (kvm_apic_accept_events()), which changes the registers; read
 *      afterwards, the registers agree with the MP state.
 *   2. registers, special registers, XSAVE, XCRs, debug registers, MSRs
 *      (the TSC among them), the local APIC: what those events left.
 *   3. KVM_GET_VCPU_EVENTS last: pending exceptions, NMIs, interrupt
 *      shadow, latched INIT and SIPI vector, as of the end of all that.
 * then VM-wide, on the main thread: the PICs, IOAPIC and PIT, KVM's clock,
 * the devices, RAM.
 *
 * Order of restoring, per vCPU (restore_vcpu(); CPUID went in at
 * KVM_CREATE_VCPU, before anything):
 *   1. special registers: CR0/CR4/EFER, and IA32_APIC_BASE (x2APIC mode),
 *      which decides how KVM reads the local APIC page's ID register;
 *   2. general registers, XCRs then XSAVE (XCR0 says which XSAVE
 *      components are live), debug registers;
 *   3. the local APIC, after the special registers (above);
 *   4. the MSRs, after the local APIC: KVM drops a TSC-deadline write
 *      unless the timer is in TSC-deadline mode (kvm_set_lapic_tscdeadline_msr());
 *      the TSC first and IA32_TSC_DEADLINE last among them, as the
 *      deadline is a TSC value;
 *   5. the vCPU events, after the registers they refer to (the exception
 *      to re-inject, the latched INIT, the SIPI vector);
 *   6. the MP state last: KVM_SET_SREGS makes a BSP at the reset vector
 *      RUNNABLE, and KVM_SET_VCPU_EVENTS latches or drops INIT, either of
 *      which would undo an MP state set before them; set last, INIT_RECEIVED
 *      stays a vCPU that waits for its SIPI.
 * then VM-wide: the interrupt controllers, KVM's clock (after every TSC),
 * the devices. RAM goes first, before any of it.
 */
#include "kvm/snapshot.h"
#include "kvm/snapshot_internal.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "core/clock.h"
#include "core/errmsg.h"
#include "core/snapshot_file.h"
#include "core/topology.h"
#include "kvm/irqchip.h"
#include "kvm/machine.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

/* One vCPU's state while a snapshot is taken: filled by its own thread. */
struct snap_vcpu_buf {
	struct snap_vcpu s;
	void *xsave;
	struct kvm_msrs *msrs;  /* nmsrs: how many it read */
	char err[160];
};

struct snapshot {
	/* From /dev/kvm before the filters (snapshot_prepare()). */
	uint32_t *msr_list;     /* KVM_GET_MSR_INDEX_LIST, in restore order */
	uint32_t nmsrs;
	uint32_t xsave_size;    /* KVM_CAP_XSAVE2's size, or sizeof(struct kvm_xsave); 0: no XSAVE */
	bool xcrs, debugregs;

	/* The request (vm.h's job for the main thread), its fields under job.lock. */
	struct vm_job job;
	bool quit;
	char path[4096];

	struct snap_vcpu_buf *bufs;  /* the main thread's, while taking */
};

/* ---- what /dev/kvm says, before the filters ----------------------------------------------- */

/* TSC first, TSC deadline last (see the restore order above); the rest as KVM lists them. */
static void order_msrs(uint32_t *l, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (l[i] == MSR_IA32_TSC && i) {
			memmove(l + 1, l, i * sizeof(*l));
			l[0] = MSR_IA32_TSC;
		}
	}
	for (uint32_t i = 0; i + 1 < n; i++) {
		if (l[i] == MSR_IA32_TSC_DEADLINE) {
			memmove(l + i, l + i + 1, (n - 1 - i) * sizeof(*l));
			l[n - 1] = MSR_IA32_TSC_DEADLINE;
			break;
		}
	}
}

static int read_msr_list(struct vm *vm, struct snapshot *s)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;

	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) == 0 || errno != E2BIG) {
		fprintf(stderr, "mpvm: KVM_GET_MSR_INDEX_LIST: %s\n", strerror(errno));
		return -1;
	}
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
	if (!l) {
		fprintf(stderr, "mpvm: out of memory\n");
		return -1;
	}
	l->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		fprintf(stderr, "mpvm: KVM_GET_MSR_INDEX_LIST: %s\n", strerror(errno));
		free(l);
		return -1;
	}
	s->msr_list = malloc(l->nmsrs * sizeof(uint32_t) + 1);
	if (!s->msr_list) {
		fprintf(stderr, "mpvm: out of memory\n");
		free(l);
		return -1;
	}
	memcpy(s->msr_list, l->indices, l->nmsrs * sizeof(uint32_t));
	s->nmsrs = l->nmsrs;
	free(l);
	order_msrs(s->msr_list, s->nmsrs);
	return 0;
}

int snapshot_prepare(struct vm *vm)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	int x;

	if (!s) {
		fprintf(stderr, "mpvm: out of memory\n");
		return -1;
	}
	vm->snapshot = s;
	vm_job_init(&s->job);
	/* Without the list a VM still runs (a restore needs it, and a snapshot refuses without it). */
	if (read_msr_list(vm, s) && vm->opts->restore_path)
		return -1;
	x = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (x > 0)
		s->xsave_size = (uint32_t)x;
	else if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0)
		s->xsave_size = sizeof(struct kvm_xsave);
	s->xcrs = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	s->debugregs = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0;
	return 0;
}

void snapshot_destroy(struct vm *vm)
{
	struct snapshot *s = vm->snapshot;

	if (!s)
		return;
	free(s->msr_list);
	vm_job_destroy(&s->job);
	free(s);
	vm->snapshot = NULL;
}

/* ---- taking: the vCPU thread -------------------------------------------------------------- */

static int vfail(struct snap_vcpu_buf *b, const char *what)
{
	snprintf(b->err, sizeof(b->err), "%s: %s", what, strerror(errno));
	return -1;
}

int snapshot_vcpu_save(struct vcpu *v)
{
	struct snapshot *s = v->vm->snapshot;
	struct snap_vcpu_buf *b;
	struct kvm_mp_state mp;
	uint32_t done = 0;

	if (!s || !s->bufs)
		return -1; /* VCPU_CMD_SAVE outside a snapshot: nothing to fill */
	b = &s->bufs[v->id];

	memset(&b->s, 0, sizeof(b->s));
	b->s.apic_id = v->apic_id;
	/* 1. The MP state first: KVM takes pending INIT/SIPI here, which changes registers. */
	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0)
		return vfail(b, "KVM_GET_MP_STATE");
	/* With --irqchip user KVM's is always RUNNABLE: the MP state is mpvm's (the same numbers). */
	b->s.mp_state = v->vm->opts->irqchip == IRQCHIP_USER ? (uint32_t)v->vm->irqchip->mp_state(v) : mp.mp_state;
	/* 2. What that left. */
	if (ioctl(v->fd, KVM_GET_REGS, &b->s.regs) < 0)
		return vfail(b, "KVM_GET_REGS");
	if (ioctl(v->fd, KVM_GET_SREGS, &b->s.sregs) < 0)
		return vfail(b, "KVM_GET_SREGS");
	if (s->xsave_size > sizeof(struct kvm_xsave) ? ioctl(v->fd, KVM_GET_XSAVE2, b->xsave) < 0 :
	    s->xsave_size ? ioctl(v->fd, KVM_GET_XSAVE, b->xsave) < 0 : 0)
		return vfail(b, "KVM_GET_XSAVE");
	if (s->xcrs) {
		if (ioctl(v->fd, KVM_GET_XCRS, &b->s.xcrs) < 0)
			return vfail(b, "KVM_GET_XCRS");
		b->s.flags |= SNAP_VCPU_XCRS;
	}
	if (s->debugregs) {
		if (ioctl(v->fd, KVM_GET_DEBUGREGS, &b->s.dregs) < 0)
			return vfail(b, "KVM_GET_DEBUGREGS");
		b->s.flags |= SNAP_VCPU_DREGS;
	}
	/*
	 * The MSRs KVM lists; it reads them in order and stops at the first it
	 * cannot read (one this CPU or this irqchip mode lacks): that one is
	 * left out and the rest read on.
	 */
	b->msrs->nmsrs = 0;
	while (done < s->nmsrs) {
		struct kvm_msrs *m = b->msrs;
		uint32_t n = s->nmsrs - done, base = m->nmsrs;
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e[64];
		} batch;
		int r;

		n = n > 64 ? 64 : n;
		memset(&batch, 0, sizeof(batch));
		batch.hdr.nmsrs = n;
		for (uint32_t i = 0; i < n; i++)
			batch.e[i].index = s->msr_list[done + i];
		r = ioctl(v->fd, KVM_GET_MSRS, &batch);
		if (r < 0)
			return vfail(b, "KVM_GET_MSRS");
		memcpy(&m->entries[base], batch.e, (size_t)r * sizeof(batch.e[0]));
		m->nmsrs = base + (uint32_t)r;
		done += (uint32_t)r + ((uint32_t)r < n); /* skip the one it could not read */
	}
	if (v->vm->opts->irqchip != IRQCHIP_USER) {
		if (ioctl(v->fd, KVM_GET_LAPIC, &b->s.lapic) < 0)
			return vfail(b, "KVM_GET_LAPIC");
		b->s.flags |= SNAP_VCPU_LAPIC;
	}
	/* 3. The events last. */
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &b->s.events) < 0)
		return vfail(b, "KVM_GET_VCPU_EVENTS");
	return 0;
}

/* ---- taking: the main thread -------------------------------------------------------------- */

/* The arguments that shape the machine, as typed (cli/main.c keeps them). */
static int write_opts(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	const struct mpvm_options *o = vm->opts;

	if (snap_writer_begin(w, T_OPTS, 0, err, errlen))
		return -1;
	for (int i = 0; i < o->shape_argc; i++)
		if (snap_writer_append(w, o->shape_argv[i], strlen(o->shape_argv[i]) + 1, err, errlen))
			return -1;
	return snap_writer_end(w, err, errlen);
}

/* Every section, into an open writer (a file, or memory for system_reset's power-on state). */
static int write_state(struct vm *vm, struct snapshot *s, struct snap_writer *wp, char *err, size_t errlen)
{
	struct snap_machine mach = {
		.ncpus = vm->ncpus, .irqchip = (uint32_t)vm->opts->irqchip, .memory = vm->mem_size,
		.tsc_khz = vm->tsc_khz, .xsave_size = s->xsave_size, .max_msrs = s->nmsrs,
		.vm_ns = vm_now_ns(vm),
	};
	struct kvm_clock_data clk = { 0 };
	struct snap_writer w = *wp;
	size_t chiplen = 16384 + (size_t)vm->ncpus * 1024;
	uint8_t *chip = malloc(chiplen);

	if (!chip)
		return errmsg(err, errlen, "out of memory");
	if (vm->irqchip->save(vm, chip, &chiplen)) {
		free(chip);
		if (errno == ENOSYS)
			return errmsg(err, errlen, "--irqchip %s: its interrupt controllers cannot be saved yet",
				      irqchip_mode_name(vm->opts->irqchip));
		return errmsg(err, errlen, "saving the interrupt controllers: %s", strerror(errno));
	}
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clk) < 0) {
		free(chip);
		return errmsg(err, errlen, "KVM_GET_CLOCK: %s", strerror(errno));
	}
	if (write_opts(vm, &w, err, errlen) ||
	    snap_writer_section(&w, T_MACH, 0, &mach, sizeof(mach), err, errlen))
		goto fail;
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct snap_vcpu_buf *b = &s->bufs[i];

		if (snap_writer_section(&w, T_VCPU, i, &b->s, sizeof(b->s), err, errlen) ||
		    (s->xsave_size && snap_writer_section(&w, T_XSAV, i, b->xsave, s->xsave_size, err, errlen)) ||
		    snap_writer_section(&w, T_MSRS, i, b->msrs->entries,
					b->msrs->nmsrs * sizeof(struct kvm_msr_entry), err, errlen))
			goto fail;
	}
	if (snap_writer_section(&w, T_CHIP, 0, chip, chiplen, err, errlen) ||
	    snap_writer_section(&w, T_KCLK, 0, &clk, sizeof(clk), err, errlen) ||
	    machine_save(vm, &w, err, errlen))
		goto fail;
	/* RAM last: the biggest, and nothing after it depends on it. */
	if (snap_writer_ram(&w, T_RAM, 0, vm->mem, vm->mem_size, err, errlen))
		goto fail;
	free(chip);
	*wp = w;
	return 0;
fail:
	free(chip);
	*wp = w;
	return -1;
}

static int write_file(struct vm *vm, struct snapshot *s, const char *path, char *err, size_t errlen)
{
	struct snap_writer w;

	if (snap_writer_open(&w, path, err, errlen))
		return -1;
	if (write_state(vm, s, &w, err, errlen)) {
		snap_writer_discard(&w);
		return -1;
	}
	return snap_writer_commit(&w, err, errlen);
}

static void free_bufs(struct vm *vm, struct snapshot *s)
{
	if (!s->bufs)
		return;
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		free(s->bufs[i].xsave);
		free(s->bufs[i].msrs);
	}
	free(s->bufs);
	s->bufs = NULL;
}

/* Room for every vCPU's state; -1 (freed again) with the reason in err. */
static int alloc_bufs(struct vm *vm, struct snapshot *s, char *err, size_t errlen)
{
	if (!s->msr_list)
		return errmsg(err, errlen, "this host's KVM did not list its MSRs (KVM_GET_MSR_INDEX_LIST): "
			      "the vCPUs cannot be saved whole");
	/* An absent vCPU (CPU hotplug) has no KVM vCPU to read, and a restore could not make it later. */
	for (unsigned int i = 0; i < vm->ncpus; i++)
		if (!atomic_load(&vm->vcpus[i].present))
			return errmsg(err, errlen, "vCPU %u is absent (--cpus maxcpus=%u): a VM with CPUs "
				      "that are not plugged in cannot be saved yet", i, vm->ncpus);
	s->bufs = calloc(vm->ncpus, sizeof(*s->bufs));
	if (!s->bufs)
		return errmsg(err, errlen, "out of memory");
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		s->bufs[i].xsave = s->xsave_size ? calloc(1, s->xsave_size) : NULL;
		s->bufs[i].msrs = calloc(1, sizeof(struct kvm_msrs) + s->nmsrs * sizeof(struct kvm_msr_entry));
		if ((s->xsave_size && !s->bufs[i].xsave) || !s->bufs[i].msrs) {
			free_bufs(vm, s);
			return errmsg(err, errlen, "out of memory");
		}
	}
	return 0;
}

/* Every vCPU out of KVM_RUN, each one's state read by its own thread, the file written. */
static int take(struct vm *vm, struct snapshot *s, const char *path, char *err, size_t errlen)
{
	bool *was_paused = calloc(vm->ncpus, sizeof(bool));
	unsigned int paused = 0;
	int ret = -1;

	if (!was_paused) {
		errmsg(err, errlen, "out of memory");
		goto out;
	}
	if (alloc_bufs(vm, s, err, errlen))
		goto out;
	for (; paused < vm->ncpus; paused++) {
		struct vcpu *v = &vm->vcpus[paused];

		was_paused[paused] = atomic_load(&v->state) == VCPU_STATE_PAUSED;
		if (vcpu_command(v, VCPU_CMD_PAUSE)) {
			errmsg(err, errlen, "vCPU %u has exited: the VM cannot be saved", paused);
			goto out;
		}
	}
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		if (vcpu_command(&vm->vcpus[i], VCPU_CMD_SAVE) || vm->vcpus[i].save_ret) {
			errmsg(err, errlen, "vCPU %u: %s", i, s->bufs[i].err[0] ? s->bufs[i].err : "it has exited");
			goto out;
		}
	}
	ret = write_file(vm, s, path, err, errlen);
out:
	for (unsigned int i = 0; i < paused; i++)
		if (!was_paused[i])
			vcpu_command(&vm->vcpus[i], VCPU_CMD_RESUME);
	free_bufs(vm, s);
	free(was_paused);
	return ret;
}

int snapshot_capture(struct vm *vm, void **data, size_t *len, char *err, size_t errlen)
{
	struct snapshot *s = vm->snapshot;
	struct snap_writer w;
	int ret = -1;

	if (alloc_bufs(vm, s, err, errlen))
		return -1;
	/* No vCPU thread exists yet: this thread reads each vCPU, in snapshot_vcpu_save()'s order. */
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		if (snapshot_vcpu_save(&vm->vcpus[i])) {
			errmsg(err, errlen, "vCPU %u: %s", i, s->bufs[i].err);
			goto out;
		}
	}
	if (snap_writer_open_memory(&w, "the power-on state", err, errlen))
		goto out;
	if (write_state(vm, s, &w, err, errlen)) {
		snap_writer_discard(&w);
		goto out;
	}
	ret = snap_writer_finish_memory(&w, data, len, err, errlen);
out:
	free_bufs(vm, s);
	return ret;
}

int snapshot_request(struct vm *vm, const char *path, bool quit, bool wait, char *err, size_t errlen)
{
	struct snapshot *s = vm->snapshot;

	if (strlen(path) >= sizeof(s->path))
		return errmsg(err, errlen, "%s: path too long", path);
	if (vm_job_begin(&s->job, "a snapshot is already being taken", err, errlen))
		return -1;
	strcpy(s->path, path);
	s->quit = quit;
	return vm_job_send(vm, &s->job, wait, err, errlen); /* vm_run() calls snapshot_serve() */
}

void snapshot_serve(struct vm *vm)
{
	struct snapshot *s = vm->snapshot;
	char path[sizeof(s->path)], err[sizeof(s->job.err)] = "";
	uint64_t t0;
	bool quit;
	int ret;

	if (!s || !vm_job_take(&s->job))
		return;
	memcpy(path, s->path, sizeof(path));
	quit = s->quit;
	pthread_mutex_unlock(&s->job.lock);

	t0 = monotonic_ns();
	ret = vm_stopping(vm) ? errmsg(err, sizeof(err), "the VM is stopping") : take(vm, s, path, err, sizeof(err));
	if (ret)
		fprintf(stderr, "mpvm: snapshot %s: %s\n", path, err);
	else
		fprintf(stderr, "mpvm: snapshot written to %s (%.1f ms)%s\n", path, (monotonic_ns() - t0) / 1e6,
			quit ? "; stopping the VM" : "");
	if (quit)
		vm_request_stop(vm, ret ? VM_STOP_HOST_ERROR : VM_STOP_SNAPSHOT, ret ? MPVM_EXIT_HOST_ERROR : 0);
	vm_job_done(&s->job, ret, err);
}

/* ---- restoring ---------------------------------------------------------------------------- */

static const char *const kvm_mp_names[] = { "RUNNABLE", "UNINITIALIZED", "INIT_RECEIVED", "HALTED",
					    "SIPI_RECEIVED" };

/*
 * The checks that need nothing of KVM, only the options: what no VM could
 * have been in. `mode`: the irqchip mode the section is in (the file's, or
 * the restoring one's once converted).
 */
static int check_vcpu(const struct mpvm_options *o, enum irqchip_mode mode, unsigned int i,
		      const struct snap_vcpu *sv, char *err, size_t errlen)
{
	uint32_t apic_id = topology_apic_id(&o->topology, i);

	if (sv->mp_state > KVM_MP_STATE_SIPI_RECEIVED)
		return errmsg(err, errlen, "vCPU %u: MP state %u, which x86 KVM does not have", i, sv->mp_state);
	if (i == o->boot_cpu &&
	    (sv->mp_state == KVM_MP_STATE_INIT_RECEIVED || sv->mp_state == KVM_MP_STATE_SIPI_RECEIVED))
		return errmsg(err, errlen, "vCPU %u is the BSP and in %s: only an AP waits for a SIPI", i,
			      kvm_mp_names[sv->mp_state]);
	if (sv->apic_id != apic_id)
		return errmsg(err, errlen, "vCPU %u: APIC ID %u in the snapshot, %u in this machine's tables", i,
			      sv->apic_id, apic_id);
	if (!(sv->flags & SNAP_VCPU_LAPIC) != (mode == IRQCHIP_USER))
		return errmsg(err, errlen, "vCPU %u: its local APIC is %s, but --irqchip %s", i,
			      sv->flags & SNAP_VCPU_LAPIC ? "KVM's" : "mpvm's", irqchip_mode_name(mode));
	return 0;
}

/* The machine and every vCPU against the options (snapshot_check() and restore()). */
static int check_file(const struct snap_file *f, const struct mpvm_options *o, struct snap_machine *mach,
		      char *err, size_t errlen)
{
	if (snap_file_get(f, T_MACH, 0, mach, sizeof(*mach), err, errlen))
		return -1;
	/* Another irqchip mode than the snapshot's is converted to (snapshot_xmode.c). */
	if (mach->ncpus != o->cpus || mach->memory != o->memory || mach->irqchip > IRQCHIP_USER)
		return errmsg(err, errlen, "the snapshot's machine (%u vCPUs, %llu MiB, --irqchip %s) is not the one "
			      "its options made", mach->ncpus, (unsigned long long)(mach->memory >> 20),
			      mach->irqchip <= IRQCHIP_USER ? irqchip_mode_name((enum irqchip_mode)mach->irqchip) : "?");
	for (unsigned int i = 0; i < o->cpus; i++) {
		struct snap_vcpu sv;

		if (snap_file_get(f, T_VCPU, i, &sv, sizeof(sv), err, errlen) ||
		    check_vcpu(o, (enum irqchip_mode)mach->irqchip, i, &sv, err, errlen))
			return -1;
	}
	if (!snap_file_find(f, T_RAM, 0) || !snap_file_find(f, T_CHIP, 0))
		return errmsg(err, errlen, "section %s: missing", snap_file_find(f, T_RAM, 0) ? "CHIP" : "RAM");
	return 0;
}

int snapshot_check(const char *path, const struct mpvm_options *o, char *err, size_t errlen)
{
	struct snap_machine mach;
	struct snap_file f;
	int ret;

	if (snap_file_open(&f, path, err, errlen))
		return -1;
	ret = check_file(&f, o, &mach, err, errlen);
	snap_file_close(&f);
	return ret;
}

static int kfail(char *err, size_t errlen, unsigned int i, const char *what)
{
	return errmsg(err, errlen, "vCPU %u: %s: %s", i, what, strerror(errno));
}

/* The documented order (top of this file). xm: the sections converted from another irqchip mode, or NULL. */
static int restore_vcpu(struct vm *vm, struct snapshot *s, const struct snap_file *f, const struct snap_xmode *xm,
			unsigned int i, char *err, size_t errlen)
{
	struct vcpu *v = &vm->vcpus[i];
	const struct snap_section *xs = snap_file_find(f, T_XSAV, i), *ms = snap_file_find(f, T_MSRS, i);
	struct snap_section xms;
	struct snap_vcpu sv;
	struct kvm_mp_state mp;
	struct kvm_msrs *msrs;
	uint32_t n;
	int r;

	if (xm) {
		sv = xm->vcpu[i];
		xms = (struct snap_section){ .tag = T_MSRS, .index = i, .data = (const uint8_t *)xm->msrs[i],
					     .len = xm->nmsrs[i] * sizeof(struct kvm_msr_entry) };
		ms = &xms;
	} else if (snap_file_get(f, T_VCPU, i, &sv, sizeof(sv), err, errlen)) {
		return -1;
	}
	if (check_vcpu(vm->opts, vm->opts->irqchip, i, &sv, err, errlen))
		return -1;
	if (!ms || ms->len % sizeof(struct kvm_msr_entry))
		return errmsg(err, errlen, "section MSRS#%u: %s", i, ms ? "not a whole number of MSRs" : "missing");
	if (xs && xs->len > (s->xsave_size > sizeof(struct kvm_xsave) ? s->xsave_size : sizeof(struct kvm_xsave)))
		return errmsg(err, errlen, "vCPU %u: an XSAVE area of %llu bytes, larger than this host's %u", i,
			      (unsigned long long)xs->len, s->xsave_size);
	if (xs && !s->xsave_size)
		return errmsg(err, errlen, "vCPU %u: the snapshot has XSAVE state; this host's KVM has no XSAVE", i);

	/* 1. special registers (IA32_APIC_BASE among them) */
	if (ioctl(v->fd, KVM_SET_SREGS, &sv.sregs) < 0)
		return kfail(err, errlen, i, "KVM_SET_SREGS");
	/* 2. registers, XCRs, XSAVE, debug registers */
	if (ioctl(v->fd, KVM_SET_REGS, &sv.regs) < 0)
		return kfail(err, errlen, i, "KVM_SET_REGS");
	if ((sv.flags & SNAP_VCPU_XCRS) && s->xcrs && ioctl(v->fd, KVM_SET_XCRS, &sv.xcrs) < 0)
		return kfail(err, errlen, i, "KVM_SET_XCRS");
	if (xs) {
		size_t sz = s->xsave_size > sizeof(struct kvm_xsave) ? s->xsave_size : sizeof(struct kvm_xsave);
		void *x = calloc(1, sz);

		if (!x)
			return errmsg(err, errlen, "out of memory");
		memcpy(x, xs->data, xs->len);
		r = ioctl(v->fd, KVM_SET_XSAVE, x);
		free(x);
		if (r < 0)
			return kfail(err, errlen, i, "KVM_SET_XSAVE");
	}
	if ((sv.flags & SNAP_VCPU_DREGS) && s->debugregs && ioctl(v->fd, KVM_SET_DEBUGREGS, &sv.dregs) < 0)
		return kfail(err, errlen, i, "KVM_SET_DEBUGREGS");
	/* 3. the local APIC */
	if ((sv.flags & SNAP_VCPU_LAPIC) && ioctl(v->fd, KVM_SET_LAPIC, &sv.lapic) < 0)
		return kfail(err, errlen, i, "KVM_SET_LAPIC");
	/* 4. the MSRs, in the order they were saved (TSC first, TSC deadline last) */
	n = (uint32_t)(ms->len / sizeof(struct kvm_msr_entry));
	msrs = calloc(1, sizeof(*msrs) + (n ? n : 1) * sizeof(struct kvm_msr_entry));
	if (!msrs)
		return errmsg(err, errlen, "out of memory");
	memcpy(msrs->entries, ms->data, ms->len);
	/*
	 * KVM sets them in order and stops at the first it refuses. Some it
	 * reads back but does not take from user space in every mode (with
	 * --irqchip user, MSR_KVM_POLL_CONTROL): one that already holds the
	 * saved value is skipped; any other refusal is an error.
	 */
	for (uint32_t done = 0; done < n;) {
		uint64_t now;

		msrs->nmsrs = n - done;
		memmove(msrs->entries, (const struct kvm_msr_entry *)(const void *)ms->data + done,
			(n - done) * sizeof(struct kvm_msr_entry));
		r = ioctl(v->fd, KVM_SET_MSRS, msrs);
		if (r < 0) {
			kfail(err, errlen, i, "KVM_SET_MSRS");
			break;
		}
		done += (uint32_t)r;
		if (done == n)
			break;
		if (vcpu_get_msr(v, msrs->entries[r].index, &now) || now != msrs->entries[r].data) {
			errmsg(err, errlen, "vCPU %u: KVM refuses MSR 0x%x = 0x%llx", i, msrs->entries[r].index,
			       (unsigned long long)msrs->entries[r].data);
			r = -1;
			break;
		}
		done++;
	}
	free(msrs);
	if (r < 0)
		return -1;
	/* 5. the vCPU events */
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &sv.events) < 0)
		return kfail(err, errlen, i, "KVM_SET_VCPU_EVENTS");
	/* 6. the MP state last (with --irqchip user it is mpvm's, in the CHIP section: KVM's stays RUNNABLE) */
	if (vm->opts->irqchip == IRQCHIP_USER)
		return 0;
	mp.mp_state = sv.mp_state;
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return kfail(err, errlen, i, "KVM_SET_MP_STATE");
	/* What mpvm knows of it too: the start gate holds a vCPU restored RUNNABLE (vcpu.c). */
	kvm_lapic_observe(v);
	return 0;
}

int snapshot_restore_vcpu(struct vcpu *v, const struct snap_file *f, char *err, size_t errlen)
{
	return restore_vcpu(v->vm, v->vm->snapshot, f, NULL, v->id, err, errlen);
}

int snapshot_load_ram(struct vm *vm, const struct snap_file *f, char *err, size_t errlen)
{
	const struct snap_section *ram = snap_file_find(f, T_RAM, 0);

	if (!ram)
		return errmsg(err, errlen, "section RAM: missing");
	/* What the guest or booting wrote goes (back to zero pages), the file's comes in. */
	madvise(vm->mem, vm->mem_size, MADV_DONTNEED);
	return snap_file_ram(ram, vm->mem, vm->mem_size, err, errlen);
}

static int load_chip(struct vm *vm, const void *data, size_t len, char *err, size_t errlen)
{
	if (vm->irqchip->load(vm, data, len))
		return errmsg(err, errlen, "loading the interrupt controllers: %s", strerror(errno));
	return 0;
}

int snapshot_load_chip(struct vm *vm, const struct snap_file *f, char *err, size_t errlen)
{
	const struct snap_section *chip = snap_file_find(f, T_CHIP, 0);

	if (!chip)
		return errmsg(err, errlen, "section CHIP: missing");
	return load_chip(vm, chip->data, chip->len, err, errlen);
}

int snapshot_restore(struct vm *vm)
{
	struct snapshot *s = vm->snapshot;
	const char *path = vm->opts->restore_path;
	struct snap_machine mach;
	struct kvm_clock_data clk;
	struct snap_file f;
	struct snap_xmode xm, *x = NULL;
	const struct snap_section *ram, *chip;
	const void *chip_data;
	size_t chip_len;
	uint64_t t0 = monotonic_ns();
	char err[512];

	if (snap_file_open(&f, path, err, sizeof(err))) {
		fprintf(stderr, "mpvm: --restore %s\n", err);
		return -1;
	}
	if (check_file(&f, vm->opts, &mach, err, sizeof(err)))
		goto fail;
	if (vm->tsc_khz && mach.tsc_khz && vm->tsc_khz != mach.tsc_khz)
		fprintf(stderr, "mpvm: --restore: the snapshot's TSC ran at %u kHz, this host's at %u kHz; the "
			"guest's TSC keeps counting at this host's rate\n", mach.tsc_khz, vm->tsc_khz);
	ram = snap_file_find(&f, T_RAM, 0);
	chip = snap_file_find(&f, T_CHIP, 0);
	chip_data = chip->data;
	chip_len = chip->len;
	/* Taken in another irqchip mode: its sections as this mode would have saved them (snapshot_xmode.c). */
	if (mach.irqchip != (uint32_t)vm->opts->irqchip) {
		if (snapshot_xmode_convert(vm, &f, &mach, &xm, err, sizeof(err)))
			goto fail;
		x = &xm;
		chip_data = x->chip;
		chip_len = x->chiplen;
	}
	/*
	 * VM time goes on from the snapshot's (the PIT's counts and mpvm's
	 * local APIC timers are in it); modulo 2^64, as vm_now_ns() subtracts.
	 */
	vm->t0_ns = monotonic_ns() - mach.vm_ns;
	/* RAM first: what booting wrote goes (back to zero pages), the snapshot's comes in. */
	if (snapshot_load_ram(vm, &f, err, sizeof(err)))
		goto fail;
	for (unsigned int i = 0; i < vm->ncpus; i++)
		if (restore_vcpu(vm, s, &f, x, i, err, sizeof(err)))
			goto fail;
	if (load_chip(vm, chip_data, chip_len, err, sizeof(err)))
		goto fail;
	/* KVM's clock after every TSC: kvmclock is computed from them. */
	if (snap_file_get(&f, T_KCLK, 0, &clk, sizeof(clk), err, sizeof(err)))
		goto fail;
	clk.flags = 0; /* the guest's clock goes on from where it was, not from the host's time */
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clk) < 0) {
		errmsg(err, sizeof(err), "KVM_SET_CLOCK: %s", strerror(errno));
		goto fail;
	}
	if (machine_load(vm, &f, err, sizeof(err)))
		goto fail;
	fprintf(stderr, "mpvm: restored from %s (%.1f ms, %llu pages of RAM%s%s%s)\n", path,
		(monotonic_ns() - t0) / 1e6, (unsigned long long)snap_file_ram_pages(ram), x ? "; taken with --irqchip " : "",
		x ? irqchip_mode_name((enum irqchip_mode)mach.irqchip) : "", x ? ", converted" : "");
	if (x)
		snapshot_xmode_free(x);
	snap_file_close(&f);
	return 0;
fail:
	fprintf(stderr, "mpvm: --restore %s: %s\n", path, err);
	if (x)
		snapshot_xmode_free(x);
	snap_file_close(&f);
	return -1;
}
