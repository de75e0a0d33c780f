/*
 * mpvm mp-diff [--ignore WHAT,...] A.json B.json: like diff(1), status 0
 * when the two runs went through the same MP states and IPIs, 1 when they
 * did not (printed vCPU by vCPU), 2 for a bad command line or file.
 */
#include "cli/mp_diff_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/input_file.h"
#include "core/mp_diff.h"
#include "kvm/vm.h"

static const char mp_diff_usage[] =
	"usage: mpvm mp-diff [--ignore WHAT,...] A.json B.json\n"
	"  A and B: --trace or --report files; prints where their vCPUs' MP-state\n"
	"  and IPI sequences differ, times left out (status 0: none, 1: some)\n"
	"  --ignore: sipi-received, init-deassert, halt-cycles, or kvm (all three):\n"
	"  the known differences between KVM's local APICs and mpvm's (README)\n";

static int load(const char *path, struct mp_run *r)
{
	char err[512];
	struct stat st;
	FILE *in = fopen(path, "r");
	int ret;

	if (!in) {
		fprintf(stderr, "mpvm: mp-diff: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(in), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		fprintf(stderr, "mpvm: mp-diff: %s: %s, not a trace or report file\n", path, input_file_kind(st.st_mode));
		fclose(in);
		return -1;
	}
	err[0] = '\0';
	ret = mp_run_load(r, in, err, sizeof(err));
	fclose(in);
	if (ret)
		fprintf(stderr, "mpvm: mp-diff: %s: %s\n", path, err);
	return ret;
}

int cmd_mp_diff(int argc, char **argv)
{
	unsigned int ignore = 0;
	struct mp_run a, b;
	unsigned int differ;

	if (argc == 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		fputs(mp_diff_usage, stdout);
		return 0;
	}
	if (argc >= 1 && !strncmp(argv[0], "--ignore", 8)) {
		const char *list = argv[0][8] == '=' ? argv[0] + 9 : argv[0][8] == '\0' && argc > 1 ? argv[1] : NULL;

		if (!list || mp_diff_parse_ignore(list, &ignore)) {
			fprintf(stderr, "mpvm: mp-diff: --ignore takes sipi-received, init-deassert, halt-cycles or kvm, "
				"separated by commas%s%s%s\n", list ? " (got '" : "", list ? list : "", list ? "')" : "");
			return MPVM_EXIT_USAGE;
		}
		argc -= argv[0][8] == '=' ? 1 : 2;
		argv += argv[0][8] == '=' ? 1 : 2;
	}
	if (argc != 2) {
		fprintf(stderr, "mpvm: mp-diff: needs two files\n%s", mp_diff_usage);
		return MPVM_EXIT_USAGE;
	}
	if (load(argv[0], &a))
		return MPVM_EXIT_USAGE;
	if (load(argv[1], &b)) {
		mp_run_free(&a);
		return MPVM_EXIT_USAGE;
	}
	mp_run_normalize(&a, ignore);
	mp_run_normalize(&b, ignore);
	differ = mp_diff_print(stdout, &a, argv[0], &b, argv[1]);
	mp_run_free(&a);
	mp_run_free(&b);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "mpvm: mp-diff: writing the result: %s\n", strerror(errno ? errno : EIO));
		return MPVM_EXIT_USAGE;
	}
	return differ ? 1 : 0;
}
