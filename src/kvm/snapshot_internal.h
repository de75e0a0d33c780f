/*
 * What snapshot.c and snapshot_xmode.c share: the section tags and the
 * layouts of the MACH and VCPU sections (README, "Snapshot files").
 */
#ifndef MPVM_KVM_SNAPSHOT_INTERNAL_H
#define MPVM_KVM_SNAPSHOT_INTERNAL_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "core/snapshot_file.h"

#define T_OPTS SNAP_TAG('O', 'P', 'T', 'S')
#define T_MACH SNAP_TAG('M', 'A', 'C', 'H')
#define T_RAM  SNAP_TAG('R', 'A', 'M', ' ')
#define T_VCPU SNAP_TAG('V', 'C', 'P', 'U')
#define T_XSAV SNAP_TAG('X', 'S', 'A', 'V')
#define T_MSRS SNAP_TAG('M', 'S', 'R', 'S')
#define T_CHIP SNAP_TAG('C', 'H', 'I', 'P')
#define T_KCLK SNAP_TAG('K', 'C', 'L', 'K')

#define MSR_IA32_TSC 0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0

struct snap_machine {
	uint32_t ncpus, irqchip;
	uint64_t memory;
	uint32_t tsc_khz, xsave_size;
	uint32_t max_msrs, pad;
	uint64_t vm_ns;      /* VM time (vm_now_ns()) when saved: a restore continues it */
};

/* flags of struct snap_vcpu: which parts KVM gave. */
#define SNAP_VCPU_LAPIC 1u   /* KVM's local APIC (kernel, split) */
#define SNAP_VCPU_XCRS  2u
#define SNAP_VCPU_DREGS 4u

struct snap_vcpu {
	uint32_t mp_state;  /* KVM_MP_STATE_* */
	uint32_t flags;
	uint32_t apic_id, pad;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
};

/*
 * A snapshot taken in one irqchip mode, made ready for a restore in
 * another (snapshot_xmode.c): every vCPU's VCPU and MSRS sections and the
 * CHIP section as the restoring mode would have saved them.
 */
struct snap_xmode {
	unsigned int ncpus;
	struct snap_vcpu *vcpu;
	struct kvm_msr_entry **msrs;
	uint32_t *nmsrs;
	void *chip;
	size_t chiplen;
};

struct vm;
/* -1 with the reason in err (a state that cannot cross, a section missing or of the wrong size). */
int snapshot_xmode_convert(struct vm *vm, const struct snap_file *f, const struct snap_machine *mach,
			   struct snap_xmode *x, char *err, size_t errlen);
void snapshot_xmode_free(struct snap_xmode *x);

#endif
