/*
 * The SMBIOS tables (core/smbios.h) for this VM, put where firmware puts
 * them. Without firmware (the built-in guest, Linux and multiboot kernels)
 * mpvm is the firmware: the entry point goes at MPVM_SMBIOS_ADDR, a 16-byte
 * boundary in 0xf0000-0xfffff, where an OS without EFI scans for "_SM3_"
 * (DSP0134 §5.2.2; Linux's dmi_scan_machine), and the structure table right
 * after it, all in the 0xe0000-0xfffff range the memory map reserves
 * (core/memmap.c). With --bios that range is the image's, so the tables go
 * to the image through fw_cfg as QEMU offers them to SeaBIOS and OVMF:
 * "etc/smbios/smbios-anchor" (the entry point, which the firmware points
 * at wherever it puts the table) and "etc/smbios/smbios-tables".
 */
#include "kvm/boot.h"

#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/guest_abi.h"
#include "core/smbios.h"
#include "devices/fw_cfg.h"
#include "kvm/vm.h"

static struct smbios_shape shape_of(const struct vm *vm)
{
	const struct cpu_topology *t = &vm->opts->topology;
	struct smbios_shape s = {
		.sockets = t->sockets, .cores = t->cores, .threads = t->threads,
		.present = vm->opts->cpus, .max_cpus = t->maxcpus,
		.low_ram = vm->low_size, .high_ram = vm->high_size,
	};

	if (!t->sockets || t->maxcpus < vm->opts->cpus) /* options not from the parser: --cpus N */
		s = (struct smbios_shape){ .sockets = 1, .cores = vm->opts->cpus, .threads = 1,
					   .present = vm->opts->cpus, .max_cpus = vm->opts->cpus,
					   .low_ram = vm->low_size, .high_ram = vm->high_size };
	for (uint32_t i = 0; i < vm->cpuid->nent; i++) {
		if (vm->cpuid->entries[i].function == 1) {
			s.cpu_signature = vm->cpuid->entries[i].eax;
			s.cpu_features = vm->cpuid->entries[i].edx;
		}
	}
	return s;
}

int boot_smbios_place(struct vm *vm)
{
	struct smbios_shape s = shape_of(vm);
	uint64_t size = MPVM_SMBIOS_END - MPVM_SMBIOS_ADDR;
	char err[256];

	if (MPVM_SMBIOS_END > vm->low_size) {
		fprintf(stderr, "mpvm: SMBIOS tables: low RAM ends below 0x%x\n", MPVM_SMBIOS_END);
		return -1;
	}
	/* Too many sockets for the F segment (about 900): the guest goes without, as a PC may. */
	if (smbios_build(&s, vm->mem + MPVM_SMBIOS_ADDR, size, MPVM_SMBIOS_ADDR, err, sizeof(err)) < 0)
		fprintf(stderr, "mpvm: note: no SMBIOS tables for this VM (%s)\n", err);
	return 0;
}

int boot_smbios_fw_cfg(struct vm *vm, struct fw_cfg *f)
{
	struct smbios_shape s = shape_of(vm);
	size_t size = SMBIOS_TABLE_OFFSET + 64 * 1024 + (size_t)s.sockets * 128;
	uint8_t *buf = malloc(size);
	char err[256];
	long n;
	int ret = -1;

	if (!buf) {
		fprintf(stderr, "mpvm: out of memory for the SMBIOS tables\n");
		return -1;
	}
	/* Built for address 0: the firmware sets the table's address when it places it. */
	n = smbios_build(&s, buf, size, 0, err, sizeof(err));
	if (n < 0)
		fprintf(stderr, "mpvm: SMBIOS tables: %s\n", err);
	else if (fw_cfg_add_file(f, "etc/smbios/smbios-anchor", buf, SMBIOS_EP_LEN) ||
		 fw_cfg_add_file(f, "etc/smbios/smbios-tables", buf + SMBIOS_TABLE_OFFSET,
				 (size_t)n - SMBIOS_TABLE_OFFSET))
		fprintf(stderr, "mpvm: out of memory for the SMBIOS fw_cfg files\n");
	else
		ret = 0;
	free(buf);
	return ret;
}
