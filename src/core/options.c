#include "core/options.h"

#include "core/errmsg.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
 * The setters, one per way an option is applied. Each validates its value
 * and says what is allowed; checks that involve two options wait for
 * options_check_combinations(), when every option has been seen.
 */

static void *option_field(struct mpvm_options *o, const struct run_option *opt)
{
	return (char *)o + opt->field;
}

static int set_flag(const struct run_option *opt, const char *val,
		    struct mpvm_options *o, char *err, size_t errlen)
{
	*(bool *)option_field(o, opt) = true;
	return 0;
}

/* A file is opened later, by whoever needs it; here it only needs a name. */
static int set_file(const struct run_option *opt, const char *val,
		    struct mpvm_options *o, char *err, size_t errlen)
{
	if (!*val)
		return errmsg(err, errlen, "%s: needs a file name", opt->name);
	*(const char **)option_field(o, opt) = val;
	return 0;
}

/* Any text, the empty string included (an empty --cmdline is the default). */
static int set_text(const struct run_option *opt, const char *val,
		    struct mpvm_options *o, char *err, size_t errlen)
{
	*(const char **)option_field(o, opt) = val;
	return 0;
}

/* --cpus N, or with QEMU's -smp topology words (core/topology.c). */
static int set_cpus(const struct run_option *opt, const char *val,
		    struct mpvm_options *o, char *err, size_t errlen)
{
	unsigned long n;

	if (!strchr(val, ',') && !strchr(val, '=')) {
		if (parse_uint(val, 1, OPT_MAX_CPUS, &n))
			return errmsg(err, errlen, "--cpus '%s': must be a whole number from 1 to %u "
				      "(or N,sockets=S,cores=C,threads=T)", val, OPT_MAX_CPUS);
		o->topology = topology_flat((unsigned int)n);
	} else if (topology_parse(val, OPT_MAX_CPUS, &o->topology, err, errlen)) {
		return -1;
	}
	o->cpus = o->topology.cpus;
	return 0;
}

static int set_memory(const struct run_option *opt, const char *val,
		      struct mpvm_options *o, char *err, size_t errlen)
{
	uint64_t bytes;

	if (parse_size(val, &bytes))
		return errmsg(err, errlen, "--memory '%s': not a size (a number with an optional K, M, G or T suffix, e.g. 256M)", val);
	if (bytes < OPT_MIN_MEMORY || bytes > OPT_MAX_MEMORY)
		return errmsg(err, errlen, "--memory '%s': must be from 16M to 1T", val);
	if (bytes & 0xfff)
		return errmsg(err, errlen, "--memory '%s': must be a multiple of 4K", val);
	o->memory = bytes;
	return 0;
}

/* Only the upper bound the host allows here: --cpus may come later. */
static int set_boot_cpu(const struct run_option *opt, const char *val,
			struct mpvm_options *o, char *err, size_t errlen)
{
	unsigned long n;

	if (parse_uint(val, 0, OPT_MAX_CPUS - 1, &n))
		return errmsg(err, errlen, "--boot-cpu '%s': must be a vCPU id, a whole number from 0 to --cpus minus 1", val);
	o->boot_cpu = (unsigned int)n;
	return 0;
}

/*
 * A value that is one of a few words: its index in words[] (NULL-ended),
 * or -1 with "OPT 'VAL': must be LIST" in err.
 */
static int keyword(const char *name, const char *val, const char *const *words, const char *list,
		   char *err, size_t errlen)
{
	for (int i = 0; words[i]; i++)
		if (!strcmp(val, words[i]))
			return i;
	return errmsg(err, errlen, "%s '%s': must be %s", name, val, list);
}

/* In enum irqchip_mode's order. */
static int set_irqchip(const struct run_option *opt, const char *val,
		       struct mpvm_options *o, char *err, size_t errlen)
{
	static const char *const words[] = { "kernel", "split", "user", NULL };
	int k = keyword(opt->name, val, words, "kernel, split or user", err, errlen);

