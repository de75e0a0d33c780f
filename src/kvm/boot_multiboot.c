/*
 * Booting a multiboot (v1) kernel: the KVM side. core/multiboot.c checks
 * the image and plans the load; this copies it into guest RAM and sets the
 * BSP's registers to the multiboot entry state (Multiboot 0.6.96 §3.2):
 * 32-bit protected mode, paging off, flat CS/DS/ES/FS/GS/SS from mpvm's boot
 * GDT (CS = 0x18, the others 0x10), EFLAGS.IF = 0, EAX = 0x2badb002,
 * EBX = the information structure.
 */
#include "kvm/boot_multiboot.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/fw_cfg_store.h"
#include "core/guest_abi.h"
#include "core/multiboot.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/pci_nodev.h"
#include "kvm/boot.h"
#include "kvm/platform.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"


/*
 * --legacy-pc: the state a PC BIOS leaves behind, which real-mode code
 * relies on (kvm-unit-tests' realmode test halts until the timer ticks):
 * the 8259 PICs initialized with vectors 0x08 (IRQ 0-7) and 0x70 (IRQ
 * 8-15), only IRQ 0 and the cascade (IRQ 2) unmasked; the 8254 PIT
 * channel 0 in mode 3 with count 65536 (18.2 Hz); a real-mode IVT whose
 * IRQ vectors point at tiny handlers that send the PICs an EOI and IRET,
 * and every other vector at an IRET. KVM's PICs and PIT with the in-kernel
 * irqchip, mpvm's (platform_legacy_pc()) in split and user mode.
 */
#define LEGACY_STUBS_ADDR 0xffe00u /* f000:fe00, above the MP table */

