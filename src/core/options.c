#include "core/options.h"

#include "core/errmsg.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char options_run_usage[] =
	"usage: mpvm run [options]\n"
	"\n"
	"Runs a VM. Without a kernel it runs mpvm's built-in MP bring-up guest.\n"
	"\n"
	"  --cpus N           vCPUs, 1 up to KVM's maximum on this host (default 1)\n"
	"  --memory SIZE      guest RAM, 16M up to 1T, suffix K, M or G (default 256M)\n"
	"  --boot-cpu ID      vCPU that is the BSP, 0 up to N-1 (default 0)\n"
	"  --irqchip MODE     interrupt controllers: kernel (default: all in KVM),\n"
	"                     split (local APICs in KVM; IOAPIC, PIC, PIT in mpvm) or\n"
	"                     user (all in mpvm, the MP-state machine included)\n"
	"  --cmdline STRING   command line for the guest; the built-in guest takes\n"
	"                     scenario=default|second-sipi|reinit|partial|broadcast,\n"
	"                     start=K (partial) and tables=mptable\n"
	"  --no-acpi          give the guest no ACPI tables (MP table only)\n"
	"  --no-mptable       give the guest no MP table (ACPI only)\n"
	"  --kernel FILE      boot FILE, a multiboot (v1) ELF32/ELF64 kernel, instead\n"
	"                     of the built-in guest; --cmdline is its command line\n"
	"  --initrd FILE      give the --kernel FILE as its one multiboot module\n"
	"  --debug-exit[=PORT] isa-debug-exit at PORT-PORT+3 (default 0xf4): a guest\n"
	"                     write of V ends mpvm with status (V << 1) | 1\n"
	"  --pc-testdev       pc-testdev's I/O test register at 0xe0-0xe3 and IRQ\n"
	"                     lines at 0x2000-0x2017\n"
	"  --no-x2apic        hide x2APIC from the guest (CPUID.1:ECX[21] clear)\n"
	"  --legacy-pc        with --kernel: PICs, PIT and a real-mode IVT set up as\n"
	"                     a PC BIOS leaves them\n"
	"  --bios FILE        boot a raw firmware image (at most 16M, a multiple of 4K)\n"
	"                     mapped read-only just below 4 GiB, its last 128K also at\n"
	"                     0xe0000 (so mpvm's ACPI and MP tables go to the top of\n"
	"                     low RAM); the BSP starts at the reset vector\n"
	"  --cpu-features LIST CPUID features the guest sees: host (default), baseline,\n"
	"                     then +name/-name, comma-separated (mpvm run\n"
	"                     --cpu-features help lists the names)\n"
	"  --unknown-io MODE  an access to an I/O port with no device: fault (stop the\n"
	"                     VM) or ignore (reads all ones, as on a PC's ISA bus);\n"
	"                     default ignore for Linux kernels and --bios, else fault\n"
	"  --stop-on TEXT     end the run with status 0 once the guest's console\n"
	"                     prints TEXT\n"
	"  --report FILE      write the per-vCPU MP-state report as JSON to FILE\n"
	"  --timeout SECONDS  stop the VM and fail after SECONDS (default: none)\n"
	"  --help             this text\n";

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end == 'i' && shift)   /* accept "MiB"-style "Mi" too */
		end++;
	if (*end == 'B' && shift)
		end++;
	if (*end)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* A whole decimal number in [lo, hi]. */
static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

const char *irqchip_mode_name(enum irqchip_mode m)
{
	switch (m) {
	case IRQCHIP_KERNEL: return "kernel";
	case IRQCHIP_SPLIT: return "split";
	case IRQCHIP_USER: return "user";
	}
	return "?";
}

/*
 * --debug-exit[=PORT]: PORT in decimal or 0x hex; its 4 ports must leave
 * mpvm's own ports alone (the exit port 0x700, COM1, fw_cfg, pc-testdev,
 * PCI configuration, and the PIC, PIT and ELCR ports, which KVM's in-kernel
 * irqchip would take before mpvm sees them).
 */