	if (k < 0)
		return -1;
	o->irqchip = (enum irqchip_mode)k;
	return 0;
}

static int set_timeout(const struct run_option *opt, const char *val,
		       struct mpvm_options *o, char *err, size_t errlen)
{
	unsigned long n;

	if (parse_uint(val, 1, 86400, &n))
		return errmsg(err, errlen, "--timeout '%s': must be whole seconds from 1 to 86400", val);
	o->timeout_ms = (unsigned int)n * 1000;
	return 0;
}

/*
 * --debug-exit[=PORT]: PORT in decimal or 0x hex; its 4 ports must leave
 * mpvm's own ports alone (the exit port 0x700, COM1, fw_cfg, pc-testdev,
 * PCI configuration, and the PIC, PIT and ELCR ports, which KVM's in-kernel
 * irqchip would take before mpvm sees them).
 */
static int set_debug_exit(const struct run_option *opt, const char *val,
			  struct mpvm_options *o, char *err, size_t errlen)
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

/* Parsed here, with the other options, so a bad list fails before KVM is touched. */
static int set_cpu_features(const struct run_option *opt, const char *val,
			    struct mpvm_options *o, char *err, size_t errlen)
{
	if (!*val)
		return errmsg(err, errlen, "--cpu-features: needs a list (host, baseline, +name, -name)");
	o->cpu_features = val;
	if (!strcmp(val, "help"))
		o->cpu_features_help = true;
	else if (cpu_features_parse(val, &o->cpu_feature_set, err, errlen))
		return -1;
	return 0;
}

/* In enum unknown_io's order, after AUTO (the default, which has no word). */
static int set_unknown_io(const struct run_option *opt, const char *val,
			  struct mpvm_options *o, char *err, size_t errlen)
{
	static const char *const words[] = { "fault", "ignore", NULL };
	int k = keyword(opt->name, val, words, "fault or ignore", err, errlen);

	if (k < 0)
		return -1;
	o->unknown_io = (enum unknown_io)(UNKNOWN_IO_FAULT + k);
	return 0;
}

/* In enum seccomp_mode's order. */
static int set_seccomp(const struct run_option *opt, const char *val,
		       struct mpvm_options *o, char *err, size_t errlen)
{
	static const char *const words[] = { "on", "log", "off", NULL };
	int k = keyword(opt->name, val, words, "on, log or off", err, errlen);

	if (k < 0)
		return -1;
	o->seccomp = (enum seccomp_mode)k;
	return 0;
}

/* The console matches a line against it: 255 bytes keeps its buffer small. */
static int set_stop_on(const struct run_option *opt, const char *val,
		       struct mpvm_options *o, char *err, size_t errlen)
{
	if (!*val || strlen(val) > 255)
		return errmsg(err, errlen, "--stop-on: the text to wait for must be 1 to 255 bytes");
	o->stop_on = val;
	return 0;
}

static int set_snapshot_on(const struct run_option *opt, const char *val,
			   struct mpvm_options *o, char *err, size_t errlen)
{
	if (!*val || strlen(val) > 255)
		return errmsg(err, errlen, "--snapshot-on: the text to wait for must be 1 to 255 bytes");
	o->snapshot_on = val;
	return 0;
}

static int set_snapshot_on_path(const struct run_option *opt, const char *val,
				struct mpvm_options *o, char *err, size_t errlen)
{
	if (!*val)
		return errmsg(err, errlen, "--snapshot-on: the snapshot's file name is empty");
	o->snapshot_on_path = val;
	return 0;
}

/* A Unix socket's path must fit sockaddr_un.sun_path (108 bytes with its NUL). */
#define CONTROL_PATH_MAX 107

static int set_control(const struct run_option *opt, const char *val,
		       struct mpvm_options *o, char *err, size_t errlen)
{
	if (!*val || strlen(val) > CONTROL_PATH_MAX)
		return errmsg(err, errlen, "--control: the socket's path must be 1 to %d bytes",
			      CONTROL_PATH_MAX);
	o->control_path = val;
	return 0;
}

