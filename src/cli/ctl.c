/*
 * mpvm ctl: a client for the control socket (--control), in the same
 * binary. The protocol and the printing are core/qmp_client.c's; this is
 * the command line.
 */
#include "cli/ctl.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/qmp_client.h"
#include "kvm/vm.h"

static const char ctl_usage[] =
	"usage: mpvm ctl [--json] [--timeout SECONDS] PATH COMMAND [name=value ...]\n"
	"       mpvm ctl [--json] [--timeout SECONDS] PATH wait EVENT [key=value ...]\n"
	"  COMMAND is a QMP command (query-status, stop, cont, quit, query-cpus-fast, inject-nmi,\n"
	"  mpvm-query-mp-state, mpvm-vcpu-pause, mpvm-vcpu-resume, mpvm-send, mpvm-fault, ...);\n"
	"  wait prints the first EVENT whose data has each key=value. --json prints the server's\n"
	"  JSON as it is; --timeout (default 10 s for a command, none for wait) bounds each wait.\n"
	"  Exit status: 0, 1 if the answer is an error, 2 for usage or connection errors, 124 on timeout.\n";

int cmd_ctl(int argc, char **argv)
{
	bool json = false;
	double timeout_s = -1;
	struct qmp_client c;
	char err[512];
	int i = 0, status = 0;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		char *end;

		if (!strcmp(argv[i], "--help")) {
			fputs(ctl_usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			timeout_s = strtod(argv[++i], &end);
			if (*end || !(timeout_s > 0 && timeout_s <= 86400)) {
				fprintf(stderr, "mpvm: ctl: --timeout '%s': must be seconds, above 0 and at most 86400\n", argv[i]);
				return MPVM_EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "mpvm: ctl: unknown option '%s'\n%s", argv[i], ctl_usage);
			return MPVM_EXIT_USAGE;
		}
	}
	if (argc - i < 2 || (!strcmp(argv[i + 1], "wait") && argc - i < 3)) {
		fprintf(stderr, "mpvm: ctl: %s\n%s", argc - i < 2 ? "needs a socket path and a command" : "wait needs an event name", ctl_usage);
		return MPVM_EXIT_USAGE;
	}
	if (!strcmp(argv[i + 1], "wait")) {
		const char *name = argv[i + 2];
		uint64_t deadline = monotonic_ns() + (uint64_t)(timeout_s * 1e9);

		if (qmp_client_open(&c, argv[i], timeout_s > 0 ? (int)(timeout_s * 1000) : -1, err, sizeof(err))) {
			fprintf(stderr, "mpvm: ctl: %s\n", err);
			return MPVM_EXIT_USAGE;
		}
		for (;;) {
			struct json_object *m;

			/* --timeout bounds the whole wait: other events keep coming meanwhile. */
			if (timeout_s > 0) {
				uint64_t now = monotonic_ns();

				c.timeout_ms = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
			}
			m = qmp_client_next(&c, err, sizeof(err));

			if (!m && strstr(err, "no answer within")) {
				fprintf(stderr, "mpvm: ctl: no %s event within %g s\n", name, timeout_s);
				status = MPVM_EXIT_TIMEOUT;
				break;
			}
			if (!m) {
				fprintf(stderr, "mpvm: ctl: waiting for %s: %s\n", name, err);
				status = MPVM_EXIT_USAGE;
				break;
			}
			if (qmp_client_event_matches(m, name, argv + i + 3, argc - i - 3)) {
				if (json)
					puts(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN));
				else
					qmp_client_print_event(stdout, m);
				json_object_put(m);
				break;
			}
			json_object_put(m);
		}
	} else {
		const char *cmd = argv[i + 1];
		struct json_object *req = qmp_client_request(cmd, argv + i + 2, argc - i - 2, err, sizeof(err)), *ans;

		if (!req) {
			fprintf(stderr, "mpvm: ctl: %s\n", err);
			return MPVM_EXIT_USAGE;
		}
		if (qmp_client_open(&c, argv[i], timeout_s > 0 ? (int)(timeout_s * 1000) : 10000, err, sizeof(err))) {
			json_object_put(req);
			fprintf(stderr, "mpvm: ctl: %s\n", err);
			return MPVM_EXIT_USAGE;
		}
		ans = qmp_client_call(&c, req, err, sizeof(err));
		if (!ans) {
			fprintf(stderr, "mpvm: ctl: %s: %s\n", cmd, err);
			status = strstr(err, "no answer within") ? MPVM_EXIT_TIMEOUT : MPVM_EXIT_USAGE;
		} else {
			bool is_error = json_object_object_get_ex(ans, "error", NULL);

			if (json)
				puts(json_object_to_json_string_ext(ans, JSON_C_TO_STRING_PLAIN));
			else
				qmp_client_print_answer(is_error ? stderr : stdout, cmd, ans);
			status = is_error ? 1 : 0;
			json_object_put(ans);
		}
	}
	qmp_client_close(&c);
	if (fflush(stdout))
		status = MPVM_EXIT_HOST_ERROR;
	return status;
}
