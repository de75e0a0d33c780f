/*
 * Snapshots across irqchip modes (snapshot_internal.h; README, "Snapshots
 * across irqchip modes"): a snapshot's sections as the restoring mode would
 * have saved them, from devices/lapic_kvm.c's and devices/chips_kvm.c's
 * conversions. No KVM call here: restore() in snapshot.c then loads the
 * result as it loads a snapshot of its own mode.
 *
 *   kernel: KVM's local APICs, PICs, IOAPIC, PIT (CHIP: struct kernel_chip_state)
 *   split:  KVM's local APICs; mpvm's PICs, IOAPIC, PIT (CHIP: struct platform_state)
 *   user:   mpvm's everything (CHIP: struct platform_state, then each
 *           CPU's struct apic_bus_cpu_state; the VCPU sections have no
 *           local APIC and mpvm's MP state)
 *
 * So kernel <-> split converts the chips, split <-> user the local APICs
 * and MP states, kernel <-> user both.
 *
 * Per vCPU, the local APIC's state is spread over the VCPU section (the
 * page, the MP state, IA32_APIC_BASE in the special registers, the SIPI
 * vector, the NMIs pending and a latched INIT in the vCPU events) and the
 * MSRS section (IA32_TSC_DEADLINE; the TSC, which the deadline is counted
 * on): from KVM's side they are gathered into struct lapic_kvm and given
 * to mpvm's APIC bus, with KVM's part cleared (the events' NMIs and INIT
 * are then the bus's to deliver); to KVM's side, the reverse.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/errmsg.h"
#include "core/topology.h"
#include "devices/apic_bus.h"
#include "devices/chips_kvm.h"
#include "devices/lapic_kvm.h"
#include "kvm/irqchip.h"
#include "kvm/platform.h"
#include "kvm/snapshot_internal.h"
#include "kvm/vm.h"

#define RFLAGS_IF (1ull << 9)

static bool kvm_lapics(uint32_t mode)
{
	return mode != IRQCHIP_USER;
}

static struct kvm_msr_entry *find_msr(struct snap_xmode *x, unsigned int i, uint32_t index)
{
	for (uint32_t n = 0; n < x->nmsrs[i]; n++)
		if (x->msrs[i][n].index == index)
			return &x->msrs[i][n];
	return NULL;
}

/* The chips outside the CPUs, from the file's CHIP section, as mpvm's models hold them. */
static int chips_to_platform(uint32_t from, const struct snap_section *chip, uint64_t vm_ns,
			     struct platform_state *p, char *err, size_t errlen)
{
	struct kernel_chip_state k;

	if (from != IRQCHIP_KERNEL) {
		memcpy(p, chip->data, sizeof(*p));   /* split and user both start with it (length checked) */
		return 0;
	}
	memcpy(&k, chip->data, sizeof(k));
	if (k.chip[0].chip_id != KVM_IRQCHIP_PIC_MASTER || k.chip[1].chip_id != KVM_IRQCHIP_PIC_SLAVE ||
	    k.chip[2].chip_id != KVM_IRQCHIP_IOAPIC)
		return errmsg(err, errlen, "section CHIP#0: KVM's interrupt controllers out of order");
	if (pic_from_kvm(&k.chip[0].chip.pic, &k.chip[1].chip.pic, &p->pic, err, errlen))
		return -1;
	ioapic_from_kvm(&k.chip[2].chip.ioapic, &p->ioapic);
	pit_from_kvm(&k.pit, vm_ns, &p->pit);
	return 0;
}

static void platform_to_kernel(const struct platform_state *p, struct kernel_chip_state *k)
{
	memset(k, 0, sizeof(*k));
	for (unsigned int id = 0; id < 3; id++)
		k->chip[id].chip_id = id;
	pic_to_kvm(&p->pic, &k->chip[0].chip.pic, &k->chip[1].chip.pic);
	ioapic_to_kvm(&p->ioapic, &k->chip[2].chip.ioapic);
	pit_to_kvm(&p->pit, &k->pit);
}

