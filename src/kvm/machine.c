#include "kvm/machine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/acpi.h"
#include "core/bios_image.h"
#include "core/clock.h"
#include "core/fw_cfg_store.h"
#include "core/guest_abi.h"
#include "core/snapshot_file.h"
#include "devices/acpi_pm.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pc_misc.h"
#include "devices/pci_nodev.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "kvm/boot.h"
#include "kvm/irqchip.h"
#include "kvm/platform.h"
#include "kvm/reset.h"
#include "kvm/snapshot.h"
#include "kvm/vm.h"

/* A read-only window onto the --bios image. */
struct rom_window {
	const uint8_t *bytes;
	uint64_t len;
};

/* The devices, each a slot; a NULL slot is a device this VM does not have. */
enum machine_dev {
	DEV_COM1, DEV_EXIT, DEV_FW_CFG, DEV_DEBUG_EXIT, DEV_PCI, DEV_TESTDEV, DEV_TESTDEV_IRQ,
	DEV_ACPI_PM, DEV_RTC, DEV_KBC, DEV_POST, DEV_SYSCTL_A, DEV_PIC, DEV_PIT, DEV_IOAPIC,
	DEV_APIC_PAGE, DEV_ROM, DEV_ROM_MIRROR,
	DEV_COUNT
};

struct machine {
	void *dev[DEV_COUNT];
	struct serial *com1;
	struct fw_cfg *fw_cfg;
	struct pci_nodev pci;
	struct pc_testdev testdev;
	struct acpi_pm pm;
	struct rtc rtc;
	struct i8042 kbc;
	struct post_port post;
	struct sysctl_a sysctl_a;
	struct rom_window rom, rom_mirror;
};

/* ---- mpvm's own ports ------------------------------------------------------ */

/* The exit port (guest_abi.h): the guest's OUT ends the VM with that status. */
static int exit_port_pio(void *opaque, uint16_t port, bool is_write, uint32_t *data, unsigned int size)
{
	(void)port;
	(void)size;
	if (!is_write) {
		*data = 0;
		return 0;
	}
	vm_request_stop(opaque, VM_STOP_GUEST_EXIT, (int)(*data & 0xff));
	return -1; /* this vCPU stops here */
}

/* isa-debug-exit (devices/debug_exit.h): a write of V stops the VM with (V << 1) | 1. */
static int debug_exit_pio(void *opaque, uint16_t port, bool is_write, uint32_t *data, unsigned int size)
{
	(void)port;
	(void)size;
	if (!is_write) {
		*data = 0;
		return 0;
	}
	vm_request_stop(opaque, VM_STOP_GUEST_EXIT, debug_exit_status(*data));
	return -1; /* this vCPU stops here */
}

/*
 * pc-testdev's IRQ lines, ports 0x2000-0x2017: a write of V sets GSI
 * (port - 0x2000) to level !!V, on whichever interrupt controllers the
 * irqchip has.
 */
#define TESTDEV_IRQ_PORT 0x2000
#define TESTDEV_IRQ_PORTS 24

static int testdev_irq_pio(void *opaque, uint16_t port, bool is_write, uint32_t *data, unsigned int size)
{
	struct vm *vm = opaque;
	unsigned int gsi = (unsigned int)(port - TESTDEV_IRQ_PORT);

	(void)size;
	if (!is_write) {
		*data = 0;
		return 0;
	}
	if (vm_set_gsi(vm, gsi, *data != 0) == 0)
		return 0;
	fprintf(stderr, "mpvm: pc-testdev: KVM_IRQ_LINE %u: %s\n", gsi, strerror(errno));
	vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
	return -1;
}

/* ---- MMIO ------------------------------------------------------------------- */

static int ioapic_mmio(void *opaque, uint64_t offset, bool is_write, uint8_t *data, unsigned int len)
{
	if (is_write)
		ioapic_mmio_write(opaque, offset, data, len);
	else
		ioapic_mmio_read(opaque, offset, data, len);
	return 0;
}

/*
 * The local APIC's page reaches mpvm only while that APIC is disabled
 * (IA32_APIC_BASE.EN=0): the page is then no device's, reads return all
 * ones and writes go nowhere, as on a bus with nothing behind the address
 * (SDM vol. 3A §10.4.3).
 */
static int apic_page_mmio(void *opaque, uint64_t offset, bool is_write, uint8_t *data, unsigned int len)
{
	(void)opaque;
	(void)offset;
	if (!is_write)
		memset(data, 0xff, len);
	return 0;
}

