/*
 * --irqchip kernel: the local APICs, the IOAPIC, the PICs and the PIT are
 * KVM's (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2), and so is the MP-state
 * machine: KVM takes INIT and SIPI itself and a vCPU waiting for them
 * blocks inside KVM_RUN. mpvm only drives interrupt lines and observes.
 */
#include "kvm/irqchip.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm/vcpu.h"
#include "kvm/vm.h"

static int kernel_create(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		fprintf(stderr, "mpvm: KVM_CREATE_IRQCHIP: %s\n", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		fprintf(stderr, "mpvm: KVM_CREATE_PIT2: %s\n", strerror(errno));
		return -1;
	}
	return kvm_lapic_vm_init(vm);
}



/*
 * --legacy-pc: KVM's PICs and PIT get the state a PC BIOS leaves (the
 * port writes platform_legacy_pc() makes, as KVM_SET_IRQCHIP and
 * KVM_SET_PIT2 state): vectors 0x08 and 0x70, IRQ 0 and the cascade
 * unmasked, channel 0 in mode 3 with count 65536 (18.2 Hz).
 */
static int kernel_legacy_pc(struct vm *vm)
{
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;

	for (unsigned int id = KVM_IRQCHIP_PIC_MASTER; id <= KVM_IRQCHIP_PIC_SLAVE; id++) {
		chip = (struct kvm_irqchip){ .chip_id = id };
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
			goto fail;
		chip.chip.pic.irq_base = id == KVM_IRQCHIP_PIC_MASTER ? 0x08 : 0x70;
		chip.chip.pic.imr = id == KVM_IRQCHIP_PIC_MASTER ? 0xfa : 0xff;
		chip.chip.pic.init_state = 0;
		chip.chip.pic.init4 = 1;
		chip.chip.pic.auto_eoi = 0;
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			goto fail;
	}
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0)
		goto fail;
	pit.channels[0].count = 0x10000;
	pit.channels[0].mode = 3;
	pit.channels[0].rw_mode = 3;    /* low byte, then high byte */
	pit.channels[0].read_state = 3;
	pit.channels[0].write_state = 3;
	pit.channels[0].bcd = 0;
	pit.channels[0].gate = 1;
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "mpvm: --legacy-pc: setting up the PICs and the PIT: %s\n", strerror(errno));
	return -1;
}





static int kernel_save(struct vm *vm, void *buf, size_t *len)
{
	struct kernel_chip_state st;

	if (*len < sizeof(st)) {
		errno = ENOSPC;
		return -1;
	}
	memset(&st, 0, sizeof(st));
	for (unsigned int id = 0; id < 3; id++) {
		st.chip[id].chip_id = id;
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &st.chip[id]) < 0)
			return -1;
	}
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &st.pit) < 0)
		return -1;
	memcpy(buf, &st, sizeof(st));
	*len = sizeof(st);
	return 0;
}

static int kernel_load(struct vm *vm, const void *buf, size_t len)
{
	struct kernel_chip_state st;

	if (len != sizeof(st)) {
		errno = EINVAL; /* not this mode's section */
		return -1;
	}
	memcpy(&st, buf, sizeof(st));
	for (unsigned int id = 0; id < 3; id++) {
		if (st.chip[id].chip_id != id) {
			errno = EINVAL;
			return -1;
		}
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &st.chip[id]) < 0)
			return -1;
	}
	return ioctl(vm->vm_fd, KVM_SET_PIT2, &st.pit) < 0 ? -1 : 0;
}

static int kernel_set_gsi(struct vm *vm, unsigned int gsi, bool level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = level };

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -1 : 0;
}

const struct irqchip_ops irqchip_kernel_ops = {
	.create = kernel_create,
	.vcpu_init = kvm_lapic_vcpu_init,
	.legacy_pc = kernel_legacy_pc,
	.vcpu_runnable = kvm_lapic_always_runnable,
	.vcpu_after_run = kvm_lapic_after_run,
	.set_gsi = kernel_set_gsi,
	.mp_state = kvm_lapic_mp_state,
	.save = kernel_save,
	.load = kernel_load,
};
