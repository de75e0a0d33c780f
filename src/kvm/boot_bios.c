/*
 * --bios FILE: a raw firmware image, the way a PC (and QEMU's -bios, and
 * kvmtool's flat images) has one: read-only just below 4 GiB, its last
 * 128 KiB mirrored read-only below 1 MiB (core/bios_image.h has the
 * layout), and the BSP left in the state KVM gives a vCPU at reset:
 * real mode, CS selector 0xf000 with base 0xffff0000, IP 0xfff0, so its
 * first instruction is the image's 16 bytes below 4 GiB. The other vCPUs
 * are APs waiting for INIT and SIPI, as always.
 *
 * The image sets up the PC itself: mpvm does not program the PICs or the
 * PIT for it (--legacy-pc is refused with --bios) and writes no real-mode
 * IVT. Its devices are those a multiboot kernel gets: COM1, the exit
 * port, fw_cfg (which gives the CPU count and RAM size as QEMU does),
 * PCI configuration ports with no devices, and --debug-exit and
 * --pc-testdev when asked.
 *
 * mpvm's ACPI and MP tables normally live at 0xe0000-0xfffff, which the
 * mirror takes: with --bios the mirror wins and the tables go to the top of
 * low RAM instead (ACPI in its last 128 KiB, the MP table in its last
 * 64 KiB), with copies of the RSDP and of the MP floating pointer in the
 * first KiB of the EBDA (0x9fc00, the BDA pointing at it), where an OS
 * looks first. Such images rarely need them; they are there if they do, as
 * long as the image leaves that RAM alone.
 *
 * Guest writes to the ROM leave KVM as MMIO writes (KVM_MEM_READONLY):
 * the machine's ROM ranges drop them, as a ROM would (machine.c).
 */
#include "kvm/boot.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "core/bios_image.h"
#include "core/guest_abi.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

/* vm.c has slots 0 (low RAM below 0xe0000), 1 (RAM from 4 GiB) and 2 (low RAM from 1 MiB). */
#define SLOT_WINDOW_RAM 3 /* 0xe0000 up to the mirror, when the image is under 128 KiB */
#define SLOT_MIRROR 4
#define SLOT_ROM 5

#define BDA_EBDA_SEGMENT 0x40e
#define BDA_BASE_MEM_KB 0x413
#define ACPI_RSDP_LEN 36   /* ACPI 2.0+ RSDP */
#define MP_FLOATING_LEN 16
#define EBDA_MP_OFFSET 0x30 /* the MP floating pointer after the RSDP, 16-byte aligned */
#define TABLE_AREA (64u << 10)

static int map_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva, bool rom)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .flags = rom ? KVM_MEM_READONLY : 0, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) == 0)
		return 0;
	fprintf(stderr, "mpvm: --bios: KVM_SET_USER_MEMORY_REGION for 0x%llx-0x%llx%s: %s\n",
		(unsigned long long)gpa, (unsigned long long)(gpa + size - 1),
		rom ? " (read-only)" : "", strerror(errno));
	return -1;
}

/* The tables at the top of low RAM; the RSDP and MP floating pointer copied into the EBDA. */
static int write_tables(struct vm *vm)
{
	uint64_t acpi = vm->low_size - 2 * TABLE_AREA, mp = vm->low_size - TABLE_AREA;
	uint8_t *mem = vm->mem;
	uint16_t ebda_seg = MPVM_EBDA_ADDR >> 4, base_kb = MPVM_EBDA_ADDR >> 10;

	if (boot_write_tables_at(vm, acpi, mp))
		return -1;
	memcpy(mem + BDA_EBDA_SEGMENT, &ebda_seg, sizeof(ebda_seg));
	memcpy(mem + BDA_BASE_MEM_KB, &base_kb, sizeof(base_kb));
	if (!memcmp(mem + acpi, "RSD PTR ", 8))
		memcpy(mem + MPVM_EBDA_ADDR, mem + acpi, ACPI_RSDP_LEN);
	if (!memcmp(mem + mp, "_MP_", 4)) /* none with more than 255 CPUs or --no-mptable */
		memcpy(mem + MPVM_EBDA_ADDR + EBDA_MP_OFFSET, mem + mp, MP_FLOATING_LEN);
	return 0;
}

/*
 * The BSP as KVM leaves a vCPU at creation and reset (SDM vol. 3A §9.1.1):
 * set again here so that nothing done to it before (CPUID, MSRs) can move
 * the first instruction away from the reset vector.
 */
static int reset_vector(struct vcpu *bsp)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(bsp->fd, KVM_GET_SREGS, &s) < 0 || ioctl(bsp->fd, KVM_GET_REGS, &r) < 0)
		goto fail;
	s.cs = (struct kvm_segment){
		.selector = 0xf000, .base = 0xffff0000, .limit = 0xffff,
		.type = 0xb, .present = 1, .s = 1,
	};
	s.cr0 &= ~1ull; /* real mode */
	r.rip = 0xfff0;
	r.rflags = 0x2;
	if (ioctl(bsp->fd, KVM_SET_SREGS, &s) < 0 || ioctl(bsp->fd, KVM_SET_REGS, &r) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "mpvm: vCPU %u: setting the reset state: %s\n", bsp->id, strerror(errno));
	return -1;
}

int boot_bios_map(struct vm *vm)
{
	const struct mpvm_options *o = vm->opts;
	struct bios_layout l;
	char err[512];
	size_t size;
	uint8_t *img, *rom;

	if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
		fprintf(stderr, "mpvm: --bios: this host's KVM lacks KVM_CAP_READONLY_MEM, which mpvm "
			"needs to map a firmware image as ROM\n");
		return -1;
	}
	img = bios_image_read(o->bios, &size, err, sizeof(err));
	if (!img) {
		fprintf(stderr, "mpvm: %s\n", err);
		return -1;
	}
	if (bios_image_layout(size, &l, err, sizeof(err))) { /* bios_image_read checked it */
		fprintf(stderr, "mpvm: --bios %s: %s\n", o->bios, err);
		free(img);
		return -1;
	}
	rom = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rom == MAP_FAILED) {
		fprintf(stderr, "mpvm: --bios %s: cannot map %zu bytes: %s\n", o->bios, size, strerror(errno));
		free(img);
		return -1;
	}
	memcpy(rom, img, size);
	free(img);
	mprotect(rom, size, PROT_READ); /* mpvm does not write it either */
	vm->bios = rom;
	vm->bios_size = size;

	if ((l.mirror_base > BIOS_MIRROR_WINDOW &&
	     map_slot(vm, SLOT_WINDOW_RAM, BIOS_MIRROR_WINDOW, l.mirror_base - BIOS_MIRROR_WINDOW,
		      vm->mem + BIOS_MIRROR_WINDOW, false)) ||
	    map_slot(vm, SLOT_MIRROR, l.mirror_base, l.mirror_size, rom + l.mirror_offset, true) ||
	    map_slot(vm, SLOT_ROM, l.rom_base, l.size, rom, true))
		return -1;
	return 0;
}

int boot_bios(struct vm *vm)
{
	if (write_tables(vm))
		return -1;
	return reset_vector(&vm->vcpus[vm->opts->boot_cpu]);
}

void bios_unmap(struct vm *vm)
{
	if (vm->bios)
		munmap(vm->bios, vm->bios_size);
	vm->bios = NULL;
	vm->bios_size = 0;
}
