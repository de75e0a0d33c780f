/* Unit tests of core/options.c: every option, its range and its message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/options.h"

#define PARSE(o, err, ...) parse((o), (err), (char *[]){ __VA_ARGS__, NULL })

static int parse(struct mpvm_options *o, char *err, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	err[0] = '\0';
	return options_parse_run(argc, argv, o, err, 256);
}

static void defaults(void **state)
{
	struct mpvm_options o;
	char err[256];

	(void)state;
	assert_int_equal(options_parse_run(0, NULL, &o, err, sizeof(err)), 0);
	assert_int_equal(o.cpus, 1);
	assert_true(o.memory == 256ull << 20);
	assert_int_equal(o.boot_cpu, 0);
	assert_int_equal(o.irqchip, IRQCHIP_KERNEL);
	assert_null(o.report_path);
	assert_string_equal(o.cmdline, "");
	assert_int_equal(o.timeout_ms, 0);
}

static void all_options(void **state)
{
	struct mpvm_options o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--cpus", "8", "--memory=1G", "--boot-cpu", "7",
			       "--irqchip", "kernel", "--report", "r.json", "--cmdline",
			       "scenario=reinit", "--timeout=30", "--no-mptable"), 0);
	assert_int_equal(o.cpus, 8);
	assert_true(o.memory == 1ull << 30);
	assert_int_equal(o.boot_cpu, 7);
	assert_string_equal(o.report_path, "r.json");
	assert_string_equal(o.cmdline, "scenario=reinit");
	assert_int_equal(o.timeout_ms, 30000);
	assert_true(o.no_mptable);
	assert_false(o.no_acpi);
}

static void sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_size("65536", &v), 0);
	assert_true(v == 65536);
	assert_int_equal(parse_size("64K", &v), 0);
	assert_true(v == 64 << 10);
	assert_int_equal(parse_size("256M", &v), 0);
	assert_true(v == 256ull << 20);
	assert_int_equal(parse_size("2g", &v), 0);
	assert_true(v == 2ull << 30);
	assert_int_equal(parse_size("512MiB", &v), 0);
	assert_true(v == 512ull << 20);
	assert_int_equal(parse_size("", &v), -1);
	assert_int_equal(parse_size("M", &v), -1);
	assert_int_equal(parse_size("-1M", &v), -1);
	assert_int_equal(parse_size("12Q", &v), -1);
	assert_int_equal(parse_size("99999999999999999999", &v), -1);
	assert_int_equal(parse_size("99999999999T", &v), -1);
}

struct bad_case {
	const char *args[4];
	const char *message;
};

/* Each bad value is refused with a message naming the option and the range. */
static void bad_values(void **state)
{
	static const struct bad_case cases[] = {
		{ { "--cpus", "0" }, "--cpus '0': must be a whole number from 1 to 4096" },
		{ { "--cpus", "4097" }, "--cpus '4097': must be a whole number from 1 to 4096" },
		{ { "--cpus", "two" }, "--cpus 'two': must be a whole number from 1 to 4096" },
		{ { "--cpus", "2x" }, "--cpus '2x': must be a whole number from 1 to 4096" },
		{ { "--cpus" }, "option --cpus needs a value" },
		{ { "--memory", "lots" }, "--memory 'lots': not a size" },
		{ { "--memory", "1M" }, "--memory '1M': must be from 16M to 1T" },
		{ { "--memory", "2T" }, "--memory '2T': must be from 16M to 1T" },
		{ { "--memory", "16777217" }, "--memory '16777217': must be a multiple of 4K" },
		{ { "--cpus", "4", "--boot-cpu", "4" }, "--boot-cpu 4: must be from 0 to 3 (--cpus is 4)" },
		{ { "--boot-cpu", "1" }, "--boot-cpu 1: must be from 0 to 0 (--cpus is 1)" },
		{ { "--boot-cpu", "-1" }, "--boot-cpu '-1': must be a vCPU id" },
		{ { "--irqchip", "apic" }, "--irqchip 'apic': must be kernel, split or user" },
		{ { "--timeout", "0" }, "--timeout '0': must be whole seconds from 1 to 86400" },
		{ { "--report", "" }, "--report: needs a file name" },
		{ { "--frobnicate" }, "unknown option '--frobnicate'" },
		{ { "-c", "4" }, "unexpected argument '-c'" },
		{ { "--no-acpi=1" }, "option --no-acpi takes no value" },
		{ { "--no-acpi", "--no-mptable" }, "--no-acpi and --no-mptable together" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[5] = { 0 };
		struct mpvm_options o;
		char err[256];

		memcpy(argv, cases[i].args, sizeof(cases[i].args));
		assert_int_equal(parse(&o, err, argv), -1);
		if (!strstr(err, cases[i].message))
			fail_msg("case %zu: got '%s', want it to contain '%s'", i, err, cases[i].message);
	}
}

static void boot_cpu_before_cpus(void **state)
{
	struct mpvm_options o;
	char err[256];

	(void)state;
	/* The order of options does not matter. */
	assert_int_equal(PARSE(&o, err, "--boot-cpu", "5", "--cpus", "8"), 0);
	assert_int_equal(o.boot_cpu, 5);
}

static void host_limit(void **state)
{
	struct mpvm_options o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--cpus", "300"), 0);
	assert_int_equal(options_check_host(&o, 1024, err, sizeof(err)), 0);
	assert_int_equal(options_check_host(&o, 288, err, sizeof(err)), -1);
	assert_string_equal(err, "--cpus 300: must be from 1 to 288 (KVM_CAP_MAX_VCPUS on this host)");
}

/* --kernel, --initrd, --debug-exit[=PORT], --pc-testdev, --legacy-pc */
static void multiboot_options(void **state)
{
	struct mpvm_options o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--kernel", "k.elf", "--initrd=i.img", "--debug-exit",
			       "--pc-testdev", "--legacy-pc"), 0);
	assert_string_equal(o.kernel, "k.elf");
	assert_string_equal(o.initrd, "i.img");
	assert_true(o.debug_exit && o.debug_exit_port == 0xf4);
	assert_true(o.pc_testdev && o.legacy_pc);
	assert_int_equal(PARSE(&o, err, "--debug-exit=0x501"), 0);
	assert_true(o.debug_exit && o.debug_exit_port == 0x501);
	assert_null(o.kernel);
	assert_int_equal(PARSE(&o, err, "--debug-exit=1280"), 0);
	assert_int_equal(o.debug_exit_port, 0x500);

	assert_int_equal(PARSE(&o, err, "--debug-exit=0x6fe"), -1);
	assert_string_equal(err, "--debug-exit=0x6fe: ports 0x6fe-0x701 overlap mpvm's exit port 0x700-0x703");
	assert_int_equal(PARSE(&o, err, "--debug-exit=0x3fc"), -1);
	assert_non_null(strstr(err, "overlap COM1"));
	assert_int_equal(PARSE(&o, err, "--debug-exit=0x510"), -1);
	assert_non_null(strstr(err, "overlap fw_cfg"));
	assert_int_equal(PARSE(&o, err, "--debug-exit=0xe2"), -1);
	assert_non_null(strstr(err, "overlap pc-testdev"));
	assert_int_equal(PARSE(&o, err, "--debug-exit=0x40"), -1);
	assert_non_null(strstr(err, "overlap the PIT 0x40-0x43"));
	assert_int_equal(PARSE(&o, err, "--debug-exit=0xcfc"), -1);
	assert_non_null(strstr(err, "overlap PCI configuration"));
	assert_int_equal(PARSE(&o, err, "--debug-exit=0xfffd"), -1);
	assert_non_null(strstr(err, "PORT must be an I/O port from 0 to 0xfffc"));
	assert_int_equal(PARSE(&o, err, "--debug-exit=x"), -1);
	assert_int_equal(PARSE(&o, err, "--debug-exit="), -1);
	assert_int_equal(PARSE(&o, err, "--pc-testdev=1"), -1);
	assert_string_equal(err, "option --pc-testdev takes no value");
	assert_int_equal(PARSE(&o, err, "--initrd", "i.img"), -1);
	assert_string_equal(err, "--initrd needs --kernel (the built-in guest takes no module)");
	assert_int_equal(PARSE(&o, err, "--legacy-pc"), -1);
	assert_non_null(strstr(err, "--legacy-pc needs --kernel"));
	assert_int_equal(PARSE(&o, err, "--no-x2apic", "--cpus", "255"), 0);
	assert_true(o.no_x2apic);
	assert_int_equal(PARSE(&o, err, "--no-x2apic", "--cpus", "256"), -1);
	assert_string_equal(err, "--no-x2apic: --cpus 256 needs APIC IDs above 254 (up to 255), which only x2APIC has");
	/* Topology words: the count follows them, gaps in the IDs count for x2APIC. */
	assert_int_equal(PARSE(&o, err, "--cpus", "sockets=2,cores=2,threads=2"), 0);
	assert_int_equal(o.cpus, 8);
	assert_int_equal(o.topology.threads, 2);
	assert_int_equal(PARSE(&o, err, "--cpus", "2,maxcpus=4"), 0);
	assert_int_equal(o.cpus, 2);
	assert_int_equal(o.topology.maxcpus, 4);
	assert_int_equal(PARSE(&o, err, "--cpus", "2,maxcpus=4", "--no-acpi"), -1);
	assert_non_null(strstr(err, "needs CPU hotplug, which goes through ACPI"));
	assert_int_equal(PARSE(&o, err, "--no-x2apic", "--cpus", "sockets=2,cores=130"), -1);
	assert_non_null(strstr(err, "up to 385"));
	/* 2 x 120 cores: 240 CPUs, but the second socket starts at APIC ID 128. */
	assert_int_equal(PARSE(&o, err, "--no-x2apic", "--cpus", "sockets=2,cores=120"), 0);
	assert_int_equal(PARSE(&o, err, "--kernel="), -1);
	assert_string_equal(err, "--kernel: needs a file name");
	assert_int_equal(PARSE(&o, err, "--kernel"), -1);
	assert_string_equal(err, "option --kernel needs a value");
}