/* The --bios image's ROM: KVM reads it itself (KVM_MEM_READONLY); writes go nowhere. */
static int rom_mmio(void *opaque, uint64_t offset, bool is_write, uint8_t *data, unsigned int len)
{
	const struct rom_window *w = opaque;

	if (!is_write)
		for (unsigned int i = 0; i < len; i++)
			data[i] = offset + i < w->len ? w->bytes[offset + i] : 0xff;
	return 0;
}

/* ---- interrupts and stops from devices ----------------------------------------- */

/*
 * COM1's interrupt: ISA IRQ 4, which the MADT leaves without an interrupt
 * source override and the MP table lists as conforming, so the ISA default,
 * edge-triggered, active high. The UART gives its line level; a rise is the
 * edge the PIC and IOAPIC latch. Called with no UART lock held (serial.c).
 */
#define COM1_IRQ 4

static void com1_set_irq(void *opaque, bool level)
{
	struct vm *vm = opaque;

	if (vm_set_gsi(vm, COM1_IRQ, level)) {
		fprintf(stderr, "mpvm: KVM_IRQ_LINE (COM1, IRQ %d): %s\n", COM1_IRQ, strerror(errno));
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
	}
}

/* --stop-on TEXT: the guest's console printed it; the run ends with status 0. */
static void stop_on_seen(void *opaque)
{
	struct vm *vm = opaque;

	pthread_mutex_lock(&vm->stop_lock);
	if (atomic_load(&vm->stop_reason) == VM_RUNNING)
		fprintf(stderr, "mpvm: --stop-on: the guest's console printed '%s'; stopping\n",
			vm->opts->stop_on);
	pthread_mutex_unlock(&vm->stop_lock);
	vm_request_stop(vm, VM_STOP_CONSOLE_TEXT, 0);
}

/* --snapshot-on TEXT PATH: the console printed it; the main thread writes the snapshot and ends the run. */
static void snapshot_on_seen(void *opaque)
{
	struct vm *vm = opaque;
	char err[256];

	fprintf(stderr, "mpvm: --snapshot-on: the guest's console printed '%s'; saving the VM to %s\n",
		vm->opts->snapshot_on, vm->opts->snapshot_on_path);
	if (snapshot_request(vm, vm->opts->snapshot_on_path, true, false, err, sizeof(err)))
		fprintf(stderr, "mpvm: --snapshot-on: %s\n", err);
}

static uint64_t pm_now_ns(void *opaque)
{
	(void)opaque;
	return monotonic_ns();
}

static int64_t rtc_wall_ns(void *opaque)
{
	(void)opaque;
	return realtime_ns();
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
	return reset_guest(opaque); /* --reboot: a reset in place (kvm/reset.c); else the VM stops, and this vCPU */
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

/* The SCI: the OR of the enabled GPEs (acpi_pm.c), a level on ISA IRQ 9. */
static void pm_set_sci(void *opaque, int level)
{
	struct vm *vm = opaque;

	if (vm_set_gsi(vm, ACPI_SCI_IRQ, level)) {
		fprintf(stderr, "mpvm: KVM_IRQ_LINE (ACPI SCI, IRQ %u): %s\n", ACPI_SCI_IRQ, strerror(errno));
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
	}
}

static const struct acpi_pm_ops pm_ops = {
	.now_ns = pm_now_ns,
	.poweroff = guest_poweroff,
	.sleep_ignored = guest_sleep_ignored,
	.set_sci = pm_set_sci,
};

void machine_gpe_raise(struct vm *vm, unsigned int gpe)
{
	if (vm->machine)
		acpi_pm_gpe_raise(&vm->machine->pm, gpe);
}
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
	rtc_set_cmos(rtc, 0x5f, (uint8_t)(vm->opts->cpus - 1));
}

/* ---- the table ------------------------------------------------------------------ */

struct machine_range {
	enum machine_dev dev;
	const char *name;
	uint64_t base, len;        /* 0, 0: place() says */
	pio_handler_fn pio;        /* a port range ... */
	mmio_handler_fn mmio;      /* ... or an MMIO range */
	void (*place)(const struct vm *vm, uint64_t *base, uint64_t *len);
};

static void place_debug_exit(const struct vm *vm, uint64_t *base, uint64_t *len)
{
	*base = vm->opts->debug_exit_port;
	*len = DEBUG_EXIT_PORTS;
}

static void place_rom(const struct vm *vm, uint64_t *base, uint64_t *len)
{
	*base = BIOS_ROM_END - vm->bios_size;
	*len = vm->bios_size;
}

