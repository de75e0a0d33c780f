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

#include "core/guest_abi.h"
#include "core/multiboot.h"
#include "kvm/boot.h"
#include "kvm/irqchip.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"


/*
 * --legacy-pc: the state a PC BIOS leaves behind, which real-mode code
 * relies on (kvm-unit-tests' realmode test halts until the timer ticks):
 * the 8259 PICs initialized with vectors 0x08 (IRQ 0-7) and 0x70 (IRQ
 * 8-15), only IRQ 0 and the cascade (IRQ 2) unmasked; the 8254 PIT
 * channel 0 in mode 3 with count 65536 (18.2 Hz); a real-mode IVT whose
 * IRQ vectors point at tiny handlers that send the PICs an EOI and IRET,
 * and every other vector at an IRET. The interrupt controllers are the
 * irqchip's to set up (irqchip_ops.legacy_pc).
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
	return vm->irqchip->legacy_pc(vm);
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