/* Every entry is complete: a --name used once, help, a placeholder iff it takes a value. */
static void table_is_complete(void **state)
{
	(void)state;
	assert_true(options_run_count >= 20);
	for (size_t i = 0; i < options_run_count; i++) {
		const struct run_option *opt = &options_run_table[i];

		assert_non_null(opt->name);
		if (strncmp(opt->name, "--", 2) || strlen(opt->name) < 3 || strchr(opt->name, '='))
			fail_msg("entry %zu: bad name '%s'", i, opt->name);
		assert_non_null(opt->set);
		if (!opt->help || !*opt->help || strchr(opt->help, '\n'))
			fail_msg("%s: help must be one non-empty line", opt->name);
		if ((opt->value == OPT_FLAG) != (opt->arg == NULL))
			fail_msg("%s: a placeholder exactly when it takes a value", opt->name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(options_run_table[j].name, opt->name))
				fail_msg("%s: in the table twice", opt->name);
	}
}

static char *usage_string(void)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	options_print_usage(f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* --help has a line "  --name ARG" (or "--name[=ARG]") for each entry, and no line over 79. */
static void usage_lists_every_option(void **state)
{
	char *text = usage_string();
	char want[80];

	(void)state;
	for (size_t i = 0; i < options_run_count; i++) {
		const struct run_option *opt = &options_run_table[i];

		if (opt->value == OPT_VALUE)
			snprintf(want, sizeof(want), "\n  %s %s ", opt->name, opt->arg);
		else if (opt->value == OPT_OPTIONAL_VALUE)
			snprintf(want, sizeof(want), "\n  %s[=%s] ", opt->name, opt->arg);
		else
			snprintf(want, sizeof(want), "\n  %s ", opt->name);
		if (!strstr(text, want))
			fail_msg("--help has no line starting '%s'", want + 1);
	}
	for (const char *line = text; *line; ) {
		size_t len = strcspn(line, "\n");

		if (len > 79)
			fail_msg("--help line longer than 79: '%.*s'", (int)len, line);
		line += len + (line[len] == '\n');
	}
	/* The issue that made the table: --kernel's help said multiboot only. */
	assert_non_null(strstr(text, "bzImage"));
	assert_non_null(strstr(text, "vmlinux"));
	assert_non_null(strstr(text, "multiboot"));
	free(text);
}

/*
 * A working command line per option: argv[0] is the option, argv[1] its
 * value if it takes one, the rest what it needs beside it. A new option
 * without a sample here fails every_option_parses.
 */
static const struct {
	const char *argv[4];
} samples[] = {
	{ { "--cpus", "2" } },
	{ { "--memory", "64M" } },
	{ { "--boot-cpu", "1", "--cpus", "2" } },
	{ { "--irqchip", "split" } },
	{ { "--cmdline", "scenario=reinit" } },
	{ { "--no-acpi" } },
	{ { "--no-mptable" } },
	{ { "--kernel", "k.elf" } },
	{ { "--initrd", "i.img", "--kernel", "k.elf" } },
	{ { "--debug-exit" } },
	{ { "--pc-testdev" } },
	{ { "--no-x2apic" } },
	{ { "--legacy-pc", "--kernel", "k.elf" } },
	{ { "--bios", "fw.bin" } },
	{ { "--cpu-features", "baseline" } },
	{ { "--unknown-io", "ignore" } },
	{ { "--seccomp", "log" } },
	{ { "--stop-on", "login:" } },
	{ { "--control", "/tmp/mpvm.qmp" } },
	{ { "--reboot" } },
	{ { "--restore", "vm.snap" } },
	{ { "--snapshot-on", "hold init", "vm.snap" } },
	{ { "--ap-watchdog", "300", "--control", "/tmp/mpvm.qmp" } },
	{ { "--report", "r.json" } },
	{ { "--trace", "t.json" } },
	{ { "--timeout", "5" } },
	{ { "--help" } },
};

/* Each option is accepted as --opt VALUE and as --opt=VALUE. */
static void every_option_parses(void **state)
{
	(void)state;
	for (size_t i = 0; i < options_run_count; i++) {
		const struct run_option *opt = &options_run_table[i];
		const char *const *sample = NULL;
		char *argv[5] = { 0 };
		char joined[64];
		struct mpvm_options o;
		char err[256];

		for (size_t j = 0; j < sizeof(samples) / sizeof(samples[0]); j++)
			if (!strcmp(samples[j].argv[0], opt->name))
				sample = samples[j].argv;
		if (!sample)
			fail_msg("%s: no sample command line in this test", opt->name);
		memcpy(argv, sample, sizeof(samples[0].argv));
		if (parse(&o, err, argv))
			fail_msg("%s: refused: %s", opt->name, err);
		if (opt->value != OPT_VALUE)
			continue;
		snprintf(joined, sizeof(joined), "%s=%s", argv[0], argv[1]);
		argv[0] = joined;
		memmove(&argv[1], &argv[2], 3 * sizeof(argv[0]));
		if (parse(&o, err, argv))
			fail_msg("%s: refused: %s", joined, err);
	}
}

/* The table's value kinds, as the parser enforces them for every option. */
static void value_kinds(void **state)
{
	(void)state;
	for (size_t i = 0; i < options_run_count; i++) {
		const struct run_option *opt = &options_run_table[i];
		char arg[64], want[96];
		struct mpvm_options o;
		char err[256];

		switch (opt->value) {
		case OPT_FLAG:
			snprintf(arg, sizeof(arg), "%s=1", opt->name);
			snprintf(want, sizeof(want), "option %s takes no value", opt->name);
			assert_int_equal(PARSE(&o, err, arg), -1);
			assert_string_equal(err, want);
			break;
		case OPT_VALUE:
			snprintf(want, sizeof(want), "option %s needs a value", opt->name);
			assert_int_equal(PARSE(&o, err, (char *)opt->name), -1);
			assert_string_equal(err, want);
			break;
		case OPT_OPTIONAL_VALUE:
			/* The next argument is never its value. */
			assert_int_equal(PARSE(&o, err, (char *)opt->name, "--no-acpi"), 0);
			assert_true(o.no_acpi);
			break;
		case OPT_TWO_VALUES:
			snprintf(want, sizeof(want), "option %s needs two values: %s %s", opt->name, opt->name, opt->arg);
			assert_int_equal(PARSE(&o, err, (char *)opt->name, "one"), -1);
			assert_string_equal(err, want);
			snprintf(arg, sizeof(arg), "%s=x", opt->name);
			assert_int_equal(PARSE(&o, err, arg, "a", "b"), -1);
			assert_string_equal(err, want);
			break;
		}
	}
}

/*
 * The machine-shaping arguments are kept as typed (a snapshot stores them);
 * --restore takes them from the snapshot and refuses them on its own
 * command line; --snapshot-on takes two values and not with --stop-on.
 */
static void shaping_and_restore(void **state)
{
	static const char saved[] = "--cpus\0004\0--irqchip=user\0--cmdline\0scenario=default hold=init";
	struct mpvm_options o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--cpus", "4", "--timeout", "9", "--irqchip=user", "--no-acpi",
			       "--control", "/tmp/q"), 0);
	assert_int_equal(o.shape_argc, 4);
	assert_string_equal(o.shape_argv[0], "--cpus");
	assert_string_equal(o.shape_argv[1], "4");
	assert_string_equal(o.shape_argv[2], "--irqchip=user");
	assert_string_equal(o.shape_argv[3], "--no-acpi");

	assert_int_equal(options_parse_restore(saved, sizeof(saved), 3,
					       (char *[]){ "--restore", "vm.snap", "--stop-on=x", NULL }, &o, err,
					       sizeof(err)), 0);
	assert_int_equal(o.cpus, 4);
	assert_int_equal(o.irqchip, IRQCHIP_USER);
	assert_string_equal(o.cmdline, "scenario=default hold=init");
	assert_string_equal(o.restore_path, "vm.snap");
	assert_string_equal(o.stop_on, "x");
	assert_int_equal(o.shape_argc, 5);           /* a snapshot of it keeps the same machine */

	/* --irqchip alone may differ from the snapshot's (the restore converts): it takes the saved one's place */
	assert_int_equal(options_parse_restore(saved, sizeof(saved), 4,
					       (char *[]){ "--restore", "vm.snap", "--irqchip", "kernel", NULL }, &o, err,
					       sizeof(err)), 0);
	assert_int_equal(o.irqchip, IRQCHIP_KERNEL);
	assert_int_equal(o.cpus, 4);
	assert_int_equal(o.shape_argc, 6);
	assert_string_equal(o.shape_argv[4], "--irqchip");
	assert_string_equal(o.shape_argv[5], "kernel");
	{
		static const char saved2[] = "--irqchip\0split\0--cmdline\0--irqchip";
		assert_int_equal(options_parse_restore(saved2, sizeof(saved2), 3,
						       (char *[]){ "--restore", "vm.snap", "--irqchip=user", NULL }, &o,
						       err, sizeof(err)), 0);
		assert_int_equal(o.irqchip, IRQCHIP_USER);
		assert_string_equal(o.cmdline, "--irqchip");   /* a value that looks like the option stays a value */
	}
	assert_int_equal(options_parse_restore(saved, sizeof(saved), 5,
					       (char *[]){ "--restore", "vm.snap", "--irqchip=split", "--memory", "1G",
							   NULL }, &o, err, sizeof(err)), -1);
	assert_string_equal(err, "--memory: with --restore the machine is the snapshot's; leave --memory out");
	assert_int_equal(options_parse_restore(saved, sizeof(saved), 4,
					       (char *[]){ "--restore", "vm.snap", "--memory", "1G", NULL }, &o, err,
					       sizeof(err)), -1);
	assert_string_equal(err, "--memory: with --restore the machine is the snapshot's; leave --memory out");
	assert_int_equal(options_parse_restore("--cpus\0zero", 12, 2, (char *[]){ "--restore", "f", NULL }, &o, err,
					       sizeof(err)), -1);
	assert_non_null(strstr(err, "the snapshot's options: "));
	assert_int_equal(options_parse_restore("--cpus", 6, 2, (char *[]){ "--restore", "f", NULL }, &o, err,
					       sizeof(err)), -1);
	assert_string_equal(err, "the snapshot's options are not NUL-terminated");

	assert_int_equal(PARSE(&o, err, "--snapshot-on", "text", "path"), 0);
	assert_string_equal(o.snapshot_on, "text");
	assert_string_equal(o.snapshot_on_path, "path");
	assert_int_equal(PARSE(&o, err, "--snapshot-on", "a", "b", "--stop-on", "c"), -1);
	assert_string_equal(err, "--snapshot-on and --stop-on both watch the console for a line; give one");
	assert_int_equal(PARSE(&o, err, "--snapshot-on", "", "b"), -1);
	assert_int_equal(PARSE(&o, err, "--snapshot-on", "a", ""), -1);
	assert_string_equal(err, "--snapshot-on: the snapshot's file name is empty");
}

