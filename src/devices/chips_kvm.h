/*
 * The PC's interrupt controllers and timer outside the CPUs as KVM's
 * in-kernel irqchip holds them (KVM_GET_IRQCHIP: struct kvm_pic_state,
 * struct kvm_ioapic_state; KVM_GET_PIT2: struct kvm_pit_state2) and as
 * mpvm's models save them (pic.h, ioapic.h, pit.h), each turned into the
 * other: a snapshot taken with --irqchip kernel restores with split or
 * user and the reverse (kvm/snapshot_xmode.c; README, "Snapshots across
 * irqchip modes", says what does not cross).
 *
 * No KVM calls: only the layout of <linux/kvm.h>'s structures.
 */
#ifndef MPVM_DEVICES_CHIPS_KVM_H
#define MPVM_DEVICES_CHIPS_KVM_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/ioapic.h"
#include "devices/pic.h"
#include "devices/pit.h"

/* The two 8259As: KVM_IRQCHIP_PIC_MASTER and _SLAVE. -1 with the reason in err for a state KVM could not have. */
int pic_from_kvm(const struct kvm_pic_state *master, const struct kvm_pic_state *slave, struct pic_state *out,
		 char *err, size_t errlen);
void pic_to_kvm(const struct pic_state *s, struct kvm_pic_state *master, struct kvm_pic_state *slave);

void ioapic_from_kvm(const struct kvm_ioapic_state *k, struct ioapic_state *out);
void ioapic_to_kvm(const struct ioapic_state *s, struct kvm_ioapic_state *out);

/*
 * The 8254 and port 0x61. KVM_SET_PIT2 starts every count afresh, so a
 * count crosses as the count loaded, not the phase reached (now_ns: the
 * VM time the mpvm side's counts start at).
 */
void pit_from_kvm(const struct kvm_pit_state2 *k, uint64_t now_ns, struct pit_state *out);
void pit_to_kvm(const struct pit_state *s, struct kvm_pit_state2 *out);

#endif