static int set_ap_watchdog(const struct run_option *opt, const char *val,
			   struct mpvm_options *o, char *err, size_t errlen)
{
	unsigned long n;

	if (parse_uint(val, 1, 3600000, &n))
		return errmsg(err, errlen, "--ap-watchdog '%s': must be whole milliseconds from 1 to 3600000", val);
	o->ap_watchdog_ms = (unsigned int)n;
	return 0;
}

#define FIELD(member) offsetof(struct mpvm_options, member)

/*
 * Every option of `mpvm run`, in the order --help lists them. README.md's
 * option table must name the same ones (tests/integration/readme-options.t).
 */
const struct run_option options_run_table[] = {
	{ .name = "--cpus", .shapes = true, .value = OPT_VALUE, .arg = "N", .set = set_cpus,
	  .help = "vCPUs, 1 up to KVM's maximum on this host (default 1); or N,sockets=S,cores=C,"
		  "threads=T as QEMU's -smp: APIC IDs then have thread, core and socket fields" },
	{ .name = "--memory", .shapes = true, .value = OPT_VALUE, .arg = "SIZE", .set = set_memory,
	  .help = "guest RAM, 16M up to 1T, suffix K, M, G or T (default 256M)" },
	{ .name = "--boot-cpu", .shapes = true, .value = OPT_VALUE, .arg = "ID", .set = set_boot_cpu,
	  .help = "vCPU that is the BSP, 0 up to N-1 (default 0)" },
	{ .name = "--irqchip", .shapes = true, .value = OPT_VALUE, .arg = "MODE", .set = set_irqchip,
	  .help = "interrupt controllers: kernel (default: all in KVM), split (local APICs "
		  "in KVM; IOAPIC, PIC, PIT in mpvm) or user (all in mpvm, the MP-state "
		  "machine included)" },
	{ .name = "--cmdline", .shapes = true, .value = OPT_VALUE, .arg = "STRING", .set = set_text,
	  .field = FIELD(cmdline),
	  .help = "the guest's command line; the built-in guest takes scenario=NAME and "
		  "its parameters (start=K, rounds=N, where=bsp|ap), tables=acpi|mptable, "
		  "apic=x2apic and timeout=MS" },
	{ .name = "--no-acpi", .shapes = true, .value = OPT_FLAG, .set = set_flag, .field = FIELD(no_acpi),
	  .help = "give the guest no ACPI tables (MP table only)" },
	{ .name = "--no-mptable", .shapes = true, .value = OPT_FLAG, .set = set_flag, .field = FIELD(no_mptable),
	  .help = "give the guest no MP table (ACPI only)" },
	{ .name = "--kernel", .shapes = true, .value = OPT_VALUE, .arg = "FILE", .set = set_file,
	  .field = FIELD(kernel),
	  .help = "boot FILE instead of the built-in guest: a Linux bzImage, an uncompressed "
		  "Linux vmlinux (PVH entry) or a multiboot (v1) ELF kernel; --cmdline is "
		  "its command line" },
	{ .name = "--initrd", .shapes = true, .value = OPT_VALUE, .arg = "FILE", .set = set_file,
	  .field = FIELD(initrd),
	  .help = "with --kernel: Linux's initrd, or a multiboot kernel's one module" },
	{ .name = "--debug-exit", .shapes = true, .value = OPT_OPTIONAL_VALUE, .arg = "PORT", .set = set_debug_exit,
	  .help = "isa-debug-exit at PORT-PORT+3 (default 0xf4): a guest write of V ends "
		  "mpvm with status (V << 1) | 1" },
	{ .name = "--pc-testdev", .shapes = true, .value = OPT_FLAG, .set = set_flag, .field = FIELD(pc_testdev),
	  .help = "pc-testdev's I/O test register at 0xe0-0xe3 and IRQ lines at "
		  "0x2000-0x2017" },
	{ .name = "--no-x2apic", .shapes = true, .value = OPT_FLAG, .set = set_flag, .field = FIELD(no_x2apic),
	  .help = "hide x2APIC from the guest (CPUID.1:ECX[21] clear; at most 255 vCPUs)" },
	{ .name = "--legacy-pc", .shapes = true, .value = OPT_FLAG, .set = set_flag, .field = FIELD(legacy_pc),
	  .help = "with --kernel: PICs, PIT and a real-mode IVT set up as a PC BIOS leaves "
		  "them" },
	{ .name = "--bios", .shapes = true, .value = OPT_VALUE, .arg = "FILE", .set = set_file,
	  .field = FIELD(bios),
	  .help = "boot a raw firmware image (a multiple of 4K, at most 16M) mapped "
		  "read-only just below 4 GiB, its last 128K also at 0xe0000 (so mpvm's "
		  "ACPI and MP tables go to the top of low RAM); the BSP starts at the "
		  "reset vector" },
	{ .name = "--cpu-features", .shapes = true, .value = OPT_VALUE, .arg = "LIST", .set = set_cpu_features,
	  .help = "CPUID features the guest sees: host (default), baseline, then "
		  "+name/-name, comma-separated (--cpu-features help lists the names)" },
	{ .name = "--unknown-io", .shapes = true, .value = OPT_VALUE, .arg = "MODE", .set = set_unknown_io,
	  .help = "an access to an I/O port with no device: fault (stop the VM) or ignore "
		  "(reads all ones, as on a PC's ISA bus); default ignore for Linux kernels "
		  "and --bios, else fault" },
	{ .name = "--seccomp", .value = OPT_VALUE, .arg = "on|log|off", .set = set_seccomp,
	  .help = "system-call filters for mpvm's threads: on (a call outside a thread's "
		  "list stops mpvm, naming it; the default), log (the kernel logs it, the call "
		  "goes ahead) or off" },
	{ .name = "--stop-on", .value = OPT_VALUE, .arg = "TEXT", .set = set_stop_on,
	  .help = "end the run with status 0 once the guest's console prints a line "
		  "holding TEXT (1 to 255 bytes)" },
	{ .name = "--control", .value = OPT_VALUE, .arg = "PATH", .set = set_control,
	  .help = "serve QMP (QEMU's machine protocol) on a Unix socket at PATH, mode 0600: "
		  "query and steer the VM and each vCPU's MP state while it runs" },
	{ .name = "--reboot", .value = OPT_FLAG, .set = set_flag, .field = FIELD(reboot),
	  .help = "when the guest resets the machine (i8042, 0xcf9, port 0x92), reset it in place "
		  "and boot again, as system_reset does (default: mpvm ends, status 0)" },
	{ .name = "--restore", .value = OPT_VALUE, .arg = "FILE", .set = set_file,
	  .field = FIELD(restore_path),
	  .help = "start from a snapshot (mpvm-snapshot, --snapshot-on) instead of booting: the "
		  "machine is the snapshot's, so options that shape it are refused" },
	{ .name = "--snapshot-on", .value = OPT_TWO_VALUES, .arg = "TEXT PATH", .set = set_snapshot_on,
	  .set2 = set_snapshot_on_path,
	  .help = "once the guest's console prints a line holding TEXT, write a snapshot of the "
		  "VM to PATH and end the run (status 0)" },
	{ .name = "--ap-watchdog", .value = OPT_VALUE, .arg = "MS", .set = set_ap_watchdog,
	  .help = "with --control: the event VCPU_STUCK when a vCPU is still waiting for its SIPI "
		  "(INIT_RECEIVED or SIPI_RECEIVED) MS milliseconds after its INIT" },
	{ .name = "--report", .value = OPT_VALUE, .arg = "FILE", .set = set_file,
	  .field = FIELD(report_path),
	  .help = "write the per-vCPU MP-state report as JSON to FILE" },
	{ .name = "--trace", .value = OPT_VALUE, .arg = "FILE", .set = set_file,
	  .field = FIELD(trace_path),
	  .help = "write the MP-state timeline (spans per vCPU, IPIs, pauses, faults) to FILE as "
		  "Chrome trace-event JSON, for Perfetto or `mpvm trace-svg`" },
	{ .name = "--timeout", .value = OPT_VALUE, .arg = "SECONDS", .set = set_timeout,
	  .help = "stop the VM and fail (status 124) after SECONDS, 1 to 86400 "
		  "(default: none)" },
	{ .name = "--help", .value = OPT_FLAG, .set = set_flag, .field = FIELD(help),
	  .help = "this text" },
};