static void place_rom_mirror(const struct vm *vm, uint64_t *base, uint64_t *len)
{
	*len = vm->bios_size < BIOS_MIRROR_MAX ? vm->bios_size : BIOS_MIRROR_MAX;
	*base = BIOS_MIRROR_END - *len;
}

static const struct machine_range machine_ranges[] = {
	{ DEV_COM1, "COM1", MPVM_COM1_PORT, SERIAL_PORTS, .pio = serial_pio },
	{ DEV_EXIT, "mpvm exit", MPVM_EXIT_PORT, 4, .pio = exit_port_pio },
	{ DEV_FW_CFG, "fw_cfg", FW_CFG_PORT_SEL, FW_CFG_PORTS, .pio = fw_cfg_pio },
	{ DEV_DEBUG_EXIT, "isa-debug-exit", 0, 0, .pio = debug_exit_pio, .place = place_debug_exit },
	{ DEV_PCI, "PCI config", PCI_CONF_PORT, PCI_CONF_PORTS, .pio = pci_nodev_pio },
	{ DEV_TESTDEV, "pc-testdev", PC_TESTDEV_PORT, PC_TESTDEV_PORTS, .pio = pc_testdev_pio },
	{ DEV_TESTDEV_IRQ, "pc-testdev IRQ lines", TESTDEV_IRQ_PORT, TESTDEV_IRQ_PORTS, .pio = testdev_irq_pio },
	{ DEV_ACPI_PM, "ACPI PM1a event block", ACPI_PM1_EVT_BLK, ACPI_PM_EVT_LEN, .pio = acpi_pm_pio },
	{ DEV_ACPI_PM, "ACPI PM1a control block", ACPI_PM1_CNT_BLK, ACPI_PM_CNT_LEN, .pio = acpi_pm_pio },
	{ DEV_ACPI_PM, "ACPI PM timer", ACPI_PM_TMR_BLK, ACPI_PM_TMR_LEN, .pio = acpi_pm_pio },
	{ DEV_ACPI_PM, "ACPI GPE0 block", ACPI_GPE0_BLK, ACPI_PM_GPE0_LEN, .pio = acpi_pm_pio },
	{ DEV_RTC, "CMOS RTC", RTC_PORT, RTC_PORTS, .pio = rtc_pio },
	{ DEV_KBC, "8042 data", I8042_DATA_PORT, 1, .pio = i8042_pio },
	{ DEV_KBC, "8042 status/command", I8042_CMD_PORT, 1, .pio = i8042_pio },
	{ DEV_POST, "POST port", POST_PORT, 1, .pio = post_port_pio },
	{ DEV_SYSCTL_A, "system control port A", SYSCTL_A_PORT, 1, .pio = sysctl_a_pio },
	{ DEV_PIC, "PIC master", 0x20, 2, .pio = pic_pio },
	{ DEV_PIC, "PIC slave", 0xa0, 2, .pio = pic_pio },
	{ DEV_PIC, "PIC ELCR", 0x4d0, 2, .pio = pic_pio },
	{ DEV_PIT, "PIT", 0x40, 4, .pio = pit_pio },
	{ DEV_PIT, "PIT channel 2 gate", 0x61, 1, .pio = pit_pio },
	{ DEV_IOAPIC, "IOAPIC", IOAPIC_BASE, IOAPIC_SIZE, .mmio = ioapic_mmio },
	{ DEV_APIC_PAGE, "local APIC page (APIC disabled)", LAPIC_DEFAULT_BASE, 0x1000, .mmio = apic_page_mmio },
	{ DEV_ROM, "--bios ROM", 0, 0, .mmio = rom_mmio, .place = place_rom },
	{ DEV_ROM_MIRROR, "--bios ROM below 1 MiB", 0, 0, .mmio = rom_mmio, .place = place_rom_mirror },
};

/* ---- --legacy-pc ---------------------------------------------------------------- */

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

int machine_legacy_pc(struct vm *vm)
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

/* ---- creating the devices ------------------------------------------------------ */

static int create_com1(struct vm *vm, struct machine *m)
{
	m->com1 = vm->com1 = serial_create(STDOUT_FILENO, com1_set_irq, vm);
	if (!m->com1) {
		fprintf(stderr, "mpvm: out of memory for the serial port\n");
		return -1;
	}
	if (vm->opts->stop_on && serial_watch(m->com1, vm->opts->stop_on, stop_on_seen, vm)) {
		fprintf(stderr, "mpvm: --stop-on: the text must be 1 to %d bytes\n", SERIAL_WATCH_MAX);
		return -1;
	}
	if (vm->opts->snapshot_on && serial_watch(m->com1, vm->opts->snapshot_on, snapshot_on_seen, vm)) {
		fprintf(stderr, "mpvm: --snapshot-on: the text must be 1 to %d bytes\n", SERIAL_WATCH_MAX);
		return -1;
	}
	m->dev[DEV_COM1] = m->com1;
	return 0;
}

