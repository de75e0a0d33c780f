#include "kvm/irqchip_user.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "core/apic_dest.h"
#include "core/icr.h"
#include "core/mp_machine.h"
#include "devices/lapic.h"
#include "kvm/platform.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_APICBASE 0x1b
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_X2APIC_FIRST 0x800
#define MSR_X2APIC_LAST 0x8ff
#define APIC_PAGE_SIZE 0x1000
/* Guest errors mpvm logs (bad ICR, IPI to nobody): enough to see, never a flood. */
#define UIRQ_MAX_LOGS 32

struct user_cpu {
	struct vcpu *vcpu;
	struct lapic *lapic;

	/* Queued by any thread, taken by the owner: under `lock`. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool init_pending;
	bool sipi_pending;
	uint8_t sipi_vector;
	unsigned int nmi_pending; /* NMIs not yet handed to KVM (at most 2 count, SDM vol. 3A §6.7.1) */

	/* The owning vCPU thread's alone. */
	enum mp_state state;
	bool halt_if;            /* RFLAGS.IF when it executed HLT */
	int64_t tsc_offset;      /* guest TSC - host TSC */
	timer_t timer;
	bool timer_made;
	uint64_t timer_armed_ns; /* absolute CLOCK_MONOTONIC ns, 0 = disarmed */
	uint64_t sipis_dropped;
	bool nmi_in_kvm;         /* KVM_NMI was called; KVM may still hold it */
};

static atomic_uint uirq_logs;

static void uirq_log(struct vm *vm, unsigned int vcpu_id, const char *msg)
{
	unsigned int n = atomic_fetch_add(&uirq_logs, 1);

	(void)vm;
	if (n < UIRQ_MAX_LOGS && vcpu_id == UINT32_MAX)
		fprintf(stderr, "mpvm: guest error in the IOAPIC: %s\n", msg);
	else if (n < UIRQ_MAX_LOGS)
		fprintf(stderr, "mpvm: guest error on vCPU %u: %s\n", vcpu_id, msg);
	else if (n == UIRQ_MAX_LOGS)
		fprintf(stderr, "mpvm: (more guest errors; not shown)\n");
}

static void set_state(struct user_cpu *u, enum mp_state s)
{
	u->state = s;
	mp_history_observe(&u->vcpu->mp, s, vm_now_ns(u->vcpu->vm));
}

/* ---- clocks for the local APIC timer ------------------------------------ */

static uint64_t clock_ns(void *opaque)
{
	struct vcpu *v = opaque;

	return vm_now_ns(v->vm);
}

static uint64_t clock_tsc(void *opaque)
{
	struct vcpu *v = opaque;

	return __rdtsc() + (uint64_t)v->user->tsc_offset;
}

/* ---- IPIs: from a local APIC's ICR to the targets ------------------------- */

enum queued { Q_INIT, Q_SIPI, Q_NMI };

static void queue(struct vcpu *t, enum queued what, uint8_t vector)
{
	struct user_cpu *u = t->user;

	pthread_mutex_lock(&u->lock);
	switch (what) {
	case Q_INIT:
		u->init_pending = true;
		u->sipi_pending = false; /* a SIPI sent before this INIT is void */
		break;
	case Q_SIPI:
		/* Two SIPIs before the target looks: only one can count anyway. */
		u->sipi_pending = true;
		u->sipi_vector = vector;
		break;
	case Q_NMI:
		/*
		 * One NMI may be in service and one more latched; KVM_NMI
		 * per NMI lets KVM apply that rule against the CPU's NMI
		 * blocking, which only it sees.
		 */
		if (u->nmi_pending < 2)
			u->nmi_pending++;
		break;
	}
	pthread_mutex_unlock(&u->lock);
	vcpu_notify(t);
}

static void send_ipi(void *opaque, struct lapic *from, const struct icr *icr)
{
	struct vcpu *src = opaque;

	(void)from;
	uirq_deliver(src->vm, icr, src->id);
}