const size_t options_run_count = sizeof(options_run_table) / sizeof(options_run_table[0]);

/* The table entry named by the first len bytes of name, or NULL. */
static const struct run_option *option_find(const char *name, size_t len)
{
	for (size_t i = 0; i < options_run_count; i++)
		if (strlen(options_run_table[i].name) == len &&
		    !memcmp(options_run_table[i].name, name, len))
			return &options_run_table[i];
	return NULL;
}

static void options_set_defaults(struct mpvm_options *o)
{
	*o = (struct mpvm_options){
		.cpus = 1,
		.topology = { .cpus = 1, .sockets = 1, .cores = 1, .threads = 1, .maxcpus = 1 },
		.memory = OPT_DEFAULT_MEMORY,
		.irqchip = IRQCHIP_KERNEL,
		.cmdline = "",
	};
}

/*
 * Walks argv against the table: each argument is --name or --name=VALUE;
 * an option that needs a value and has no '=' takes the next argument,
 * whatever it looks like (a --cmdline may start with "--").
 */
static int options_parse_argv(int argc, char *const argv[], struct mpvm_options *o,
			      char *err, size_t errlen)
{
	bool seen[sizeof(options_run_table) / sizeof(options_run_table[0])] = { false };

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		const char *val = eq ? eq + 1 : NULL;
		const struct run_option *opt;

		if (strncmp(arg, "--", 2) != 0)
			return errmsg(err, errlen, "unexpected argument '%s' (options start with --; see mpvm run --help)", arg);
		opt = option_find(arg, len);
		if (!opt)
			return errmsg(err, errlen, "unknown option '%.*s' (see mpvm run --help)", (int)len, arg);
		/* Said twice, an option would silently take its last value: say so instead. */
		if (seen[opt - options_run_table])
			return errmsg(err, errlen, "option %s given twice (each option may be given once)", opt->name);
		seen[opt - options_run_table] = true;
		if (opt->value == OPT_FLAG && val)
			return errmsg(err, errlen, "option %s takes no value", opt->name);
		if (opt->shapes && o->shape_argc + 2 <= OPT_SHAPE_ARGS_MAX) {
			o->shape_argv[o->shape_argc++] = arg;
			if (opt->value == OPT_VALUE && !val && i + 1 < argc)
				o->shape_argv[o->shape_argc++] = argv[i + 1];
		}
		if (opt->value == OPT_TWO_VALUES) {
			if (val || i + 2 >= argc)
				return errmsg(err, errlen, "option %s needs two values: %s %s", opt->name, opt->name,
					      opt->arg);
			if (opt->set(opt, argv[i + 1], o, err, errlen) || opt->set2(opt, argv[i + 2], o, err, errlen))
				return -1;
			i += 2;
			continue;
		}
		if (opt->value == OPT_VALUE && !val) {
			if (i + 1 >= argc)
				return errmsg(err, errlen, "option %s needs a value", opt->name);
			val = argv[++i];
		}
		if (opt->set(opt, val, o, err, errlen))
			return -1;
	}
	return 0;
}