static void create_pc_devices(struct vm *vm, struct machine *m)
{
	acpi_pm_init(&m->pm, &pm_ops, vm);
	rtc_init(&m->rtc, &rtc_ops, vm);
	i8042_init(&m->kbc, &kbc_ops, vm);
	m->sysctl_a = (struct sysctl_a){ .value = SYSCTL_A_A20, .reset = guest_reset, .reset_opaque = vm };
	cmos_memory(&m->rtc, vm);
	m->dev[DEV_ACPI_PM] = &m->pm;
	m->dev[DEV_RTC] = &m->rtc;
	m->dev[DEV_KBC] = &m->kbc;
	m->dev[DEV_POST] = &m->post;
	m->dev[DEV_SYSCTL_A] = &m->sysctl_a;
}

/* What this VM has, by its options, its irqchip and its boot. */
static int create_devices(struct vm *vm, struct machine *m)
{
	const struct mpvm_options *o = vm->opts;

	if (create_com1(vm, m))
		return -1;
	m->dev[DEV_EXIT] = vm;
	m->fw_cfg = fw_cfg_create(vm->opts->cpus, vm->mem_size);
	if (!m->fw_cfg) {
		fprintf(stderr, "mpvm: out of memory for fw_cfg\n");
		return -1;
	}
	m->dev[DEV_FW_CFG] = m->fw_cfg;
	/* A --bios image owns 0xf0000-0xfffff: it gets the SMBIOS tables as QEMU's firmware does. */
	if (o->bios && boot_smbios_fw_cfg(vm, m->fw_cfg))
		return -1;
	if (o->debug_exit)
		m->dev[DEV_DEBUG_EXIT] = vm;
	/* A kernel or a --bios image expects a PC: PCI config ports, no devices, the reset register. */
	if (o->kernel || o->bios) {
		m->pci = (struct pci_nodev){ .reset = guest_reset, .reset_opaque = vm };
		m->dev[DEV_PCI] = &m->pci;
	}
	if (o->pc_testdev) {
		m->dev[DEV_TESTDEV] = &m->testdev;
		m->dev[DEV_TESTDEV_IRQ] = vm;
	}
	create_pc_devices(vm, m);
	if (vm->platform) {
		m->dev[DEV_PIC] = platform_pic(vm->platform);
		m->dev[DEV_PIT] = platform_pit(vm->platform);
		m->dev[DEV_IOAPIC] = platform_ioapic(vm->platform);
	}
	m->dev[DEV_APIC_PAGE] = vm;
	if (vm->bios) {
		uint64_t mirror = vm->bios_size < BIOS_MIRROR_MAX ? vm->bios_size : BIOS_MIRROR_MAX;

		m->rom = (struct rom_window){ vm->bios, vm->bios_size };
		m->rom_mirror = (struct rom_window){ vm->bios + vm->bios_size - mirror, mirror };
		m->dev[DEV_ROM] = &m->rom;
		m->dev[DEV_ROM_MIRROR] = &m->rom_mirror;
	}
	return 0;
}

/* Every range of every device this VM has, on its bus. */
static int attach_devices(struct vm *vm, struct machine *m)
{
	for (size_t i = 0; i < sizeof(machine_ranges) / sizeof(machine_ranges[0]); i++) {
		const struct machine_range *r = &machine_ranges[i];
		struct bus_range br = { .base = r->base, .len = r->len, .name = r->name,
					.opaque = m->dev[r->dev], .pio = r->pio, .mmio = r->mmio };

		if (!br.opaque)
			continue;
		if (r->place)
			r->place(vm, &br.base, &br.len);
		if (bus_register(r->pio ? &vm->pio : &vm->mmio, &br)) {
			fprintf(stderr, "mpvm: %s: %s 0x%llx-0x%llx %s\n", r->name,
				r->pio ? "I/O ports" : "addresses", (unsigned long long)br.base,
				(unsigned long long)(br.base + br.len - 1),
				"are taken by another device");
			return -1;
		}
	}
	return 0;
}

int machine_create(struct vm *vm)
{
	struct machine *m = calloc(1, sizeof(*m));

	if (!m) {
		fprintf(stderr, "mpvm: out of memory for the devices\n");
		return -1;
	}
	vm->machine = m;
	vm->pio.limit = 0x10000;
	if (create_devices(vm, m))
		return -1;
	return attach_devices(vm, m);
}

