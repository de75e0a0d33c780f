/*
 * The interrupt controllers of a VM, one interface and three
 * implementations (as crosvm's IrqChip has): --irqchip kernel (everything
 * in KVM, irqchip_kernel.c), split (local APICs in KVM, IOAPIC, PIC and
 * PIT in mpvm, irqchip_split.c) and user (everything in mpvm, the MP-state
 * machine included, irqchip_user.c). The vCPU loop, the VM and the boot
 * code call these operations and never ask which mode is in use.
 *
 * Operations marked "optional" may be NULL: the mode has nothing to do there.
 *
 * Threads: vm_init/create/destroy/vcpu_init/vcpu_destroy/legacy_pc/start on the
 * main thread; the vcpu_* run-loop operations on the vCPU's own thread;
 * set_gsi, mp_state and wake from any thread.
 */
#ifndef MPVM_KVM_IRQCHIP_H
#define MPVM_KVM_IRQCHIP_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ipi_fault.h"
#include "core/mpstate.h"
#include "core/options.h"

struct vm;
struct vcpu;

/* What the control socket's mpvm-send delivers to one vCPU (kvm/control.c). */
enum irqchip_ipi {
	IRQCHIP_IPI_INIT,
	IRQCHIP_IPI_SIPI,
	IRQCHIP_IPI_NMI,
};

struct irqchip_ops {
	/*
	 * Right after KVM_CREATE_VM, before the memory slots: VM-wide KVM
	 * settings whose change waits for an SRCU grace period (quick only
	 * while none has run lately). -1 after printing why. Optional.
	 */
	int (*vm_init)(struct vm *vm);
	/* Before the vCPUs, after the memory slots: KVM's part of the chip and mpvm's devices. -1 after printing why. */
	int (*create)(struct vm *vm);
	/* After the vCPU threads are joined. Optional. */
	void (*destroy)(struct vm *vm);
	/* After KVM_CREATE_VCPU and its CPUID: the vCPU's local APIC and MP state. -1 after printing why. */
	int (*vcpu_init)(struct vcpu *v);
	/* Optional. */
	void (*vcpu_destroy)(struct vcpu *v);
	/* --legacy-pc: the PICs and the PIT as a PC BIOS leaves them. -1 after printing why. */
	int (*legacy_pc)(struct vm *vm);
	/* Once the vCPU threads exist: the chip's own threads (the PIT). -1 after printing why. Optional. */
	int (*start)(struct vm *vm);

	/* The vCPU thread, once before its first KVM_RUN. -1 after printing why. Optional. */
	int (*vcpu_thread_start)(struct vcpu *v);
	/*
	 * The vCPU thread, before each KVM_RUN: takes the vCPU's events
	 * (INIT, SIPI, wake-ups) and says whether it may run now.
	 */
	bool (*vcpu_runnable)(struct vcpu *v);
	/*
	 * The vCPU thread, when vcpu_runnable() said no: sleeps until an
	 * event, a wake() or the vCPU's own timer. The caller then looks at
	 * its commands and asks vcpu_runnable() again. Optional (with a
	 * vcpu_runnable() that is always true).
	 */
	void (*vcpu_sleep)(struct vcpu *v);
	/* The vCPU thread, right before KVM_RUN: inject what is pending. Optional. */
	void (*vcpu_before_run)(struct vcpu *v);
	/*
	 * The vCPU thread, after KVM_RUN returned: `exited` when it returned
	 * an exit (in run->exit_reason), false when it was interrupted (a
	 * kick, EINTR or EAGAIN) and once more when the thread ends. Optional.
	 */
	void (*vcpu_after_run)(struct vcpu *v, bool exited);
	/* The vCPU thread: an exit the chip owns (HLT, its MMIO, its MSRs, EOIs): 1 handled, 0 not its, -1 stop. Optional. */
	int (*vcpu_handle_exit)(struct vcpu *v);

