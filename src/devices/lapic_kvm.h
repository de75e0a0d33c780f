/*
 * A CPU's local APIC and MP state as KVM's in-kernel irqchip holds them
 * and as mpvm's APIC bus holds them (struct apic_bus_cpu_state), each
 * turned into the other: what lets a snapshot taken with one --irqchip
 * restore with another (kvm/snapshot_xmode.c; README, "Snapshots across
 * irqchip modes").
 *
 * KVM keeps its side in several places, gathered in struct lapic_kvm: the
 * 1 KiB register page (KVM_GET_LAPIC), IA32_APIC_BASE (in kvm_sregs), the
 * IA32_TSC_DEADLINE MSR, the MP state (KVM_GET_MP_STATE) and, in the vCPU
 * events, the SIPI vector, the NMIs pending and an INIT KVM has not taken.
 *
 * No KVM calls: only the layout of <linux/kvm.h>'s structures.
 */
#ifndef MPVM_DEVICES_LAPIC_KVM_H
#define MPVM_DEVICES_LAPIC_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/apic_bus.h"

struct lapic_kvm {
	struct kvm_lapic_state page;
	uint64_t apic_base;     /* kvm_sregs.apic_base */
	uint64_t tsc_deadline;  /* MSR IA32_TSC_DEADLINE */
	uint32_t mp_state;      /* KVM_MP_STATE_* (enum mp_state has the same numbers) */
	uint8_t sipi_vector;    /* kvm_vcpu_events.sipi_vector */
	uint8_t nmi_pending;    /* kvm_vcpu_events.nmi.pending */
	bool latched_init;      /* kvm_vcpu_events.smi.latched_init: an INIT not taken yet */
	bool if_flag;           /* RFLAGS.IF (what wakes a halted CPU) */
};

/* The moment both sides are read at: the snapshot's. */
struct lapic_kvm_clock {
	uint64_t vm_ns;         /* VM time, the clock mpvm's APIC timers count on */
	uint64_t tsc;           /* the guest's TSC then */
	uint32_t tsc_khz;
};

/*
 * KVM's side to mpvm's. apic_id is the CPU's (initial, x2APIC) APIC ID;
 * x2apic_ids: KVM_CAP_X2APIC_API's 32-bit IDs were on (else KVM's page
 * holds an x2APIC ID in bits 31:24, as in xAPIC mode). -1 with the reason
 * in err for an MP state x86 lacks or a page whose x2APIC ID is not the
 * CPU's.
 */
int lapic_kvm_to_bus(const struct lapic_kvm *k, uint32_t apic_id, bool x2apic_ids, const struct lapic_kvm_clock *c,
		     struct apic_bus_cpu_state *out, char *err, size_t errlen);
/* mpvm's side to KVM's; bsp: the CPU is the BSP (an INIT restarts it rather than making it wait for a SIPI). */
void lapic_kvm_from_bus(const struct apic_bus_cpu_state *s, uint32_t apic_id, bool x2apic_ids, bool bsp,
			const struct lapic_kvm_clock *c, struct lapic_kvm *out);

#endif