void machine_destroy(struct vm *vm)
{
	struct machine *m = vm->machine;

	if (!m)
		return;
	serial_destroy(m->com1);
	vm->com1 = NULL;
	fw_cfg_destroy(m->fw_cfg);
	if (m->dev[DEV_ACPI_PM]) {
		acpi_pm_destroy(&m->pm);
		rtc_destroy(&m->rtc);
		i8042_destroy(&m->kbc);
	}
	free(m);
	vm->machine = NULL;
}

/* ---- snapshots ----------------------------------------------------------------- */

#define T_COM1 SNAP_TAG('C', 'O', 'M', '1')
#define T_RTC  SNAP_TAG('R', 'T', 'C', ' ')
#define T_ACPI SNAP_TAG('A', 'C', 'P', 'I')
#define T_KBC  SNAP_TAG('K', 'B', 'C', ' ')
#define T_PORT SNAP_TAG('P', 'O', 'R', 'T')
#define T_FWCF SNAP_TAG('F', 'W', 'C', 'F')
#define T_TDEV SNAP_TAG('T', 'D', 'E', 'V') /* pc-testdev's I/O register: any bytes are a state */

/* The devices' state, all of it in one allocation (COM1's input buffer is 4 KiB). */
struct machine_state {
	struct serial_state com1;
	struct rtc_state rtc;
	struct acpi_pm_state pm;
	struct i8042_state kbc;
	struct pc_misc_state ports;
	struct fw_cfg_state fw_cfg;
};

int machine_save(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	struct machine *m = vm->machine;
	struct machine_state *st = calloc(1, sizeof(*st));
	int ret;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	serial_save(m->com1, &st->com1);
	rtc_save(&m->rtc, &st->rtc);
	acpi_pm_save(&m->pm, &st->pm);
	i8042_save(&m->kbc, &st->kbc);
	pc_misc_save(&m->post, &m->sysctl_a, &st->ports);
	fw_cfg_save(m->fw_cfg, &st->fw_cfg);
	ret = snap_writer_section(w, T_COM1, 0, &st->com1, sizeof(st->com1), err, errlen) ||
	      snap_writer_section(w, T_RTC, 0, &st->rtc, sizeof(st->rtc), err, errlen) ||
	      snap_writer_section(w, T_ACPI, 0, &st->pm, sizeof(st->pm), err, errlen) ||
	      snap_writer_section(w, T_KBC, 0, &st->kbc, sizeof(st->kbc), err, errlen) ||
	      snap_writer_section(w, T_PORT, 0, &st->ports, sizeof(st->ports), err, errlen) ||
	      snap_writer_section(w, T_FWCF, 0, &st->fw_cfg, sizeof(st->fw_cfg), err, errlen) ||
	      snap_writer_section(w, T_TDEV, 0, m->testdev.reg, sizeof(m->testdev.reg), err, errlen) ? -1 : 0;
	free(st);
	return ret;
}

int machine_load(struct vm *vm, const struct snap_file *f, char *err, size_t errlen)
{
	struct machine *m = vm->machine;
	struct machine_state *st = calloc(1, sizeof(*st));
	int ret = -1;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (snap_file_get(f, T_COM1, 0, &st->com1, sizeof(st->com1), err, errlen) ||
	    snap_file_get(f, T_RTC, 0, &st->rtc, sizeof(st->rtc), err, errlen) ||
	    snap_file_get(f, T_ACPI, 0, &st->pm, sizeof(st->pm), err, errlen) ||
	    snap_file_get(f, T_KBC, 0, &st->kbc, sizeof(st->kbc), err, errlen) ||
	    snap_file_get(f, T_PORT, 0, &st->ports, sizeof(st->ports), err, errlen) ||
	    snap_file_get(f, T_FWCF, 0, &st->fw_cfg, sizeof(st->fw_cfg), err, errlen) ||
	    snap_file_get(f, T_TDEV, 0, m->testdev.reg, sizeof(m->testdev.reg), err, errlen))
		goto out;
	if (serial_load(m->com1, &st->com1, err, errlen) || rtc_load(&m->rtc, &st->rtc, err, errlen) ||
	    acpi_pm_load(&m->pm, &st->pm, err, errlen) || i8042_load(&m->kbc, &st->kbc, err, errlen) ||
	    pc_misc_load(&m->post, &m->sysctl_a, &st->ports, err, errlen) ||
	    fw_cfg_load(m->fw_cfg, &st->fw_cfg, err, errlen))
		goto out;
	ret = 0;
out:
	free(st);
	return ret;
}
