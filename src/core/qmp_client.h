/*
 * The client side of QMP for `mpvm ctl` (src/cli/ctl.c): a connection to
 * a control socket (mpvm's or QEMU's), requests built from the command
 * line's `name=value` words, and answers and events printed for people.
 * KVM-free: unit tests (tests/core/test_qmp_client.c) drive the request
 * builder and the printers directly.
 */
#ifndef MPVM_CORE_QMP_CLIENT_H
#define MPVM_CORE_QMP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct json_object;

struct qmp_client {
	int fd;
	char *buf;          /* bytes read and not yet returned as lines */
	size_t len, cap;
	int timeout_ms;     /* for each wait on the socket; -1: none */
};

/*
 * Connects to the socket at `path`, reads the greeting and negotiates
 * (qmp_capabilities). 0, or -1 with the reason in err.
 */
int qmp_client_open(struct qmp_client *c, const char *path, int timeout_ms, char *err, size_t errlen);
void qmp_client_close(struct qmp_client *c);

/* The next message from the server (an answer or an event), or NULL with the reason in err. */
struct json_object *qmp_client_next(struct qmp_client *c, char *err, size_t errlen);

/*
 * Sends `request` (taken) and returns its answer; events that come first
 * are dropped. NULL with the reason in err.
 */
struct json_object *qmp_client_call(struct qmp_client *c, struct json_object *request, char *err, size_t errlen);

/*
 * {"execute": cmd, "arguments": {...}} from `name=value` words. With a
 * command mpvm knows (core/qmp.c's table) each value is converted to its
 * argument's type (a clear error if it does not fit); otherwise integers,
 * true and false are sent as such and the rest as strings. NULL with the
 * reason in err.
 */
struct json_object *qmp_client_request(const char *cmd, char *const *words, int nwords, char *err, size_t errlen);

/*
 * Whether `msg` is the event `name` and each `key=value` word matches a
 * member of its data (the value's JSON text, strings without quotes).
 */
bool qmp_client_event_matches(struct json_object *msg, const char *name, char *const *words, int nwords);

/*
 * For people: a table of vCPUs for query-cpus-fast and
 * mpvm-query-mp-state, `ok` for an empty return, `key: value` lines
 * otherwise; an error as `error: CLASS: DESC`.
 */
void qmp_client_print_answer(FILE *out, const char *cmd, struct json_object *answer);
/* For people: `EVENT key=value ...` on one line. */
void qmp_client_print_event(FILE *out, struct json_object *event);

#endif
