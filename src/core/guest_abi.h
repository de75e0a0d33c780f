/*
 * The contract between mpvm and the built-in guest (guest/): where mpvm puts
 * things in guest-physical memory, how the guest is entered, and the I/O
 * ports and CPUID leaves mpvm provides. Shared by both sides, so plain
 * constants and one plain struct only (no host or KVM headers).
 *
 * Guest-physical memory layout (RAM starts at 0):
 *
 *   0x00000-0x004ff  real-mode IVT and BIOS data area (BDA 0x40e = EBDA >> 4)
 *   0x00500-0x0051f  boot GDT: null, 64-bit code (0x08), data (0x10), 32-bit code (0x18)
 *   0x01000-0x06fff  boot page tables: identity map of 0-4 GiB with 2 MiB pages
 *                    (PML4 at 0x1000, PDPT at 0x2000, four PDs at 0x3000-0x6fff)
 *   0x07000-0x070ff  struct mpvm_boot_info
 *   0x07100-0x07fff  guest command line (NUL-terminated)
 *   0x08000-0x7ffff  free for the guest (AP trampolines go here: vector = addr >> 12)
 *   0x9fc00-0x9ffff  EBDA (1 KiB)
 *   0xe0000-0xeffff  ACPI: RSDP at 0xe0000, the other tables after it
 *   0xf0000-0xf1fff  MP floating pointer structure at 0xf0000, MP config table after it
 *   0xf2000-0xffdff  SMBIOS 3.0: the 64-bit entry point ("_SM3_") at 0xf2000, the
 *                    structure table at 0xf2020 (DSP0134 §5.2.2: OSes without EFI scan
 *                    0xf0000-0xfffff on 16-byte boundaries for the anchor)
 *                    (with --bios the image's ROM mirror takes 0xe0000-0xfffff: the
 *                    ACPI and MP tables move to the top of low RAM and the SMBIOS
 *                    tables go to the firmware through fw_cfg: kvm/boot_bios.c)
 *   0x100000-        the guest image (flat binary), entered at its first byte
 *
 * Entry state of the BSP (the vCPU chosen by --boot-cpu): 64-bit long mode,
 * paging on with the boot page tables (CR3 = 0x1000), CS = 0x08, DS = ES =
 * SS = FS = GS = 0x10, RFLAGS = 0x2 (interrupts off), RIP = 0x100000,
 * RSI = MPVM_BOOT_INFO_ADDR, RSP = MPVM_BOOT_STACK_TOP (the guest should set
 * up its own stack at once). Every other vCPU is an AP in wait-for-INIT
 * (KVM_MP_STATE_UNINITIALIZED) and runs nothing until the guest starts it.
 */
#ifndef MPVM_GUEST_ABI_H
#define MPVM_GUEST_ABI_H

#define MPVM_BOOT_GDT_ADDR     0x0500
#define MPVM_BOOT_PML4_ADDR    0x1000
#define MPVM_BOOT_PDPT_ADDR    0x2000
#define MPVM_BOOT_PD_ADDR      0x3000 /* four pages: 0x3000-0x6fff */
#define MPVM_BOOT_INFO_ADDR    0x7000
#define MPVM_BOOT_CMDLINE_ADDR 0x7100
#define MPVM_BOOT_CMDLINE_MAX  0x0f00 /* bytes, the NUL included */
#define MPVM_GUEST_LOW_FREE    0x8000 /* first byte the guest may use below 1 MiB */
#define MPVM_GUEST_LOW_END     0x80000
#define MPVM_BOOT_STACK_TOP    0x80000
#define MPVM_EBDA_ADDR         0x9fc00
#define MPVM_ACPI_ADDR         0xe0000
#define MPVM_ACPI_END          0xf0000
#define MPVM_MPTABLE_ADDR      0xf0000
#define MPVM_MPTABLE_END       0xf2000 /* 255 CPUs' MP table takes under 6 KiB */
#define MPVM_SMBIOS_ADDR       0xf2000
#define MPVM_SMBIOS_END        0xffe00 /* --legacy-pc's real-mode IRQ stubs start here */
#define MPVM_GUEST_LOAD_ADDR   0x100000

#define MPVM_BOOT_SEL_CODE64   0x08
#define MPVM_BOOT_SEL_DATA     0x10
#define MPVM_BOOT_SEL_CODE32   0x18

/*
 * Exit port: a guest OUT (8, 16 or 32 bits) of value V ends mpvm with exit
 * status V & 0xff once every vCPU thread has stopped.
 */
#define MPVM_EXIT_PORT 0x0700

/* COM1, a 16550A UART: the guest's console. */
#define MPVM_COM1_PORT 0x3f8

/*
 * Timing leaf (the VMware/QEMU "vmware-cpuid-freq" convention, which Linux
 * also reads): EAX = TSC frequency in kHz, EBX = local APIC timer (bus)
 * frequency in kHz. Leaf 0x40000000 EAX is raised to cover it.
 */
#define MPVM_CPUID_TIMING_LEAF 0x40000010u

/*
 * CPU hotplug (README, "CPU hotplug"; core/acpi_cpu_hotplug.h): QEMU's
 * ACPI CPU hotplug register block at its ICH9 address, and GPE 2 of the
 * FADT's GPE0 block (GPE0_STS at MPVM_GPE0_PORT, GPE0_EN 2 bytes above)
 * for its events.
 */
#define MPVM_CPU_HOTPLUG_PORT 0x0cd8
#define MPVM_CPU_HOTPLUG_LEN  12
#define MPVM_GPE0_PORT        0x060c
#define MPVM_GPE_CPU_HOTPLUG  2

#define CPUHP_OFF_SEL   0x0   /* selector (write), command data 2 (read) */
#define CPUHP_OFF_STS   0x4   /* status (read), control (write) */
#define CPUHP_OFF_CMD   0x5
#define CPUHP_OFF_DATA  0x8

#define CPUHP_STS_ENABLED  (1u << 0)
#define CPUHP_STS_INSERT   (1u << 1)
#define CPUHP_STS_REMOVE   (1u << 2)
#define CPUHP_CTL_EJECT    (1u << 3)  /* write only */
#define CPUHP_STS_FW_EJECT (1u << 4)

#define CPUHP_CMD_NEXT_EVENT 0
#define CPUHP_CMD_OST_EVENT  1
#define CPUHP_CMD_OST_STATUS 2
#define CPUHP_CMD_ARCH_ID    3

#define MPVM_BOOT_INFO_MAGIC 0x4d56504du /* "MPVM" */
#define MPVM_BOOT_INFO_VERSION 1u

struct mpvm_boot_info {
	unsigned int magic;        /* MPVM_BOOT_INFO_MAGIC */
	unsigned int version;      /* MPVM_BOOT_INFO_VERSION */
	unsigned long long mem_size; /* bytes of RAM from guest-physical 0 */
	unsigned long long cmdline_addr; /* MPVM_BOOT_CMDLINE_ADDR */
	unsigned int cmdline_len;  /* without the NUL */
	unsigned int reserved;
};

#endif
