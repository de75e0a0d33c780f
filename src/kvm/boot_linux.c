/*
 * Booting a Linux kernel, the KVM side: core/linux_boot.c (with bzimage.c
 * and pvh.c) checks the image and plans the load; this copies the kernel,
 * the initrd and the command line into guest RAM, writes the zero page or
 * the PVH start info and the firmware tables, and gives the BSP its entry
 * state. Also where --kernel picks its loader.
 */
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/guest_abi.h"
#include "core/linux_boot.h"
#include "kvm/boot.h"
#include "kvm/boot_multiboot.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

static int copy_in(struct vm *vm, uint64_t gpa, const void *src, uint64_t len, uint64_t zero)
{
	uint8_t *dst = vm_gpa_to_hva(vm, gpa, len + zero);

	if (!dst) /* the plan was checked against the same map */
		return -1;
	memcpy(dst, src, len);
	memset(dst + len, 0, zero);
	return 0;
}

static int load_linux(struct vm *vm, const uint8_t *img, size_t len)
{
	const struct mpvm_options *o = vm->opts;
	uint64_t rsdp = o->no_acpi ? 0 : MPVM_ACPI_ADDR;
	struct linux_plan p;
	uint8_t *initrd = NULL;
	size_t initrd_len = 0;
	char why[256];
	int ret = -1;

	if (linux_plan_kernel(img, len, vm->mem_size, &p, why, sizeof(why))) {
		fprintf(stderr, "mpvm: --kernel %s: %s\n", o->kernel, why);
		return -1;
	}
	if (linux_check_cmdline(&p, o->cmdline, why, sizeof(why))) {
		fprintf(stderr, "mpvm: --cmdline: %s\n", why);
		return -1;
	}
	if (o->initrd) {
		initrd = boot_read_file("--initrd", o->initrd, vm->mem_size, &initrd_len);
		if (!initrd)
			return -1;
		if (linux_plan_initrd(&p, initrd_len, vm->mem_size, why, sizeof(why))) {
			fprintf(stderr, "mpvm: --initrd %s: %s\n", o->initrd, why);
			goto out;
		}
		if (copy_in(vm, p.initrd_addr, initrd, initrd_len, 0))
			goto bad_map;
	}
	memcpy(vm->mem + LINUX_CMDLINE_ADDR, o->cmdline, strlen(o->cmdline) + 1);
	if (boot_write_platform(vm))
		goto out;

	if (p.kind == KERNEL_BZIMAGE) {
		struct bzimage_params bp = {
			.memory = vm->mem_size, .cmdline_addr = LINUX_CMDLINE_ADDR,
			.initrd_addr = p.initrd_addr, .initrd_size = p.initrd_size, .rsdp_addr = rsdp,
		};

		if (copy_in(vm, p.bz.load_addr, img + p.bz.setup_size, p.bz.kernel_size, 0))
			goto bad_map;
		bzimage_build_zero_page(&p.bz, img, &bp, vm->mem + LINUX_INFO_ADDR);
		ret = boot_enter_linux64(vm, &vm->vcpus[o->boot_cpu], &(struct kvm_regs){
			.rip = p.bz.load_addr + BZ_ENTRY64_OFFSET, .rsi = LINUX_INFO_ADDR,
			.rflags = 0x2 });
	} else {
		struct pvh_params pp = {
			.memory = vm->mem_size, .info_addr = LINUX_INFO_ADDR,
			.cmdline_addr = LINUX_CMDLINE_ADDR, .initrd_addr = p.initrd_addr,
			.initrd_size = p.initrd_size, .rsdp_addr = rsdp,
		};

		for (unsigned int i = 0; i < p.pvh.elf.nsegs; i++) {
			const struct elf_segment *s = &p.pvh.elf.seg[i];

			if (copy_in(vm, s->paddr, img + s->offset, s->filesz, s->memsz - s->filesz))
				goto bad_map;
		}
		pvh_build_start_info(&pp, vm->mem + LINUX_INFO_ADDR);
		/* PVH entry state: 32-bit flat protected mode, paging off, EBX = start info. */
		ret = boot_enter_flat(&vm->vcpus[o->boot_cpu], false, &(struct kvm_regs){
			.rip = p.pvh.entry, .rbx = LINUX_INFO_ADDR, .rflags = 0x2 });
	}
	goto out;
bad_map:
	fprintf(stderr, "mpvm: --kernel %s: the load plan left guest RAM\n", o->kernel);
out:
	free(initrd);
	return ret;
}

int boot_kernel(struct vm *vm)
{
	const struct mpvm_options *o = vm->opts;
	size_t len;
	uint8_t *img = boot_read_file("--kernel", o->kernel, KERNEL_FILE_MAX, &len);
	enum kernel_kind kind;
	int ret;

	if (!img)
		return -1;
	kind = kernel_detect(img, len);
	/*
	 * A port with no device floats on a PC, and Linux probes absent ones
	 * (COM2-4, the floppy, VGA); mpvm's own test kernels never should.
	 */
	if (o->unknown_io == UNKNOWN_IO_AUTO)
		vm->unknown_io_ignore = kind != KERNEL_MULTIBOOT;
	ret = kind == KERNEL_MULTIBOOT ? boot_multiboot(vm, img, len) : load_linux(vm, img, len);
	free(img);
	return ret;
}