void uirq_deliver(struct vm *vm, const struct icr *icr, uint32_t sender)
{
	struct apic_cpu *cpus = calloc(vm->ncpus, sizeof(*cpus));
	struct apic_dest_set *set = calloc(1, sizeof(*set));
	char msg[160];
	int n;

	if (!cpus || !set)
		goto out;
	for (unsigned int i = 0; i < vm->ncpus; i++)
		lapic_dest_info(vm->vcpus[i].user->lapic, &cpus[i]);
	n = apic_dest_resolve(icr, sender, cpus, vm->ncpus, set);
	/* All-excluding-self on one CPU reaches nobody, and rightly (firmware broadcasts INIT/SIPI). */
	if (n == 0 && !icr->init_deassert && icr->shorthand != ICR_ALL_EXCL_SELF) {
		snprintf(msg, sizeof(msg), "%s IPI (vector 0x%02x) to %s destination 0x%x reaches no CPU",
			 icr_delivery_name(icr->delivery), icr->vector,
			 icr->logical ? "logical" : "physical", icr->dest);
		uirq_log(vm, sender, msg);
	}
	for (unsigned int i = 0; n > 0 && i < vm->ncpus; i++) {
		struct vcpu *t = &vm->vcpus[i];

		if (!apic_dest_has(set, i))
			continue;
		switch (icr->delivery) {
		case ICR_FIXED:
		case ICR_LOWEST:
			if (lapic_accept_irq(t->user->lapic, icr->vector, icr->level_trigger))
				vcpu_notify(t);
			break;
		case ICR_NMI:
			queue(t, Q_NMI, 0);
			break;
		case ICR_INIT:
			if (!icr->init_deassert) /* de-assert: no effect since the P6 (§10.6.1) */
				queue(t, Q_INIT, 0);
			break;
		case ICR_STARTUP:
			queue(t, Q_SIPI, icr->vector);
			break;
		case ICR_SMI:
			uirq_log(vm, sender, "SMI IPI: mpvm has no SMM; ignored");
			break;
		}
	}
out:
	free(set);
	free(cpus);
}

static void lapic_kick(void *opaque, unsigned int vcpu_id)
{
	struct vcpu *v = opaque;

	vcpu_notify(&v->vm->vcpus[vcpu_id]);
}

static void lapic_eoi(void *opaque, unsigned int vcpu_id, uint8_t vector)
{
	struct vcpu *v = opaque;

	(void)vcpu_id;
	platform_eoi(v->vm, vector); /* the IOAPIC clears remote IRR (EOI broadcast) */
}

static void lapic_log(void *opaque, unsigned int vcpu_id, const char *msg)
{
	struct vcpu *v = opaque;

	uirq_log(v->vm, vcpu_id, msg);
}

static const struct lapic_ops uirq_lapic_ops = {
	.send_ipi = send_ipi,
	.kick = lapic_kick,
	.eoi = lapic_eoi,
	.log = lapic_log,
};

/* ---- set-up ---------------------------------------------------------------- */

int uirq_vm_init(struct vm *vm)
{
	static uint8_t deny[256 / 8]; /* all zero: deny, so the access exits to mpvm */
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args[0] = KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_INVAL,
	};
	struct kvm_msr_filter filter = {
		.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
		.ranges = {
			{ .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, .nmsrs = 1,
			  .base = MSR_IA32_APICBASE, .bitmap = deny },
			{ .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, .nmsrs = 1,
			  .base = MSR_IA32_TSC_DEADLINE, .bitmap = deny },
			{ .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, .nmsrs = 256,
			  .base = MSR_X2APIC_FIRST, .bitmap = deny },
		},
	};

	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0 ||
	    ioctl(vm->vm_fd, KVM_X86_SET_MSR_FILTER, &filter) < 0) {
		fprintf(stderr, "mpvm: --irqchip user needs MSR exits to user space "
			"(KVM_CAP_X86_USER_SPACE_MSR, KVM_X86_SET_MSR_FILTER): %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

void uirq_vm_destroy(struct vm *vm)
{
	(void)vm;
}

int uirq_vcpu_init(struct vcpu *v)
{
	struct user_cpu *u = calloc(1, sizeof(*u));

	if (!u) {
		fprintf(stderr, "mpvm: vCPU %u: out of memory\n", v->id);
		return -1;
	}
	u->vcpu = v;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->wake, NULL);
	u->lapic = lapic_create(v->id, v->apic_id, v->bsp, &uirq_lapic_ops, v);
	if (!u->lapic) {
		fprintf(stderr, "mpvm: vCPU %u: out of memory for its local APIC\n", v->id);
		free(u);
		return -1;
	}
	lapic_set_clock(u->lapic, clock_ns, clock_tsc, v->vm->tsc_khz, v);
	if (v->vm->ncpus > VM_XAPIC_MAX_CPUS)
		lapic_set_base(u->lapic, lapic_get_base(u->lapic) | (1ull << 10));
	v->user = u;
	set_state(u, mp_initial_state(v->bsp));
	return 0;
}

void uirq_vcpu_destroy(struct vcpu *v)
{
	struct user_cpu *u = v->user;

	if (!u)
		return;
	if (u->timer_made)
		timer_delete(u->timer);
	lapic_destroy(u->lapic);
	pthread_cond_destroy(&u->wake);
	pthread_mutex_destroy(&u->lock);
	free(u);
	v->user = NULL;
}

int uirq_vcpu_thread_start(struct vcpu *v)
{
	struct user_cpu *u = v->user;
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = VCPU_KICK_SIGNAL };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} tsc = { .hdr.nmsrs = 1, .e.index = MSR_IA32_TSC };

	/* The guest's TSC runs at the host's rate (no TSC scaling): keep the offset. */
	if (ioctl(v->fd, KVM_GET_MSRS, &tsc) == 1)
		u->tsc_offset = (int64_t)(tsc.e.data - __rdtsc());
	/* The local APIC timer interrupts KVM_RUN with the kick signal. */
	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &u->timer)) {
		fprintf(stderr, "mpvm: vCPU %u: timer_create: %s\n", v->id, strerror(errno));
		return -1;
	}
	u->timer_made = true;
	return 0;
}