/* vCPU i's local APIC and MP state, KVM's (in its VCPU and MSRS sections) to mpvm's APIC bus. */
static int lapic_to_bus(struct snap_xmode *x, unsigned int i, bool x2apic_ids, const struct lapic_kvm_clock *c,
			struct apic_bus_cpu_state *b, char *err, size_t errlen)
{
	struct snap_vcpu *sv = &x->vcpu[i];
	struct kvm_msr_entry *dl = find_msr(x, i, MSR_IA32_TSC_DEADLINE);
	struct lapic_kvm k = {
		.page = sv->lapic, .apic_base = sv->sregs.apic_base, .tsc_deadline = dl ? dl->data : 0,
		.mp_state = sv->mp_state, .sipi_vector = (uint8_t)sv->events.sipi_vector,
		.nmi_pending = sv->events.nmi.pending,
		.latched_init = (sv->events.flags & KVM_VCPUEVENT_VALID_SMM) && sv->events.smi.latched_init,
		.if_flag = !!(sv->regs.rflags & RFLAGS_IF),
	};
	char why[160];

	if (lapic_kvm_to_bus(&k, sv->apic_id, x2apic_ids, c, b, why, sizeof(why)))
		return errmsg(err, errlen, "vCPU %u: %s", i, why);
	/* What the bus now holds is no longer KVM's: it delivers the NMIs and the INIT itself. */
	sv->flags &= ~SNAP_VCPU_LAPIC;
	memset(&sv->lapic, 0, sizeof(sv->lapic));
	sv->mp_state = b->state;
	sv->events.nmi.pending = 0;
	sv->events.smi.latched_init = 0;
	if (dl)
		dl->data = 0;   /* the deadline is the bus's local APIC's (KVM without one reads 0) */
	return 0;
}

/* vCPU i's local APIC and MP state, mpvm's APIC bus to KVM's. */
static int lapic_from_bus(struct snap_xmode *x, unsigned int i, bool x2apic_ids, bool bsp,
			  const struct lapic_kvm_clock *c, const struct apic_bus_cpu_state *b, char *err,
			  size_t errlen)
{
	struct snap_vcpu *sv = &x->vcpu[i];
	struct kvm_msr_entry *dl = find_msr(x, i, MSR_IA32_TSC_DEADLINE);
	struct lapic_kvm k;
	unsigned int nmis;

	lapic_kvm_from_bus(b, sv->apic_id, x2apic_ids, bsp, c, &k);
	sv->flags |= SNAP_VCPU_LAPIC;
	sv->lapic = k.page;
	sv->sregs.apic_base = k.apic_base;
	sv->mp_state = k.mp_state;
	sv->events.sipi_vector = k.sipi_vector;
	sv->events.flags |= KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	nmis = sv->events.nmi.pending + k.nmi_pending;
	sv->events.nmi.pending = (uint8_t)(nmis > 2 ? 2 : nmis);
	sv->events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING;
	if (k.latched_init) {
		sv->events.flags |= KVM_VCPUEVENT_VALID_SMM;
		sv->events.smi.latched_init = 1;
	}
	if (!k.tsc_deadline)
		return 0;
	if (!dl) {
		/* KVM restores MSRs in the section's order: the deadline goes last, after the TSC. */
		struct kvm_msr_entry *m = realloc(x->msrs[i], (x->nmsrs[i] + 1) * sizeof(*m));

		if (!m)
			return errmsg(err, errlen, "out of memory");
		x->msrs[i] = m;
		dl = &m[x->nmsrs[i]++];
		memset(dl, 0, sizeof(*dl));
		dl->index = MSR_IA32_TSC_DEADLINE;
	}
	dl->data = k.tsc_deadline;
	return 0;
}

int snapshot_xmode_convert(struct vm *vm, const struct snap_file *f, const struct snap_machine *mach,
			   struct snap_xmode *x, char *err, size_t errlen)
{
	uint32_t from = mach->irqchip, to = (uint32_t)vm->opts->irqchip;
	const struct snap_section *chip = snap_file_find(f, T_CHIP, 0);
	size_t want = from == IRQCHIP_KERNEL ? sizeof(struct kernel_chip_state)
		    : from == IRQCHIP_SPLIT ? sizeof(struct platform_state)
		    : sizeof(struct platform_state) + vm->ncpus * sizeof(struct apic_bus_cpu_state);
	bool x2apic_ids = vm_needs_x2apic(vm);
	struct apic_bus_cpu_state *bus = NULL;
	struct platform_state plat;