static int options_parse_debug_exit(const char *val, struct mpvm_options *o, char *err, size_t errlen)
{
	static const struct { unsigned long base, len; const char *name; } taken[] = {
		{ 0x700, 4, "mpvm's exit port 0x700-0x703" },
		{ 0x3f8, 8, "COM1 0x3f8-0x3ff" },
		{ 0x510, 2, "fw_cfg 0x510-0x511" },
		{ 0xe0, 4, "pc-testdev 0xe0-0xe3" },
		{ 0x2000, 24, "pc-testdev's IRQ lines 0x2000-0x2017" },
		{ 0xcf8, 8, "PCI configuration 0xcf8-0xcff" },
		{ 0x20, 2, "the master PIC 0x20-0x21" },
		{ 0xa0, 2, "the slave PIC 0xa0-0xa1" },
		{ 0x40, 4, "the PIT 0x40-0x43" },
		{ 0x61, 1, "the PIT's speaker port 0x61" },
		{ 0x4d0, 2, "the ELCR 0x4d0-0x4d1" },
	};
	unsigned long port = 0xf4;
	char *end;

	if (val) {
		errno = 0;
		port = strtoul(val, &end, 0);
		if (!*val || *val == '-' || *end || errno || port > 0xfffc)
			return errmsg(err, errlen, "--debug-exit=%s: PORT must be an I/O port from 0 to 0xfffc "
				    "(decimal or 0x hex)", val);
	}
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (port < taken[i].base + taken[i].len && taken[i].base < port + 4)
			return errmsg(err, errlen, "--debug-exit=0x%lx: ports 0x%lx-0x%lx overlap %s",
				    port, port, port + 3, taken[i].name);
	o->debug_exit = true;
	o->debug_exit_port = (uint16_t)port;
	return 0;
}

