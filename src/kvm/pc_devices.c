#include "kvm/pc_devices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/acpi.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/pc_misc.h"
#include "devices/pci_nodev.h"
#include "devices/rtc.h"
#include "kvm/vm.h"

struct pc_devices {
	struct acpi_pm pm;
	struct rtc rtc;
	struct i8042 kbc;
	struct post_port post;
	struct sysctl_a sysctl_a;
};

static uint64_t pm_now_ns(void *opaque)
{
	(void)opaque;
	return monotonic_ns();
}

static int64_t rtc_wall_ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* ACPI S5: the guest powered off. */
static int guest_poweroff(void *opaque)
{
	vm_request_stop(opaque, VM_STOP_GUEST_EXIT, 0);
	return -1; /* this vCPU stops here */
}

static void guest_sleep_ignored(void *opaque, unsigned int slp_typ)
{
	(void)opaque;
	fprintf(stderr, "mpvm: the guest asked for ACPI sleeping state SLP_TYP %u; mpvm has only "
		"S5 (SLP_TYP %u, soft off), so it ignores that\n", slp_typ, ACPI_S5_SLP_TYP);
}

static int guest_reset(void *opaque)
{
	vm_request_stop(opaque, VM_STOP_GUEST_RESET, 0);
	return -1; /* this vCPU stops here */
}

static void kbc_set_irq(void *opaque, unsigned int irq, bool level)
{
	struct vm *vm = opaque;

	if (vm_set_gsi(vm, irq, level)) {
		fprintf(stderr, "mpvm: KVM_IRQ_LINE (8042 keyboard controller, IRQ %u): %s\n", irq,
			strerror(errno));
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
	}
}

static const struct acpi_pm_ops pm_ops = {
	.now_ns = pm_now_ns,
	.poweroff = guest_poweroff,
	.sleep_ignored = guest_sleep_ignored,
};
static const struct rtc_ops rtc_ops = { .wall_ns = rtc_wall_ns };
static const struct i8042_ops kbc_ops = { .reset = guest_reset, .set_irq = kbc_set_irq };

/*
 * The RAM sizes and CPU count in CMOS where PC firmware looks for them
 * (IBM PC AT CMOS map: base memory in KiB at 0x15-0x16, extended memory
 * above 1 MiB in KiB at 0x17-0x18 and 0x30-0x31; and the locations
 * SeaBIOS reads on virtual machines: RAM above 16 MiB in 64 KiB units at
 * 0x34-0x35, above 4 GiB at 0x5b-0x5d, CPUs less one at 0x5f). Operating
 * systems do not read these; firmware given with --bios may.
 */
static void cmos_memory(struct rtc *rtc, const struct vm *vm)
{
	uint64_t ext = vm->low_size > (1u << 20) ? (vm->low_size - (1u << 20)) >> 10 : 0;
	uint64_t above16 = vm->low_size > (16u << 20) ? (vm->low_size - (16u << 20)) >> 16 : 0;
	uint64_t high = vm->high_size >> 16;

	if (ext > 0xffff)
		ext = 0xffff;
	if (above16 > 0xffff)
		above16 = 0xffff;
	if (high > 0xffffff)
		high = 0xffffff;
	rtc_set_cmos(rtc, 0x15, 640 & 0xff);
	rtc_set_cmos(rtc, 0x16, 640 >> 8);
	rtc_set_cmos(rtc, 0x17, (uint8_t)ext);
	rtc_set_cmos(rtc, 0x18, (uint8_t)(ext >> 8));
	rtc_set_cmos(rtc, 0x30, (uint8_t)ext);
	rtc_set_cmos(rtc, 0x31, (uint8_t)(ext >> 8));
	rtc_set_cmos(rtc, 0x34, (uint8_t)above16);
	rtc_set_cmos(rtc, 0x35, (uint8_t)(above16 >> 8));
	rtc_set_cmos(rtc, 0x5b, (uint8_t)high);
	rtc_set_cmos(rtc, 0x5c, (uint8_t)(high >> 8));
	rtc_set_cmos(rtc, 0x5d, (uint8_t)(high >> 16));
	rtc_set_cmos(rtc, 0x5f, (uint8_t)(vm->ncpus - 1));
}

static int claim(struct vm *vm, uint16_t base, uint16_t len, const char *name,
		 pio_handler_fn fn, void *dev)
{
	if (pio_register(&vm->pio, base, len, name, fn, dev) == 0)
		return 0;
	fprintf(stderr, "mpvm: %s: I/O ports 0x%x-0x%x are taken by another device\n", name, base,
		base + len - 1);
	return -1;
}

int vm_setup_pc_devices(struct vm *vm)
{
	struct pc_devices *pc = calloc(1, sizeof(*pc));

	if (!pc) {
		fprintf(stderr, "mpvm: out of memory for the PC devices\n");
		return -1;
	}
	acpi_pm_init(&pc->pm, &pm_ops, vm);
	rtc_init(&pc->rtc, &rtc_ops, vm);
	i8042_init(&pc->kbc, &kbc_ops, vm);
	pc->sysctl_a = (struct sysctl_a){ .value = SYSCTL_A_A20, .reset = guest_reset, .reset_opaque = vm };
	vm->pc = pc;
	cmos_memory(&pc->rtc, vm);

	if (claim(vm, ACPI_PM1_EVT_BLK, ACPI_PM_EVT_LEN, "ACPI PM1a event block", acpi_pm_pio, &pc->pm) ||
	    claim(vm, ACPI_PM1_CNT_BLK, ACPI_PM_CNT_LEN, "ACPI PM1a control block", acpi_pm_pio, &pc->pm) ||
	    claim(vm, ACPI_PM_TMR_BLK, ACPI_PM_TMR_LEN, "ACPI PM timer", acpi_pm_pio, &pc->pm) ||
	    claim(vm, RTC_PORT, RTC_PORTS, "CMOS RTC", rtc_pio, &pc->rtc) ||
	    claim(vm, I8042_DATA_PORT, 1, "8042 data", i8042_pio, &pc->kbc) ||
	    claim(vm, I8042_CMD_PORT, 1, "8042 status/command", i8042_pio, &pc->kbc) ||
	    claim(vm, POST_PORT, 1, "POST port", post_port_pio, &pc->post) ||
	    claim(vm, SYSCTL_A_PORT, 1, "system control port A", sysctl_a_pio, &pc->sysctl_a))
		return -1;
	/* The reset control register at 0xcf9, where the PCI ports are (--kernel, --bios). */
	if (vm->pci) {
		vm->pci->reset = guest_reset;
		vm->pci->reset_opaque = vm;
	}
	return 0;
}

void vm_destroy_pc_devices(struct vm *vm)
{
	struct pc_devices *pc = vm->pc;

	if (!pc)
		return;
	acpi_pm_destroy(&pc->pm);
	rtc_destroy(&pc->rtc);
	i8042_destroy(&pc->kbc);
	free(pc);
	vm->pc = NULL;
}