/* Names are matched whole: no prefixes, no case folding; long ones are named in full. */
static void unknown_names(void **state)
{
	static const char *const bad[] = { "--cpu", "--cpus2", "--CPUS", "--", "--=4", "--no-acpi-x" };
	char name[64];
	char want[128];
	struct mpvm_options o;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(PARSE(&o, err, (char *)bad[i], "4"), -1);
		if (!strstr(err, "unknown option '--"))
			fail_msg("'%s': got '%s'", bad[i], err);
	}
	memset(name, 'a', sizeof(name) - 1);
	name[0] = name[1] = '-';
	name[sizeof(name) - 1] = '\0';
	snprintf(want, sizeof(want), "unknown option '%s' (see mpvm run --help)", name);
	assert_int_equal(PARSE(&o, err, name), -1);
	assert_string_equal(err, want);
}

/* --control PATH: a socket path must fit sun_path. */
static void control_path(void **state)
{
	struct mpvm_options o;
	char err[256], path[200];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--control", "/run/vm.qmp"), 0);
	assert_string_equal(o.control_path, "/run/vm.qmp");
	assert_int_equal(PARSE(&o, err, "--control="), -1);
	assert_non_null(strstr(err, "--control: the socket's path must be 1 to 107 bytes"));
	memset(path, 'a', 108);
	path[108] = '\0';
	assert_int_equal(PARSE(&o, err, "--control", path), -1);
	path[107] = '\0';
	assert_int_equal(PARSE(&o, err, "--control", path), 0);
}