/* What no single option can check: limits and conflicts between options. */
static int options_check_combinations(const struct mpvm_options *o, char *err, size_t errlen)
{
	/* Without --boot-cpu it is 0, which every --cpus allows. */
	if (o->boot_cpu >= o->cpus)
		return errmsg(err, errlen, "--boot-cpu %u: must be from 0 to %u (--cpus is %u)",
			    o->boot_cpu, o->cpus - 1, o->cpus);
	if (o->no_x2apic && topology_max_apic_id(&o->topology) > 254)
		return errmsg(err, errlen, "--no-x2apic: --cpus %u needs APIC IDs above 254 (up to %u), which only "
			      "x2APIC has", o->cpus, topology_max_apic_id(&o->topology));
	if (o->cpu_features && !o->cpu_features_help &&
	    !cpu_feature_set_shows(&o->cpu_feature_set, "x2apic") && topology_max_apic_id(&o->topology) > 254)
		return errmsg(err, errlen, "--cpu-features hides x2apic, but --cpus %u needs APIC IDs "
			      "above 254 (up to %u), which only x2APIC has", o->cpus, topology_max_apic_id(&o->topology));
	if (o->legacy_pc && !o->kernel)
		return errmsg(err, errlen, "--legacy-pc needs --kernel (the built-in guest starts in long mode)");
	if (o->bios && o->kernel)
		return errmsg(err, errlen, "--bios and --kernel together: the firmware image boots by itself");
	if (o->bios && o->legacy_pc)
		return errmsg(err, errlen, "--legacy-pc needs --kernel; a --bios image sets up the PC itself");
	if (o->initrd && !o->kernel)
		return errmsg(err, errlen, "--initrd needs --kernel (the built-in guest takes no module)");
	if (o->ap_watchdog_ms && !o->control_path)
		return errmsg(err, errlen, "--ap-watchdog needs --control (its VCPU_STUCK events go to the control socket)");
	if (o->reboot && o->topology.maxcpus > o->cpus)
		return errmsg(err, errlen, "--reboot: not with CPU hotplug (--cpus maxcpus=%u above %u) yet: a "
			      "hot-added vCPU has no power-on state to reset to", o->topology.maxcpus, o->cpus);
	if (o->no_acpi && o->topology.maxcpus > o->cpus)
		return errmsg(err, errlen, "--no-acpi: --cpus maxcpus=%u above %u needs CPU hotplug, which "
			      "goes through ACPI", o->topology.maxcpus, o->cpus);
	if (o->no_acpi && o->no_mptable)
		return errmsg(err, errlen, "--no-acpi and --no-mptable together leave the guest no way to find its CPUs");
	if (o->snapshot_on && o->stop_on)
		return errmsg(err, errlen, "--snapshot-on and --stop-on both watch the console for a line; give one");
	return 0;
}

