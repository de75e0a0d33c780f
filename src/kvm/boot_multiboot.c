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
#include "kvm/machine.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"


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
	if (o->legacy_pc && machine_legacy_pc(vm))
		goto out;
	ret = boot_enter_flat(&vm->vcpus[o->boot_cpu], false, &(struct kvm_regs){
		.rip = k.elf.entry, .rax = MB_BOOT_MAGIC, .rbx = MB_INFO_ADDR, .rflags = 0x2 });
out:
	free(cmdline);
	free(mod);
	return ret;
}