int options_parse_run(int argc, char *const argv[], struct mpvm_options *o,
		      char *err, size_t errlen)
{
	bool boot_cpu_given = false;

	*o = (struct mpvm_options){
		.cpus = 1,
		.memory = OPT_DEFAULT_MEMORY,
		.irqchip = IRQCHIP_KERNEL,
		.cmdline = "",
	};

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = NULL;
		char name[32];
		const char *eq;
		unsigned long n;

		if (strncmp(arg, "--", 2) != 0)
			return errmsg(err, errlen, "unexpected argument '%s' (options start with --; see mpvm run --help)", arg);
		eq = strchr(arg, '=');
		if (eq) {
			size_t len = (size_t)(eq - arg);

			if (len >= sizeof(name))
				return errmsg(err, errlen, "unknown option '%.*s' (see mpvm run --help)", (int)len, arg);
			memcpy(name, arg, len);
			name[len] = '\0';
			val = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", arg);
		}

		/* isa-debug-exit: a flag with an optional =PORT. */
		if (!strcmp(name, "--debug-exit")) {
			if (options_parse_debug_exit(val, o, err, errlen))
				return -1;
			continue;
		}
		if (!strcmp(name, "--pc-testdev") || !strcmp(name, "--legacy-pc") ||
		    !strcmp(name, "--no-x2apic")) {
			if (val)
				return errmsg(err, errlen, "option %s takes no value", name);
			*(!strcmp(name, "--pc-testdev") ? &o->pc_testdev :
			  !strcmp(name, "--legacy-pc") ? &o->legacy_pc : &o->no_x2apic) = true;
			continue;
		}

		/* Flags first: they take no value. */
		if (!strcmp(name, "--help") || !strcmp(name, "--no-acpi") || !strcmp(name, "--no-mptable")) {
			if (val)
				return errmsg(err, errlen, "option %s takes no value", name);
			if (!strcmp(name, "--help"))
				o->help = true;
			else if (!strcmp(name, "--no-acpi"))
				o->no_acpi = true;
			else
				o->no_mptable = true;
			continue;
		}

		if (strcmp(name, "--cpus") && strcmp(name, "--memory") && strcmp(name, "--boot-cpu") &&
		    strcmp(name, "--irqchip") && strcmp(name, "--report") && strcmp(name, "--cmdline") &&
		    strcmp(name, "--timeout") && strcmp(name, "--kernel") && strcmp(name, "--initrd") &&
		    strcmp(name, "--bios") && strcmp(name, "--cpu-features") && strcmp(name, "--unknown-io") &&
		    strcmp(name, "--stop-on"))
			return errmsg(err, errlen, "unknown option '%s' (see mpvm run --help)", name);
		if (!val) {
			if (i + 1 >= argc)
				return errmsg(err, errlen, "option %s needs a value", name);
			val = argv[++i];
		}

		if (!strcmp(name, "--cpus")) {
			if (parse_uint(val, 1, OPT_MAX_CPUS, &n))
				return errmsg(err, errlen, "--cpus '%s': must be a whole number from 1 to %u", val, OPT_MAX_CPUS);
			o->cpus = (unsigned int)n;
		} else if (!strcmp(name, "--memory")) {
			uint64_t bytes;

			if (parse_size(val, &bytes))
				return errmsg(err, errlen, "--memory '%s': not a size (a number with an optional K, M, G or T suffix, e.g. 256M)", val);
			if (bytes < OPT_MIN_MEMORY || bytes > OPT_MAX_MEMORY)
				return errmsg(err, errlen, "--memory '%s': must be from 16M to 1T", val);
			if (bytes & 0xfff)
				return errmsg(err, errlen, "--memory '%s': must be a multiple of 4K", val);
			o->memory = bytes;
		} else if (!strcmp(name, "--boot-cpu")) {
			if (parse_uint(val, 0, OPT_MAX_CPUS - 1, &n))
				return errmsg(err, errlen, "--boot-cpu '%s': must be a vCPU id, a whole number from 0 to --cpus minus 1", val);
			o->boot_cpu = (unsigned int)n;
			boot_cpu_given = true;
		} else if (!strcmp(name, "--irqchip")) {
			if (!strcmp(val, "kernel"))
				o->irqchip = IRQCHIP_KERNEL;
			else if (!strcmp(val, "user"))
				o->irqchip = IRQCHIP_USER;
			else if (!strcmp(val, "split"))
				o->irqchip = IRQCHIP_SPLIT;
			else
				return errmsg(err, errlen, "--irqchip '%s': must be kernel, split or user", val);
		} else if (!strcmp(name, "--report")) {
			if (!*val)
				return errmsg(err, errlen, "--report: needs a file name");
			o->report_path = val;
		} else if (!strcmp(name, "--kernel") || !strcmp(name, "--initrd")) {
			if (!*val)
				return errmsg(err, errlen, "%s: needs a file name", name);
			*(!strcmp(name, "--kernel") ? &o->kernel : &o->initrd) = val;
		} else if (!strcmp(name, "--bios")) {
			if (!*val)
				return errmsg(err, errlen, "--bios: needs a file name");
			o->bios = val;
		} else if (!strcmp(name, "--cpu-features")) {
			if (!*val)
				return errmsg(err, errlen, "--cpu-features: needs a list (host, baseline, +name, -name)");
			o->cpu_features = val;
			if (!strcmp(val, "help"))
				o->cpu_features_help = true;
			else if (cpu_features_parse(val, &o->cpu_feature_set, err, errlen))
				return -1;
		} else if (!strcmp(name, "--unknown-io")) {
			if (!strcmp(val, "fault"))
				o->unknown_io = UNKNOWN_IO_FAULT;
			else if (!strcmp(val, "ignore"))
				o->unknown_io = UNKNOWN_IO_IGNORE;
			else
				return errmsg(err, errlen, "--unknown-io '%s': must be fault or ignore", val);
		} else if (!strcmp(name, "--stop-on")) {
			if (!*val || strlen(val) > 255)
				return errmsg(err, errlen, "--stop-on: the text to wait for must be 1 to 255 bytes");
			o->stop_on = val;
		} else if (!strcmp(name, "--cmdline")) {
			o->cmdline = val;
		} else if (!strcmp(name, "--timeout")) {
			if (parse_uint(val, 1, 86400, &n))
				return errmsg(err, errlen, "--timeout '%s': must be whole seconds from 1 to 86400", val);
			o->timeout_ms = (unsigned int)n * 1000;
		}
	}

	if (boot_cpu_given && o->boot_cpu >= o->cpus)
		return errmsg(err, errlen, "--boot-cpu %u: must be from 0 to %u (--cpus is %u)",
			    o->boot_cpu, o->cpus - 1, o->cpus);
	if (o->no_x2apic && o->cpus > 255)
		return errmsg(err, errlen, "--no-x2apic: --cpus %u needs APIC IDs above 254, which only x2APIC has", o->cpus);
	if (o->cpu_features && !o->cpu_features_help &&
	    !cpu_feature_set_shows(&o->cpu_feature_set, "x2apic") && o->cpus > 255)
		return errmsg(err, errlen, "--cpu-features hides x2apic, but --cpus %u needs APIC IDs "
			      "above 254, which only x2APIC has", o->cpus);
	if (o->legacy_pc && !o->kernel)
		return errmsg(err, errlen, "--legacy-pc needs --kernel (the built-in guest starts in long mode)");
	if (o->bios && o->kernel)
		return errmsg(err, errlen, "--bios and --kernel together: the firmware image boots by itself");
	if (o->bios && o->legacy_pc)
		return errmsg(err, errlen, "--legacy-pc needs --kernel; a --bios image sets up the PC itself");
	if (o->initrd && !o->kernel)
		return errmsg(err, errlen, "--initrd needs --kernel (the built-in guest takes no module)");
	if (o->no_acpi && o->no_mptable)
		return errmsg(err, errlen, "--no-acpi and --no-mptable together leave the guest no way to find its CPUs");
	return 0;
}

int options_check_host(const struct mpvm_options *o, unsigned int max_vcpus,
		       char *err, size_t errlen)
{
	if (o->cpus > max_vcpus)
		return errmsg(err, errlen, "--cpus %u: must be from 1 to %u (KVM_CAP_MAX_VCPUS on this host)",
			    o->cpus, max_vcpus);
	return 0;
}