	memset(x, 0, sizeof(*x));
	x->ncpus = vm->ncpus;
	if (!chip || chip->len != want)
		return errmsg(err, errlen, "section CHIP#0: %llu bytes, expected %zu for --irqchip %s",
			      chip ? (unsigned long long)chip->len : 0ull, want,
			      irqchip_mode_name((enum irqchip_mode)from));
	x->vcpu = calloc(vm->ncpus, sizeof(*x->vcpu));
	x->msrs = calloc(vm->ncpus, sizeof(*x->msrs));
	x->nmsrs = calloc(vm->ncpus, sizeof(*x->nmsrs));
	bus = calloc(vm->ncpus, sizeof(*bus));
	if (!x->vcpu || !x->msrs || !x->nmsrs || !bus)
		goto oom;
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		const struct snap_section *ms = snap_file_find(f, T_MSRS, i);

		if (snap_file_get(f, T_VCPU, i, &x->vcpu[i], sizeof(x->vcpu[i]), err, errlen))
			goto fail;
		if (!ms || ms->len % sizeof(struct kvm_msr_entry)) {
			errmsg(err, errlen, "section MSRS#%u: %s", i, ms ? "not a whole number of MSRs" : "missing");
			goto fail;
		}
		x->nmsrs[i] = (uint32_t)(ms->len / sizeof(struct kvm_msr_entry));
		x->msrs[i] = malloc(ms->len ? ms->len : 1);
		if (!x->msrs[i])
			goto oom;
		memcpy(x->msrs[i], ms->data, ms->len);
	}

	/* The chips outside the CPUs. */
	if (chips_to_platform(from, chip, mach->vm_ns, &plat, err, errlen))
		goto fail;

	/* The local APICs and MP states. */
	if (from == IRQCHIP_USER)
		memcpy(bus, chip->data + sizeof(plat), vm->ncpus * sizeof(*bus));
	if (kvm_lapics(from) != kvm_lapics(to)) {
		for (unsigned int i = 0; i < vm->ncpus; i++) {
			struct kvm_msr_entry *tsc = find_msr(x, i, MSR_IA32_TSC);
			struct lapic_kvm_clock c = { .vm_ns = mach->vm_ns, .tsc = tsc ? tsc->data : 0,
						     .tsc_khz = mach->tsc_khz };

			if (kvm_lapics(from) ? lapic_to_bus(x, i, x2apic_ids, &c, &bus[i], err, errlen)
					     : lapic_from_bus(x, i, x2apic_ids, i == vm->opts->boot_cpu, &c, &bus[i], err,
							      errlen))
				goto fail;
		}
	}

	/* The CHIP section the restoring mode reads. */
	x->chiplen = to == IRQCHIP_KERNEL ? sizeof(struct kernel_chip_state)
		   : to == IRQCHIP_SPLIT ? sizeof(plat) : sizeof(plat) + vm->ncpus * sizeof(*bus);
	x->chip = calloc(1, x->chiplen);
	if (!x->chip)
		goto oom;
	if (to == IRQCHIP_KERNEL) {
		platform_to_kernel(&plat, x->chip);
	} else {
		memcpy(x->chip, &plat, sizeof(plat));
		if (to == IRQCHIP_USER)
			memcpy((uint8_t *)x->chip + sizeof(plat), bus, vm->ncpus * sizeof(*bus));
	}
	free(bus);
	return 0;
oom:
	errmsg(err, errlen, "out of memory");
fail:
	free(bus);
	snapshot_xmode_free(x);
	return -1;
}

void snapshot_xmode_free(struct snap_xmode *x)
{
	for (unsigned int i = 0; x->msrs && i < x->ncpus; i++)
		free(x->msrs[i]);
	free(x->msrs);
	free(x->nmsrs);
	free(x->vcpu);
	free(x->chip);
	memset(x, 0, sizeof(*x));
}
