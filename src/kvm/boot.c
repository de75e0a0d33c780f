#include "kvm/boot.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/acpi.h"
#include "core/firmware.h"
#include "core/guest_abi.h"
#include "core/input_file.h"
#include "core/linux_boot.h"
#include "core/mptable.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

extern const unsigned char mpvm_guest_image[];
extern const unsigned char mpvm_guest_image_end[];

/* BIOS data area fields (IBM PC/AT BIOS; MP spec 1.4 §4 uses 0x40e). */
#define BDA_EBDA_SEGMENT 0x40e
#define BDA_BASE_MEM_KB 0x413

/* Page-table entry bits (SDM vol. 3A §4.5). */
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* Flat segment descriptors (SDM vol. 3A §3.4.5): base 0, limit 4 GiB. */
static void write_gdt(uint8_t *gdt)
{
	put64(gdt + 0x00, 0);
	put64(gdt + MPVM_BOOT_SEL_CODE64, 0x00af9b000000ffffull); /* L=1, D=0, execute/read */
	put64(gdt + MPVM_BOOT_SEL_DATA, 0x00cf93000000ffffull);   /* read/write, 4 KiB granular */
	put64(gdt + MPVM_BOOT_SEL_CODE32, 0x00cf9b000000ffffull); /* D=1 */
}

/* Identity map of 0-4 GiB with 2 MiB pages: the LAPIC and IOAPIC pages included. */
static void write_page_tables(uint8_t *mem)
{
	uint8_t *pml4 = mem + MPVM_BOOT_PML4_ADDR;
	uint8_t *pdpt = mem + MPVM_BOOT_PDPT_ADDR;

	memset(pml4, 0, 0x6000);
	put64(pml4, MPVM_BOOT_PDPT_ADDR | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4; i++) {
		uint8_t *pd = mem + MPVM_BOOT_PD_ADDR + i * 0x1000;

		put64(pdpt + i * 8, (MPVM_BOOT_PD_ADDR + i * 0x1000) | PTE_P | PTE_RW);
		for (uint64_t j = 0; j < 512; j++)
			put64(pd + j * 8, ((i << 30) | (j << 21)) | PTE_P | PTE_RW | PTE_PS);
	}
}

static int write_tables_at(struct vm *vm, uint64_t acpi_addr, uint64_t mp_addr)
{
	const struct mpvm_options *o = vm->opts;
	uint32_t *ids = calloc(vm->ncpus, sizeof(*ids));
	/* vCPUs 0 .. --cpus-1 present, up to maxcpus possible (CPU hotplug: kvm/hotplug.c) */
	struct fw_topology t = { .ncpus = o->cpus, .maxcpus = vm->ncpus, .boot_cpu = o->boot_cpu };
	char err[256];
	int ret = -1;

	if (!ids) {
		fprintf(stderr, "mpvm: out of memory for the firmware tables\n");
		return -1;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++)
		ids[i] = vm->vcpus[i].apic_id;
	t.apic_ids = ids;
	t.ioapic_id = vm->ioapic_id;
	for (uint32_t i = 0; i < vm->cpuid->nent; i++) {
		if (vm->cpuid->entries[i].function == 1) {
			t.cpu_signature = vm->cpuid->entries[i].eax;
			t.cpu_features = vm->cpuid->entries[i].edx;
		}
	}

	if (!o->no_acpi &&
	    acpi_build(&t, vm->mem + acpi_addr, MPVM_ACPI_END - MPVM_ACPI_ADDR,
		       acpi_addr, err, sizeof(err)) < 0) {
		fprintf(stderr, "mpvm: ACPI tables: %s\n", err);
		goto out;
	}
	if (!o->no_mptable &&
	    mptable_build(&t, vm->mem + mp_addr, MPVM_MPTABLE_END - MPVM_MPTABLE_ADDR,
			  mp_addr, err, sizeof(err)) < 0) {
		/* More than 255 CPUs: only ACPI can describe them; say so unless ACPI is off too. */
		if (o->no_acpi) {
			fprintf(stderr, "mpvm: MP table: %s\n", err);
			goto out;
		}
		fprintf(stderr, "mpvm: note: no MP table for this VM (%s); the guest gets ACPI only\n", err);
	}
	ret = 0;
out:
	free(ids);
	return ret;
}

/* At their fixed places: ACPI at 0xe0000, the MP table at 0xf0000, SMBIOS at 0xf2000. */
static int write_tables(struct vm *vm)
{
	if (write_tables_at(vm, MPVM_ACPI_ADDR, MPVM_MPTABLE_ADDR))
		return -1;
	return boot_smbios_place(vm);
}

int boot_write_tables_at(struct vm *vm, uint64_t acpi_addr, uint64_t mp_addr)
{
	if (acpi_addr + (MPVM_ACPI_END - MPVM_ACPI_ADDR) > vm->low_size ||
	    mp_addr + (MPVM_MPTABLE_END - MPVM_MPTABLE_ADDR) > vm->low_size) {
		fprintf(stderr, "mpvm: firmware tables at 0x%llx/0x%llx: not in low RAM\n",
			(unsigned long long)acpi_addr, (unsigned long long)mp_addr);
		return -1;
	}
	return write_tables_at(vm, acpi_addr, mp_addr);
}