	/* Any thread: drive GSI `gsi` (ISA IRQ or IOAPIC pin) to `level`. -1 if KVM refuses (errno set). */
	int (*set_gsi)(struct vm *vm, unsigned int gsi, bool level);
	/* Any thread: the vCPU's MP state as the chip knows it. */
	enum mp_state (*mp_state)(struct vcpu *v);
	/* Any thread: make a vCPU thread that sleeps in vcpu_sleep() return. Optional. */
	void (*wake)(struct vcpu *v);
	/*
	 * Any thread: an INIT, a SIPI with `vector` or an NMI to vCPU `v`, as
	 * a message with no sender on the chip's APIC bus. Optional: NULL
	 * where KVM's local APICs take it (control.c sends an MSI). -1 if no
	 * APIC took it.
	 */
	int (*send_ipi)(struct vcpu *v, enum irqchip_ipi type, uint8_t vector);
	/*
	 * Any thread: drop, delay or duplicate the next `count` INIT and/or
	 * SIPI messages to `v` (core/ipi_fault.h; count 0 clears), returning
	 * how many messages to `v` faults took before. Optional: NULL where
	 * KVM's local APICs deliver the guest's IPIs, out of mpvm's reach.
	 */
	uint64_t (*set_ipi_fault)(struct vcpu *v, enum ipi_fault_action action, unsigned int kinds,
				  uint32_t count, uint64_t delay_ns, bool seeded, uint64_t seed);
	/*
	 * CPU hotplug (hotplug.c), any thread: vCPU `v` is plugged in or out;
	 * an absent one takes no interrupt message. Optional: KVM has no
	 * vCPU to deliver to before it is made, and an ejected one no longer runs.
	 */
	void (*vcpu_present)(struct vcpu *v, bool present);

	/*
	 * Snapshot hooks: the chip's state into / out of a byte buffer
	 * (*len in: room, out: used). Not written yet: every mode returns -1
	 * with errno ENOSYS until snapshot and restore exist.
	 */
	int (*save)(struct vm *vm, void *buf, size_t *len);
	int (*load)(struct vm *vm, const void *buf, size_t len);
};

/* A snapshot's CHIP section in kernel mode: KVM's two PICs, its IOAPIC and its PIT, as KVM gives them. */
struct kernel_chip_state {
	struct kvm_irqchip chip[3]; /* KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC */
	struct kvm_pit_state2 pit;
};

extern const struct irqchip_ops irqchip_kernel_ops;
extern const struct irqchip_ops irqchip_split_ops;
extern const struct irqchip_ops irqchip_user_ops;

/* The implementation behind an --irqchip value. */
const struct irqchip_ops *irqchip_ops_for(enum irqchip_mode mode);

/* The snapshot hooks of every mode until snapshot and restore exist. */
int irqchip_save_unsupported(struct vm *vm, void *buf, size_t *len);
int irqchip_load_unsupported(struct vm *vm, const void *buf, size_t len);

/*
 * What kernel and split mode share, their local APICs being KVM's
 * (irqchip.c): KVM runs the MP-state machine, and mpvm observes it with
 * KVM_GET_MP_STATE.
 */
/* More than 255 vCPUs: KVM takes 32-bit APIC IDs (KVM_CAP_X2APIC_API). -1 after printing why. */
int kvm_lapic_vm_init(struct vm *vm);
/* More than 255 vCPUs: x2APIC mode from the first instruction; the first observation. */
int kvm_lapic_vcpu_init(struct vcpu *v);
/* KVM_GET_MP_STATE, recorded in the vCPU's history if it changed. */
void kvm_lapic_observe(struct vcpu *v);
/* After KVM_RUN: the MP state, by an ioctl only when the exit does not tell it. */
void kvm_lapic_after_run(struct vcpu *v, bool exited);
enum mp_state kvm_lapic_mp_state(struct vcpu *v);
bool kvm_lapic_always_runnable(struct vcpu *v);

#endif