/* --ap-watchdog MS: milliseconds, and only with a socket for its events. */
static void ap_watchdog(void **state)
{
	struct mpvm_options o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--ap-watchdog", "250", "--control", "/run/vm.qmp"), 0);
	assert_int_equal(o.ap_watchdog_ms, 250);
	assert_int_equal(PARSE(&o, err, "--ap-watchdog", "250"), -1);
	assert_non_null(strstr(err, "--ap-watchdog needs --control"));
	assert_int_equal(PARSE(&o, err, "--ap-watchdog", "0", "--control", "/run/vm.qmp"), -1);
	assert_non_null(strstr(err, "--ap-watchdog '0': must be whole milliseconds from 1 to 3600000"));
	assert_int_equal(PARSE(&o, err, "--ap-watchdog", "1s", "--control", "/run/vm.qmp"), -1);
}

/* --reboot: a flag, not with CPU hotplug (a hot-added vCPU has no power-on state). */
static void reboot(void **state)
{
	struct mpvm_options o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--cpus", "2"), 0);
	assert_false(o.reboot);
	assert_int_equal(PARSE(&o, err, "--reboot", "--cpus", "2"), 0);
	assert_true(o.reboot);
	assert_int_equal(PARSE(&o, err, "--reboot", "--cpus", "2,maxcpus=4"), -1);
	assert_non_null(strstr(err, "--reboot: not with CPU hotplug (--cpus maxcpus=4 above 2) yet"));
	assert_int_equal(PARSE(&o, err, "--reboot=1"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(all_options),
		cmocka_unit_test(sizes),
		cmocka_unit_test(bad_values),
		cmocka_unit_test(boot_cpu_before_cpus),
		cmocka_unit_test(host_limit),
		cmocka_unit_test(multiboot_options),
		cmocka_unit_test(table_is_complete),
		cmocka_unit_test(usage_lists_every_option),
		cmocka_unit_test(every_option_parses),
		cmocka_unit_test(value_kinds),
		cmocka_unit_test(shaping_and_restore),
		cmocka_unit_test(unknown_names),
		cmocka_unit_test(control_path),
		cmocka_unit_test(ap_watchdog),
		cmocka_unit_test(reboot),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