int options_parse_run(int argc, char *const argv[], struct mpvm_options *o,
		      char *err, size_t errlen)
{
	options_set_defaults(o);
	if (options_parse_argv(argc, argv, o, err, errlen))
		return -1;
	return options_check_combinations(o, err, errlen);
}

/* "--irqchip" or "--irqchip=MODE". */
static bool is_irqchip_arg(const char *a)
{
	return strncmp(a, "--irqchip", 9) == 0 && (a[9] == '\0' || a[9] == '=');
}

int options_parse_restore(const char *saved, size_t len, int argc, char *const argv[], struct mpvm_options *o,
			  char *err, size_t errlen)
{
	/* The copy lives as long as mpvm: the options point into it. */
	static char *copy;
	static char *merged[OPT_SHAPE_ARGS_MAX + 64];
	int n = 0;

	bool irqchip = false;

	if (options_parse_run(argc, argv, o, err, errlen))
		return -1;
	/* --irqchip alone may differ: the restore converts the snapshot's interrupt controllers. */
	for (int i = 0; i < o->shape_argc; i++) {
		if (is_irqchip_arg(o->shape_argv[i])) {
			irqchip = true;
			i += !strchr(o->shape_argv[i], '='); /* its value */
			continue;
		}
		return errmsg(err, errlen, "%s: with --restore the machine is the snapshot's; leave %s out",
			      o->shape_argv[i], o->shape_argv[i]);
	}
	if (argc > 64)
		return errmsg(err, errlen, "too many arguments");
	free(copy);
	copy = malloc(len + 1);
	if (!copy)
		return errmsg(err, errlen, "out of memory");
	memcpy(copy, saved, len);
	copy[len] = '\0';
	if (len && saved[len - 1] != '\0')
		return errmsg(err, errlen, "the snapshot's options are not NUL-terminated");
	for (size_t off = 0, values = 0; off < len; off += strlen(copy + off) + 1) {
		const char *a = copy + off;
		const struct run_option *opt = values ? NULL : option_find(a, strcspn(a, "="));

		if (n == OPT_SHAPE_ARGS_MAX)
			return errmsg(err, errlen, "the snapshot holds too many options");
		/* The snapshot's --irqchip (and its value) gives way to the one on the command line. */
		if (irqchip && opt && is_irqchip_arg(a)) {
			if (!strchr(a, '=') && off + strlen(a) + 1 < len)
				off += strlen(a) + 1;
			continue;
		}
		/* an option's own values, which may look like options */
		values = values ? values - 1
		       : opt && !strchr(a, '=') ? (opt->value == OPT_TWO_VALUES ? 2 : opt->value == OPT_VALUE) : 0;
		merged[n++] = copy + off;
	}
	for (int i = 0; i < argc; i++)
		merged[n++] = argv[i];
	if (options_parse_run(n, merged, o, err, errlen)) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		return errmsg(err, errlen, "the snapshot's options: %s", why);
	}
	return 0;
}