static int setup_legacy_pc(struct vm *vm)
{
	static const uint8_t stubs[] = {
		/* +0: IRQ 0-7: push ax; mov al, 0x20; out 0x20, al; pop ax; iret */
		0x50, 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf, 0x90,
		/* +8: IRQ 8-15: push ax; mov al, 0x20; out 0xa0, al; out 0x20, al; pop ax; iret */
		0x50, 0xb0, 0x20, 0xe6, 0xa0, 0xe6, 0x20, 0x58, 0xcf, 0x90,
		/* +18: anything else: iret */
		0xcf,
	};
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	uint8_t *ivt = vm->mem;

	memcpy(vm->mem + LEGACY_STUBS_ADDR, stubs, sizeof(stubs));
	for (unsigned int v = 0; v < 256; v++) {
		uint16_t off = (LEGACY_STUBS_ADDR & 0xffff) + 18, seg = 0xf000;

		if (v >= 0x08 && v < 0x10)
			off = LEGACY_STUBS_ADDR & 0xffff;
		else if (v >= 0x70 && v < 0x78)
			off = (LEGACY_STUBS_ADDR & 0xffff) + 8;
		memcpy(ivt + v * 4, &off, 2);
		memcpy(ivt + v * 4 + 2, &seg, 2);
	}
	if (vm->opts->irqchip != IRQCHIP_KERNEL)
		return platform_legacy_pc(vm);
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

int boot_multiboot(struct vm *vm, const uint8_t *img, size_t len)
{
	const struct mpvm_options *o = vm->opts;
	struct mb_kernel k;
	struct mb_info_params ip = { .memory = vm->mem_size };
	uint8_t *mod = NULL;
	size_t modlen = 0;
	char why[256];
	char *cmdline = NULL;
	int ret = -1;

	if (mb_parse(img, len, vm->mem_size, &k, why, sizeof(why))) {
		fprintf(stderr, "mpvm: --kernel %s: %s\n", o->kernel, why);
		goto out;
	}
	for (unsigned int i = 0; i < k.elf.nsegs; i++) {
		const struct elf_segment *s = &k.elf.seg[i];
		uint8_t *dst = vm_gpa_to_hva(vm, s->paddr, s->memsz);

		if (!dst) { /* mb_parse checked it against the same map */
			fprintf(stderr, "mpvm: --kernel %s: segment at 0x%llx is not in guest RAM\n",
				o->kernel, (unsigned long long)s->paddr);
			goto out;
		}
		memcpy(dst, img + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	if (o->initrd) {
		uint64_t addr;
		uint8_t *dst;

		mod = boot_read_file("--initrd", o->initrd, vm->mem_size, &modlen);
		if (!mod)
			goto out;
		if (mb_place_module(&k, modlen, vm->mem_size, &addr, why, sizeof(why)) ||
		    !(dst = vm_gpa_to_hva(vm, addr, modlen))) {
			fprintf(stderr, "mpvm: --initrd %s: %s\n", o->initrd, why);
			goto out;
		}
		memcpy(dst, mod, modlen);
		ip.has_module = 1;
		ip.mod_start = (uint32_t)addr;
		ip.mod_end = (uint32_t)(addr + modlen);
	}
	cmdline = mb_make_cmdline(o->kernel, o->cmdline);
	if (!cmdline) {
		fprintf(stderr, "mpvm: out of memory for the command line\n");
		goto out;
	}
	ip.cmdline = cmdline;
	if (mb_build_info(&ip, vm->mem + MB_INFO_ADDR, MB_INFO_AREA_END - MB_INFO_ADDR,
			  why, sizeof(why))) {
		fprintf(stderr, "mpvm: --kernel %s: %s\n", o->kernel, why);
		goto out;
	}
	if (boot_write_platform(vm))
		goto out;
	if (o->legacy_pc && setup_legacy_pc(vm))
		goto out;
	ret = boot_enter_flat(&vm->vcpus[o->boot_cpu], false, &(struct kvm_regs){
		.rip = k.elf.entry, .rax = MB_BOOT_MAGIC, .rbx = MB_INFO_ADDR, .rflags = 0x2 });
out:
	free(cmdline);
	free(mod);
	return ret;
}

/* isa-debug-exit (devices/debug_exit.h): a write of V stops the VM with (V << 1) | 1. */
static int debug_exit_pio(void *opaque, struct vcpu *vcpu, uint16_t port, bool is_write,
			  uint32_t *data, unsigned int size)
{
	struct vm *vm = opaque;

	(void)vcpu;
	(void)port;
	(void)size;
	if (!is_write) {
		*data = 0;
		return 0;
	}
	vm_request_stop(vm, VM_STOP_GUEST_EXIT, debug_exit_status(*data));
	return -1; /* this vCPU stops here */
}

/*
 * pc-testdev's IRQ lines, ports 0x2000-0x2017: a write of V sets GSI
 * (port - 0x2000) to level !!V: KVM_IRQ_LINE with the in-kernel irqchip,
 * mpvm's own IOAPIC and PIC otherwise.
 */
#define TESTDEV_IRQ_PORT 0x2000
#define TESTDEV_IRQ_PORTS 24

static int testdev_irq_pio(void *opaque, struct vcpu *vcpu, uint16_t port, bool is_write,
			   uint32_t *data, unsigned int size)
{
	struct vm *vm = opaque;
	unsigned int gsi = (unsigned int)(port - TESTDEV_IRQ_PORT);

	(void)size;
	if (!is_write) {
		*data = 0;
		return 0;
	}
	if (vm_set_gsi(vm, gsi, *data != 0)) {
		vcpu_guest_fault(vcpu, "pc-testdev: KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
		return -1;
	}
	return 0;
}

int vm_setup_fw_devices(struct vm *vm)
{
	const struct mpvm_options *o = vm->opts;

	vm->fw_cfg = fw_cfg_create(vm->ncpus, vm->mem_size);
	if (!vm->fw_cfg) {
		fprintf(stderr, "mpvm: out of memory for fw_cfg\n");
		return -1;
	}
	if (pio_register(&vm->pio, FW_CFG_PORT_SEL, FW_CFG_PORTS, "fw_cfg", fw_cfg_pio, vm->fw_cfg)) {
		fprintf(stderr, "mpvm: fw_cfg: I/O ports 0x%x-0x%x are taken\n", FW_CFG_PORT_SEL,
			FW_CFG_PORT_SEL + FW_CFG_PORTS - 1);
		return -1;
	}
	if (o->debug_exit &&
	    pio_register(&vm->pio, o->debug_exit_port, DEBUG_EXIT_PORTS, "isa-debug-exit",
			 debug_exit_pio, vm)) {
		fprintf(stderr, "mpvm: --debug-exit=0x%x: I/O ports 0x%x-0x%x overlap another device's\n",
			o->debug_exit_port, o->debug_exit_port, o->debug_exit_port + DEBUG_EXIT_PORTS - 1);
		return -1;
	}
	/* A multiboot kernel or a --bios image expects a PC: PCI config ports, with no devices behind them. */
	if (o->kernel || o->bios) {
		vm->pci = calloc(1, sizeof(*vm->pci));
		if (!vm->pci ||
		    pio_register(&vm->pio, PCI_CONF_PORT, PCI_CONF_PORTS, "PCI config", pci_nodev_pio, vm->pci)) {
			fprintf(stderr, "mpvm: cannot claim the PCI configuration ports 0x%x-0x%x\n",
				PCI_CONF_PORT, PCI_CONF_PORT + PCI_CONF_PORTS - 1);
			return -1;
		}
	}
	if (o->pc_testdev) {
		vm->testdev = calloc(1, sizeof(*vm->testdev));
		if (!vm->testdev ||
		    pio_register(&vm->pio, PC_TESTDEV_PORT, PC_TESTDEV_PORTS, "pc-testdev",
				 pc_testdev_pio, vm->testdev)) {
			fprintf(stderr, "mpvm: --pc-testdev: cannot claim I/O ports 0x%x-0x%x\n",
				PC_TESTDEV_PORT, PC_TESTDEV_PORT + PC_TESTDEV_PORTS - 1);
			return -1;
		}
		if (pio_register(&vm->pio, TESTDEV_IRQ_PORT, TESTDEV_IRQ_PORTS, "pc-testdev IRQ lines",
				 testdev_irq_pio, vm)) {
			fprintf(stderr, "mpvm: --pc-testdev: cannot claim I/O ports 0x%x-0x%x\n",
				TESTDEV_IRQ_PORT, TESTDEV_IRQ_PORT + TESTDEV_IRQ_PORTS - 1);
			return -1;
		}
	}
	return 0;
}

void vm_destroy_fw_devices(struct vm *vm)
{
	fw_cfg_destroy(vm->fw_cfg);
	free(vm->testdev);
	free(vm->pci);
	vm->pci = NULL;
	vm->fw_cfg = NULL;
	vm->testdev = NULL;
}