/* ---- register state after INIT and SIPI (SDM vol. 3A §9.1.1, table 9-1) --- */

static int load_start_state(struct vcpu *v, uint16_t cs_sel, uint32_t cs_base, uint16_t ip)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rip = ip, .rflags = 0x2, .rdx = 0x600 };
	struct kvm_segment seg = { .limit = 0xffff, .present = 1, .s = 1, .type = 0x3 };

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -1;
	s.ds = s.es = s.fs = s.gs = s.ss = seg;
	s.cs = seg;
	s.cs.type = 0xb;
	s.cs.selector = cs_sel;
	s.cs.base = cs_base;
	s.tr = (struct kvm_segment){ .limit = 0xffff, .present = 1, .type = 0xb };
	s.ldt = (struct kvm_segment){ .limit = 0xffff, .present = 1, .type = 0x2 };
	s.gdt.base = s.idt.base = 0;
	s.gdt.limit = s.idt.limit = 0xffff;
	s.cr0 = 0x60000010; /* CD, NW, ET */
	s.cr2 = s.cr3 = s.cr4 = 0;
	s.efer = 0;
	memset(s.interrupt_bitmap, 0, sizeof(s.interrupt_bitmap));
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0 || ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -1;
	return 0;
}

/* ---- before each KVM_RUN ---------------------------------------------------- */

static void step(struct user_cpu *u, enum mp_event_type type, uint8_t vector, bool if_flag)
{
	struct vcpu *v = u->vcpu;
	struct mp_event ev = { .type = type, .vector = vector, .if_flag = if_flag };
	struct mp_step s = mp_machine_step(u->state, v->bsp, &ev);
	struct mp_sipi_regs sr;

	switch (s.action) {
	case MP_ACT_RESET_CPU:
		lapic_reset(u->lapic, true);
		u->nmi_pending = 0;
		if (load_start_state(v, 0xf000, 0xffff0000u, 0xfff0))
			vcpu_guest_fault(v, "INIT: cannot load the reset state: %s", strerror(errno));
		break;
	case MP_ACT_START_AT_VECTOR:
		set_state(u, s.next);
		mp_sipi_start_state(vector, &sr);
		if (load_start_state(v, sr.cs_selector, sr.cs_base, sr.ip))
			vcpu_guest_fault(v, "SIPI: cannot load the start state: %s", strerror(errno));
		s = mp_machine_step(u->state, v->bsp, &(struct mp_event){ .type = MP_EV_SIPI_DONE });
		break;
	case MP_ACT_DROP:
		if (type == MP_EV_SIPI)
			u->sipis_dropped++;
		break;
	default:
		break;
	}
	if (s.next != u->state)
		set_state(u, s.next);
}

/*
 * An NMI outranks a maskable interrupt (SDM vol. 3A §6.9). An interrupt
 * given with KVM_INTERRUPT counts as already injected and would go in ahead
 * of an NMI that KVM still holds (blocked by an NMI handler in progress),
 * so while KVM holds one the interrupt waits for the next window.
 */
