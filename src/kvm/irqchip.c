/*
 * Picking the irqchip implementation, and what the two modes with KVM's
 * local APICs (kernel, split) share.
 */
#include "kvm/irqchip.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "devices/lapic.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

static const struct irqchip_ops *const by_mode[] = {
	[IRQCHIP_KERNEL] = &irqchip_kernel_ops,
	[IRQCHIP_SPLIT] = &irqchip_split_ops,
	[IRQCHIP_USER] = &irqchip_user_ops,
};

const struct irqchip_ops *irqchip_ops_for(enum irqchip_mode mode)
{
	return (unsigned int)mode < sizeof(by_mode) / sizeof(by_mode[0]) ? by_mode[mode] : NULL;
}

int irqchip_save_unsupported(struct vm *vm, void *buf, size_t *len)
{
	(void)vm;
	(void)buf;
	(void)len;
	errno = ENOSYS;
	return -1;
}

int irqchip_load_unsupported(struct vm *vm, const void *buf, size_t len)
{
	(void)vm;
	(void)buf;
	(void)len;
	errno = ENOSYS;
	return -1;
}

int kvm_lapic_vm_init(struct vm *vm)
{
	/*
	 * APIC IDs above 254 exist only in x2APIC mode: KVM must take 32-bit
	 * IDs (MSI, KVM_SET_LAPIC) and treat 0xff as an ordinary ID, not the
	 * xAPIC broadcast (KVM API 7.7, KVM_CAP_X2APIC_API). Before the vCPUs.
	 */
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X2APIC_API,
		.args[0] = KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK,
	};

	if (!vm_needs_x2apic(vm) || ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) == 0)
		return 0;
	fprintf(stderr, "mpvm: --cpus %u needs x2APIC IDs (up to %u), but KVM_CAP_X2APIC_API: %s\n",
		vm->ncpus, topology_max_apic_id(&vm->opts->topology), strerror(errno));
	return -1;
}

int kvm_lapic_vcpu_init(struct vcpu *v)
{
	uint64_t base;

	/* IA32_APIC_BASE with EN and EXTD: x2APIC mode from the first instruction (SDM §10.12.5). */
	if (vm_needs_x2apic(v->vm) &&
	    (vcpu_get_msr(v, LAPIC_MSR_APIC_BASE, &base) ||
	     vcpu_set_msr(v, LAPIC_MSR_APIC_BASE, base | LAPIC_BASE_EN | LAPIC_BASE_EXTD))) {
		fprintf(stderr, "mpvm: vCPU %u: cannot put the local APIC in x2APIC mode: %s\n",
			v->id, strerror(errno));
		return -1;
	}
	kvm_lapic_observe(v);
	return 0;
}

void kvm_lapic_observe(struct vcpu *v)
{
	struct kvm_mp_state mp;

	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0)
		return;
	mp_history_observe(&v->mp, mp.mp_state, vm_now_ns(v->vm));
	atomic_store(&v->kvm_mp_state, mp.mp_state);
}

/*
 * Exits that come from guest instructions being executed (or, for
 * KVM_EXIT_IOAPIC_EOI and KVM_EXIT_IRQ_WINDOW_OPEN, from KVM about to
 * enter the guest): KVM gets there only with a vCPU whose MP state is
 * RUNNABLE (x86.c's vcpu_run() enters the guest only then; a vCPU that is
 * halted or waits for INIT/SIPI blocks in the kernel and comes back to
 * user space only when interrupted).
 */
static bool exit_while_runnable(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_IO:
	case KVM_EXIT_MMIO:
	case KVM_EXIT_IOAPIC_EOI:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
	case KVM_EXIT_HYPERCALL:
	case KVM_EXIT_DEBUG:
		return true;
	default:
		return false;
	}
}

/*
 * An exit from a running guest says the MP state is RUNNABLE, so the
 * KVM_GET_MP_STATE ioctl is needed only after
 * interruptions and rare exits. What is lost is nothing the ioctl showed
 * either: between two returns to user space KVM may take a vCPU through
 * INIT and SIPI unseen both ways.
 */
void kvm_lapic_after_run(struct vcpu *v, bool exited)
{
	if (exited && exit_while_runnable(v->run->exit_reason)) {
		if (atomic_load(&v->kvm_mp_state) != MP_STATE_RUNNABLE) {
			mp_history_observe(&v->mp, MP_STATE_RUNNABLE, vm_now_ns(v->vm));
			atomic_store(&v->kvm_mp_state, MP_STATE_RUNNABLE);
		}
		return;
	}
	kvm_lapic_observe(v);
}

enum mp_state kvm_lapic_mp_state(struct vcpu *v)
{
	return (enum mp_state)atomic_load(&v->kvm_mp_state);
}

/* KVM_RUN itself waits while the vCPU may not run. */
bool kvm_lapic_always_runnable(struct vcpu *v)
{
	(void)v;
	return true;
}