/* Flat segments from the GDT at gdt_base, long mode with the boot page tables or 32-bit PM. */
static int enter_flat(struct vcpu *bsp, bool long_mode, uint64_t gdt_base, uint16_t gdt_limit,
		      uint16_t code_sel, uint16_t data_sel, const struct kvm_regs *r)
{
	struct kvm_sregs s;
	/* Flat 4 GiB segments from the boot GDT (SDM vol. 3A §3.4.5). */
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff,
		.selector = code_sel,
		.type = 0xb, .present = 1, .dpl = 0, .db = !long_mode, .s = 1, .l = long_mode, .g = 1,
	};
	struct kvm_segment data = {
		.base = 0, .limit = 0xffffffff, .selector = data_sel,
		.type = 0x3, .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};

	if (ioctl(bsp->fd, KVM_GET_SREGS, &s) < 0)
		goto fail;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.gdt.base = gdt_base;
	s.gdt.limit = gdt_limit;
	s.idt.base = 0;
	s.idt.limit = 0;
	if (long_mode) {
		s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG;
		s.cr3 = MPVM_BOOT_PML4_ADDR;
		s.cr4 = CR4_PAE;
		s.efer = EFER_LME | EFER_LMA;
	} else { /* 32-bit protected mode, paging off (the multiboot entry state) */
		s.cr0 = CR0_PE | CR0_ET;
		s.cr3 = s.cr4 = s.efer = 0;
	}
	if (ioctl(bsp->fd, KVM_SET_SREGS, &s) < 0 || ioctl(bsp->fd, KVM_SET_REGS, r) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "mpvm: vCPU %u: setting the BSP's entry registers: %s\n", bsp->id, strerror(errno));
	return -1;
}

int boot_enter_flat(struct vcpu *bsp, bool long_mode, const struct kvm_regs *r)
{
	return enter_flat(bsp, long_mode, MPVM_BOOT_GDT_ADDR, 4 * 8 - 1,
			  long_mode ? MPVM_BOOT_SEL_CODE64 : MPVM_BOOT_SEL_CODE32, MPVM_BOOT_SEL_DATA, r);
}

/*
 * The 64-bit boot protocol (boot.rst, "64-bit Boot Protocol"): a GDT with
 * flat __BOOT_CS (0x10, execute/read) and __BOOT_DS (0x18, read/write), CS
 * and DS/ES/SS loaded from them, paging on with an identity map of the
 * kernel, the zero page and the command line (the boot page tables map
 * all of 0-4 GiB), interrupts off.
 */
int boot_enter_linux64(struct vm *vm, struct vcpu *bsp, const struct kvm_regs *r)
{
	uint8_t *gdt = vm->mem + LINUX_GDT_ADDR;

	put64(gdt + 0x00, 0);
	put64(gdt + 0x08, 0);
	put64(gdt + LINUX_BOOT_CS, 0x00af9b000000ffffull); /* L=1, D=0, execute/read */
	put64(gdt + LINUX_BOOT_DS, 0x00cf93000000ffffull); /* read/write, 4 KiB granular */
	write_page_tables(vm->mem);
	return enter_flat(bsp, true, LINUX_GDT_ADDR, LINUX_GDT_LIMIT, LINUX_BOOT_CS, LINUX_BOOT_DS, r);
}

uint8_t *boot_read_file(const char *opt, const char *path, uint64_t max, size_t *len)
{
	char why[256];
	uint8_t *p = input_file_read(path, max, len, why, sizeof(why));

	if (!p)
		fprintf(stderr, "mpvm: %s %s: %s\n", opt, path, why);
	return p;
}

int boot_builtin_guest(struct vm *vm)
{
	const struct mpvm_options *o = vm->opts;
	size_t image = (size_t)(mpvm_guest_image_end - mpvm_guest_image);
	size_t cmdlen = strlen(o->cmdline);
	struct mpvm_boot_info info = {
		.magic = MPVM_BOOT_INFO_MAGIC,
		.version = MPVM_BOOT_INFO_VERSION,
		.mem_size = vm->mem_size,
		.cmdline_addr = MPVM_BOOT_CMDLINE_ADDR,
		.cmdline_len = (unsigned int)cmdlen,
	};
	uint8_t *mem = vm->mem;

	if (cmdlen >= MPVM_BOOT_CMDLINE_MAX) {
		fprintf(stderr, "mpvm: --cmdline: %zu bytes; the built-in guest takes at most %d\n",
			cmdlen, MPVM_BOOT_CMDLINE_MAX - 1);
		return -1;
	}
	if (MPVM_GUEST_LOAD_ADDR + image > vm->low_size) {
		fprintf(stderr, "mpvm: --memory: too small for the built-in guest\n");
		return -1;
	}

	put16(mem + BDA_EBDA_SEGMENT, MPVM_EBDA_ADDR >> 4);
	put16(mem + BDA_BASE_MEM_KB, MPVM_EBDA_ADDR >> 10);
	write_gdt(mem + MPVM_BOOT_GDT_ADDR);
	write_page_tables(mem);
	memcpy(mem + MPVM_BOOT_INFO_ADDR, &info, sizeof(info));
	memcpy(mem + MPVM_BOOT_CMDLINE_ADDR, o->cmdline, cmdlen + 1);
	memcpy(mem + MPVM_GUEST_LOAD_ADDR, mpvm_guest_image, image);
	if (write_tables(vm))
		return -1;
	return boot_enter_flat(&vm->vcpus[o->boot_cpu], true, &(struct kvm_regs){
		.rip = MPVM_GUEST_LOAD_ADDR, .rsi = MPVM_BOOT_INFO_ADDR,
		.rsp = MPVM_BOOT_STACK_TOP, .rflags = 0x2 });
}

/* What every guest gets whatever it is: BDA pointers, the boot GDT, ACPI and MP tables. */
int boot_write_platform(struct vm *vm)
{
	put16(vm->mem + BDA_EBDA_SEGMENT, MPVM_EBDA_ADDR >> 4);
	put16(vm->mem + BDA_BASE_MEM_KB, MPVM_EBDA_ADDR >> 10);
	write_gdt(vm->mem + MPVM_BOOT_GDT_ADDR);
	return write_tables(vm);
}
