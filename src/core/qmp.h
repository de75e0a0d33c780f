/*
 * QMP, QEMU's machine protocol, as mpvm's control socket speaks it
 * (kvm/control.c serves it): the KVM-free part, so that unit tests and a
 * fuzzer drive it directly.
 *
 * A session reads bytes as they come (one JSON object per request, as
 * QEMU's streaming parser takes them; a newline after each is usual but
 * not needed), answers what the protocol itself answers (malformed input,
 * unknown commands, bad arguments, capabilities negotiation) and hands the
 * caller each valid command with its checked arguments. The protocol's
 * facts follow QEMU's docs/interop/qmp-spec.rst: the greeting, the
 * `qmp_capabilities` handshake before anything else, `{"execute",
 * "arguments", "id"}` in, `{"return"}` or `{"error": {"class", "desc"}}`
 * out with `id` echoed, events with a `timestamp` of seconds and
 * microseconds. Every reply and event is one line ending in CRLF, as
 * QEMU's are.
 *
 * Bounded: a request longer than QMP_MAX_REQUEST bytes is answered with an
 * error and skipped to the end of its line; json-c limits nesting depth.
 */
#ifndef MPVM_CORE_QMP_H
#define MPVM_CORE_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct json_tokener;

#define QMP_MAX_REQUEST (64u * 1024)

/* The commands mpvm knows; qmp_commands[] has one entry for each. */
enum qmp_cmd {
	QMP_CMD_CAPABILITIES,
	QMP_CMD_QUERY_VERSION,
	QMP_CMD_QUERY_COMMANDS,
	QMP_CMD_QUERY_STATUS,
	QMP_CMD_STOP,
	QMP_CMD_CONT,
	QMP_CMD_QUIT,
	QMP_CMD_SYSTEM_RESET,
	QMP_CMD_QUERY_CPUS_FAST,
	QMP_CMD_INJECT_NMI,
	QMP_CMD_MP_STATE,
	QMP_CMD_VCPU_PAUSE,
	QMP_CMD_VCPU_RESUME,
	QMP_CMD_SEND,
	QMP_CMD_SNAPSHOT,
	QMP_CMD_FAULT,
	QMP_CMD_CPU_ADD,
	QMP_CMD_CPU_DEL,
	QMP_CMD_COUNT,
};

enum qmp_arg_type {
	QMP_ARG_INT,
	QMP_ARG_STRING,
	QMP_ARG_BOOL,
	QMP_ARG_ARRAY,
};

struct qmp_arg {
	const char *name;
	enum qmp_arg_type type;
	bool required;
};

#define QMP_MAX_ARGS 8

struct qmp_command {
	const char *name;
	struct qmp_arg args[QMP_MAX_ARGS]; /* ended by a NULL name */
};

extern const struct qmp_command qmp_commands[QMP_CMD_COUNT];

/* The command named `name`, or NULL. */
const struct qmp_command *qmp_command_find(const char *name);

/* QEMU's error classes. */
#define QMP_ERR_GENERIC "GenericError"
#define QMP_ERR_NOT_FOUND "CommandNotFound"

/* A valid command: the caller runs it and answers with qmp_format_return/_error and `id`. */
struct qmp_call {
	enum qmp_cmd cmd;
	struct json_object *args; /* an object, never NULL; owned by the call */
	struct json_object *id;   /* NULL if the request had none; owned by the call */
};

void qmp_call_release(struct qmp_call *call);

struct qmp_session {
	struct json_tokener *tok;
	size_t pending;   /* bytes of the current request fed so far */
	bool skip_line;   /* after an error: drop input up to the next newline */
	bool negotiated;  /* qmp_capabilities done: commands are served */
};

/* 0, or -1 if out of memory. */
int qmp_session_init(struct qmp_session *s);
void qmp_session_free(struct qmp_session *s);

enum qmp_feed {
	QMP_FEED_MORE,  /* all of the input was taken; nothing to do yet */
	QMP_FEED_CALL,  /* *call is a command to run */
	QMP_FEED_REPLY, /* *reply (malloc'd, CRLF-terminated) is the answer to send */
};

/*
 * Takes input from buf[0..len) until it has a request's outcome: *used says
 * how much it took (call again with the rest). Never fails for any input;
 * out of memory gives a reply saying so.
 */
enum qmp_feed qmp_session_feed(struct qmp_session *s, const char *buf, size_t len, size_t *used,
			       struct qmp_call *call, char **reply);

/*
 * Checks a decoded request against the protocol and the command table:
 * QMP_FEED_CALL with *call filled, or QMP_FEED_REPLY with an error reply
 * (the request's id echoed when it had one). `negotiated` is the session's
 * state; qmp_capabilities itself comes back as a call.
 */
enum qmp_feed qmp_check_request(struct json_object *req, bool negotiated, struct qmp_call *call,
				char **reply);

/* Replies and events, malloc'd and CRLF-terminated; NULL if out of memory. `ret` and `data` are taken (put). */
char *qmp_format_return(struct json_object *ret, struct json_object *id);
char *qmp_format_error(const char *cls, const char *desc, struct json_object *id);
char *qmp_format_event(const char *name, struct json_object *data, uint64_t realtime_ns);
char *qmp_format_greeting(int major, int minor, int micro);

/* Arguments the table has checked: absent ones give `def`. */
int64_t qmp_arg_int(const struct qmp_call *call, const char *name, int64_t def);
const char *qmp_arg_string(const struct qmp_call *call, const char *name);
bool qmp_arg_bool(const struct qmp_call *call, const char *name, bool def);
bool qmp_arg_has(const struct qmp_call *call, const char *name);

#endif