/* --help's lines end before this column, as a terminal's 80 do. */
#define USAGE_WIDTH 79

/* The option as --help names it: "--cpus N", "--debug-exit[=PORT]", "--help". */
static int usage_synopsis(const struct run_option *opt, char *buf, size_t len)
{
	switch (opt->value) {
	case OPT_VALUE:
		return snprintf(buf, len, "%s %s", opt->name, opt->arg);
	case OPT_OPTIONAL_VALUE:
		return snprintf(buf, len, "%s[=%s]", opt->name, opt->arg);
	case OPT_TWO_VALUES:
		return snprintf(buf, len, "%s %s", opt->name, opt->arg);
	case OPT_FLAG:
		break;
	}
	return snprintf(buf, len, "%s", opt->name);
}

/* Writes text word by word from column indent, breaking lines at blanks. */
static void usage_wrap(FILE *f, const char *text, int indent)
{
	int col = indent;

	while (*text) {
		int len = (int)strcspn(text, " ");

		if (col > indent && col + 1 + len > USAGE_WIDTH) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", len, text);
		col += len;
		text += len;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

void options_print_usage(FILE *f)
{
	char syn[64];
	int width = 0;

	/* One help column for all, just right of the longest synopsis. */
	for (size_t i = 0; i < options_run_count; i++) {
		int len = usage_synopsis(&options_run_table[i], syn, sizeof(syn));

		if (len > width)
			width = len;
	}
	fputs("usage: mpvm run [options]\n"
	      "\n"
	      "Runs a VM: mpvm's built-in MP bring-up guest, a --kernel or a --bios image.\n"
	      "\n", f);
	for (size_t i = 0; i < options_run_count; i++) {
		usage_synopsis(&options_run_table[i], syn, sizeof(syn));
		fprintf(f, "  %-*s  ", width, syn);
		usage_wrap(f, options_run_table[i].help, 2 + width + 2);
	}
}

int options_check_host(const struct mpvm_options *o, unsigned int max_vcpus,
		       char *err, size_t errlen)
{
	if (o->cpus > max_vcpus)
		return errmsg(err, errlen, "--cpus %u: must be from 1 to %u (KVM_CAP_MAX_VCPUS on this host)",
			    o->cpus, max_vcpus);
	if (o->topology.maxcpus > max_vcpus)
		return errmsg(err, errlen, "--cpus maxcpus=%u: must be at most %u (KVM_CAP_MAX_VCPUS on this host)",
			    o->topology.maxcpus, max_vcpus);
	return 0;
}
