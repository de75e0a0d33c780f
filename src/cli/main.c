/*
 * mpvm's command line: parse, create the VM, run it, report. Everything
 * else lives in core/ (KVM-free), kvm/ and devices/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/mp_diff_cmd.h"
#include "cli/ctl.h"
#include "core/atomic_file.h"
#include "core/bios_image.h"
#include "core/cpu_features.h"
#include "core/linux_boot.h"
#include "core/clock.h"
#include "core/options.h"
#include "core/snapshot_file.h"
#include "core/trace_svg.h"
#include "kvm/snapshot.h"
#include "kvm/vm.h"

static const char usage[] =
	"usage: mpvm run [options]     run a VM (mpvm run --help lists the options)\n"
	"       mpvm trace-svg FILE    draw a --trace file (Chrome trace JSON) as SVG on stdout\n"
	"       mpvm mp-diff A B       where two runs' (traces', reports') MP states and IPIs differ\n"
	"       mpvm ctl PATH COMMAND [name=value ...]   talk to a VM's --control socket (mpvm ctl --help)\n"
	"       mpvm --help            this text\n";

/* mpvm trace-svg FILE: a timeline picture of a trace, on stdout. */
static int cmd_trace_svg(int argc, char **argv)
{
	const char *slash;
	struct stat st;
	char err[512];
	FILE *in;
	int ret;

	if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		puts("usage: mpvm trace-svg FILE.json > timeline.svg");
		return 0;
	}
	if (argc != 1) {
		fputs("mpvm: usage: mpvm trace-svg FILE.json > timeline.svg\n", stderr);
		return MPVM_EXIT_USAGE;
	}
	in = fopen(argv[0], "r");
	if (!in || fstat(fileno(in), &st)) {
		fprintf(stderr, "mpvm: trace-svg: %s: %s\n", argv[0], strerror(errno));
		if (in)
			fclose(in);
		return MPVM_EXIT_USAGE;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "mpvm: trace-svg: %s: a directory, not a trace file\n", argv[0]);
		fclose(in);
		return MPVM_EXIT_USAGE;
	}
	slash = strrchr(argv[0], '/');
	ret = trace_svg_render(in, slash ? slash + 1 : argv[0], stdout, err, sizeof(err));
	fclose(in);
	if (ret) {
		fprintf(stderr, "mpvm: trace-svg: %s: %s\n", argv[0], err);
		return MPVM_EXIT_USAGE;
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "mpvm: trace-svg: writing the SVG: %s\n", strerror(errno ? errno : EIO));
		return MPVM_EXIT_HOST_ERROR;
	}
	return 0;
}

static int cmd_run(int argc, char **argv, uint64_t process_start_ns)
{
	struct mpvm_options opts;
	struct vm vm;
	char err[512];
	int status;

	if (options_parse_run(argc, argv, &opts, err, sizeof(err))) {
		fprintf(stderr, "mpvm: %s\n", err);
		return MPVM_EXIT_USAGE;
	}
	if (opts.help) {
		options_print_usage(stdout);
		return 0;
	}
	/* --restore: the machine is the snapshot's; its file is checked whole before KVM is touched. */
	if (opts.restore_path) {
		const char *path = opts.restore_path;
		const struct snap_section *s;
		struct snap_file f;
		int r;

		if (snap_file_open(&f, path, err, sizeof(err))) {
			fprintf(stderr, "mpvm: --restore %s\n", err);
			return MPVM_EXIT_USAGE;
		}
		s = snap_file_find(&f, SNAP_TAG('O', 'P', 'T', 'S'), 0);
		r = s ? options_parse_restore((const char *)s->data, s->len, argc, argv, &opts, err, sizeof(err))
		      : snprintf(err, sizeof(err), "section OPTS#0: missing");
		snap_file_close(&f);
		if (r || snapshot_check(path, &opts, err, sizeof(err))) {
			fprintf(stderr, "mpvm: --restore %s: %s\n", path, err);
			return MPVM_EXIT_USAGE;
		}
	}
	if (opts.cpu_features_help) {
		cpu_features_help(stdout);
		return 0;
	}
	/* A bad kernel or initrd is bad input: say so before KVM is touched. */
	if (opts.kernel && kernel_check_files(opts.kernel, opts.initrd, opts.cmdline, opts.memory,
					  err, sizeof(err))) {
		fprintf(stderr, "mpvm: %s\n", err);
		return MPVM_EXIT_USAGE;
	}
	if (opts.bios && bios_image_check(opts.bios, err, sizeof(err))) {
		fprintf(stderr, "mpvm: %s\n", err);
		return MPVM_EXIT_USAGE;
	}
	/*
	 * The trace and the report go in place at the end: a path they cannot
	 * be written to would lose the run.
	 */
	if (opts.trace_path && atomic_file_check(opts.trace_path, err, sizeof(err))) {
		fprintf(stderr, "mpvm: --trace %s\n", err);
		return MPVM_EXIT_USAGE;
	}
	if (opts.report_path && atomic_file_check(opts.report_path, err, sizeof(err))) {
		fprintf(stderr, "mpvm: --report %s\n", err);
		return MPVM_EXIT_USAGE;
	}
	vm_setup_signals();

	if (vm_create(&vm, &opts)) {
		vm_destroy(&vm);
		return MPVM_EXIT_HOST_ERROR;
	}
	vm.confine_main = true; /* from here on the main thread only waits, reports and ends */
	status = vm_run(&vm);
	if (vm_report(&vm, process_start_ns) && status == 0)
		status = MPVM_EXIT_HOST_ERROR;
	vm_destroy(&vm);
	return status;
}

int main(int argc, char **argv)
{
	uint64_t start = monotonic_ns();

	if (argc < 2) {
		fputs(usage, stderr);
		return MPVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2, start);
	if (!strcmp(argv[1], "trace-svg"))
		return cmd_trace_svg(argc - 2, argv + 2);
	if (!strcmp(argv[1], "mp-diff"))
		return cmd_mp_diff(argc - 2, argv + 2);
	if (!strcmp(argv[1], "ctl"))
		return cmd_ctl(argc - 2, argv + 2);
	fprintf(stderr, "mpvm: unknown command '%s'\n%s", argv[1], usage);
	return MPVM_EXIT_USAGE;
}