static bool nmi_still_pending(struct user_cpu *u)
{
	struct kvm_vcpu_events ev;

	if (!u->nmi_in_kvm)
		return false;
	if (ioctl(u->vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return false;
	if (ev.nmi.pending || ev.nmi.injected)
		return true;
	u->nmi_in_kvm = false;
	return false;
}

/* Arms the POSIX timer for the local APIC timer's next expiry (or disarms it). */
static void arm_timer(struct user_cpu *u, uint64_t next_ns)
{
	struct vm *vm = u->vcpu->vm;
	uint64_t abs = next_ns ? vm->t0_ns + next_ns : 0;
	struct itimerspec its = { 0 };

	if (abs == u->timer_armed_ns)
		return;
	its.it_value.tv_sec = (time_t)(abs / 1000000000ull);
	its.it_value.tv_nsec = (long)(abs % 1000000000ull);
	if (abs && its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	timer_settime(u->timer, TIMER_ABSTIME, &its, NULL);
	u->timer_armed_ns = abs;
}

static bool may_run(struct user_cpu *u)
{
	return u->state == MP_STATE_RUNNABLE;
}

bool uirq_before_run(struct vcpu *v)
{
	struct user_cpu *u = v->user;
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;
	unsigned int nmis;
	int vector;

	for (;;) {
		uint64_t next;

		/* Outside u->lock: a firing timer kicks this vCPU, which takes it. */
		lapic_timer_update(u->lapic, vm_now_ns(vm), clock_tsc(v));
		pthread_mutex_lock(&u->lock);
		if (vm_stopping(vm)) {
			pthread_mutex_unlock(&u->lock);
			return false;
		}
		if (u->init_pending) {
			u->init_pending = false;
			step(u, MP_EV_INIT, 0, false);
		}
		if (u->sipi_pending) {
			u->sipi_pending = false;
			step(u, MP_EV_SIPI, u->sipi_vector, false);
		}
		if (u->state == MP_STATE_HALTED) {
			if (u->nmi_pending)
				step(u, MP_EV_NMI, 0, false);
			else if (lapic_pending_vector(u->lapic) >= 0 || platform_extint_pending(v))
				step(u, MP_EV_INTR, 0, u->halt_if);
		}
		if (may_run(u)) {
			pthread_mutex_unlock(&u->lock);
			break;
		}
		/* Not allowed to run: sleep until an event, the APIC timer, or the stop. */
		next = lapic_timer_next_ns(u->lapic);
		if (next) {
			uint64_t abs = vm->t0_ns + next;
			struct timespec ts = { .tv_sec = (time_t)(abs / 1000000000ull),
					       .tv_nsec = (long)(abs % 1000000000ull) };

			pthread_cond_timedwait(&u->wake, &u->lock, &ts);
		} else {
			pthread_cond_wait(&u->wake, &u->lock);
		}
		pthread_mutex_unlock(&u->lock);
	}

	/* RUNNABLE: NMI first, then the highest pending interrupt when IF allows. */
	pthread_mutex_lock(&u->lock);
	nmis = u->nmi_pending;
	u->nmi_pending = 0;
	pthread_mutex_unlock(&u->lock);
	while (nmis--) {
		if (ioctl(v->fd, KVM_NMI) < 0)
			fprintf(stderr, "mpvm: vCPU %u: KVM_NMI: %s\n", v->id, strerror(errno));
		u->nmi_in_kvm = true;
	}
	/* The local APIC's vectors first; then ExtINT from the PIC through LINT0. */
	vector = lapic_pending_vector(u->lapic);
	run->request_interrupt_window = 0;
	if (vector >= 0 || platform_extint_pending(v)) {
		if (run->ready_for_interrupt_injection && run->if_flag && !nmi_still_pending(u)) {
			bool extint = vector < 0;
			struct kvm_interrupt irq;

			if (extint)
				vector = platform_extint_ack(v);
			irq.irq = (uint32_t)vector;
			if (ioctl(v->fd, KVM_INTERRUPT, &irq) == 0 && !extint)
				lapic_ack_vector(u->lapic, (uint8_t)vector);
			if (lapic_pending_vector(u->lapic) >= 0 || platform_extint_pending(v))
				run->request_interrupt_window = 1;
		} else {
			run->request_interrupt_window = 1;
		}
	}
	run->cr8 = lapic_get_tpr(u->lapic) >> 4;
	arm_timer(u, lapic_timer_next_ns(u->lapic));
	return true;
}

/* ---- exits ------------------------------------------------------------------ */

static int set_kvm_apic_base(struct vcpu *v, uint64_t value)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e = { .index = MSR_IA32_APICBASE, .data = value } };

	return ioctl(v->fd, KVM_SET_MSRS, &m) == 1 ? 0 : -1;
}

static int handle_msr(struct vcpu *v, bool write)
{
	struct user_cpu *u = v->user;
	struct kvm_run *run = v->run;
	uint32_t msr = run->msr.index;
	int err = 0;

	if (msr == MSR_IA32_APICBASE) {
		if (write)
			err = lapic_set_base(u->lapic, run->msr.data);
		/*
		 * KVM keeps its own copy too: CPUID.1:EDX.APIC (bit 9) follows
		 * IA32_APIC_BASE.EN, and KVM updates it from that copy.
		 */
		if (write && !err)
			err = set_kvm_apic_base(v, run->msr.data);
		else if (!write)
			run->msr.data = lapic_get_base(u->lapic);
	} else if (msr == MSR_IA32_TSC_DEADLINE) {
		if (write)
			lapic_set_tsc_deadline(u->lapic, run->msr.data, clock_tsc(v));
		else
			run->msr.data = lapic_get_tsc_deadline(u->lapic);
	} else if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST) {
		uint64_t val = run->msr.data;

		err = write ? lapic_msr_write(u->lapic, msr, val) : lapic_msr_read(u->lapic, msr, &val);
		run->msr.data = val;
	} else {
		err = -1; /* an MSR KVM does not know either: #GP, as KVM would */
	}
	run->msr.error = err ? 1 : 0;
	return 1;
}

static int handle_mmio(struct vcpu *v)
{
	struct user_cpu *u = v->user;
	struct kvm_run *run = v->run;
	uint64_t base = lapic_get_base(u->lapic) & ~0xfffull;
	uint64_t addr = run->mmio.phys_addr;

	if (!lapic_xapic_mmio_enabled(u->lapic) || addr < base || addr >= base + APIC_PAGE_SIZE)
		return 0;
	if (run->mmio.is_write)
		lapic_mmio_write(u->lapic, (uint32_t)(addr - base), run->mmio.data, run->mmio.len);
	else
		lapic_mmio_read(u->lapic, (uint32_t)(addr - base), run->mmio.data, run->mmio.len);
	return 1;
}

int uirq_handle_exit(struct vcpu *v)
{
	struct user_cpu *u = v->user;
	struct kvm_run *run = v->run;

	/*
	 * CR8 is the TPR's bits 7:4 (SDM vol. 3A §10.8.6.1). KVM reports the
	 * guest's CR8 in kvm_run on every exit (and exits with SET_TPR when
	 * the guest lowers it); the APIC's TPR follows it.
	 */
	if (run->cr8 != lapic_get_tpr(u->lapic) >> 4)
		lapic_set_tpr(u->lapic, (uint32_t)(run->cr8 & 0xf) << 4);

	switch (run->exit_reason) {
	case KVM_EXIT_SET_TPR:
		return 1;
	case KVM_EXIT_HLT:
		u->halt_if = run->if_flag;
		step(u, MP_EV_HLT, 0, run->if_flag);
		return 1;
	case KVM_EXIT_MMIO:
		return handle_mmio(v);
	case KVM_EXIT_X86_RDMSR:
		return handle_msr(v, false);
	case KVM_EXIT_X86_WRMSR:
		return handle_msr(v, true);
	default:
		return 0;
	}
}

void uirq_wake(struct vcpu *v)
{
	struct user_cpu *u = v->user;

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	pthread_cond_broadcast(&u->wake);
	pthread_mutex_unlock(&u->lock);
}

void uirq_legacy_pc(struct vm *vm)
{
	/*
	 * What a PC BIOS leaves (SeaBIOS does this; MP spec v1.4 §3.6.2.2,
	 * virtual wire mode): the BSP's local APIC software-enabled, LINT0 in
	 * ExtINT mode for the PIC's INTR, LINT1 in NMI mode.
	 */
	static const struct { uint32_t reg, value; } regs[] = {
		{ LAPIC_REG_SVR, 0x1ff },
		{ LAPIC_REG_LVT_LINT0, LAPIC_DM_EXTINT << 8 },
		{ LAPIC_REG_LVT_LINT1, LAPIC_DM_NMI << 8 },
	};
	struct lapic *l = vm->vcpus[vm->opts->boot_cpu].user->lapic;

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		if (lapic_x2apic_mode(l))
			lapic_msr_write(l, MSR_X2APIC_FIRST + regs[i].reg / 16, regs[i].value);
		else
			lapic_mmio_write(l, regs[i].reg, &regs[i].value, 4);
	}
}

bool uirq_takes_extint(struct vcpu *v)
{
	struct lapic *l = v->user->lapic;
	uint32_t lint0 = lapic_lvt(l, LAPIC_LVT_LINT0);

	if (!lapic_hw_enabled(l))
		return v->bsp; /* APIC off: the PIC's INTR goes straight to the BSP */
	return !(lint0 & (1u << 16)) && ((lint0 >> 8) & 7) == LAPIC_DM_EXTINT;
}

uint32_t uirq_mp_state(const struct vcpu *v)
{
	return v->user ? v->user->state : MP_STATE_RUNNABLE;
}
