/*
 * libFuzzer target: the control socket's QMP session (core/qmp.c). The
 * first byte picks the chunk size the rest arrives in (as a socket may cut
 * it anywhere), the second whether the session starts negotiated; the rest
 * is what a client sends. Every outcome is used as control.c uses it: a
 * reply is freed, a call's arguments are read and answered.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_session s;
	size_t chunk, off = 2;

	if (size < 2 || qmp_session_init(&s))
		return 0;
	chunk = 1 + data[0] % 64;
	s.negotiated = data[1] & 1;
	while (off < size) {
		size_t len = size - off < chunk ? size - off : chunk, used = 0;

		while (used < len) {
			struct qmp_call call;
			char *reply;
			size_t n;

			switch (qmp_session_feed(&s, (const char *)data + off + used, len - used, &n, &call, &reply)) {
			case QMP_FEED_MORE:
				break;
			case QMP_FEED_REPLY:
				free(reply);
				break;
			case QMP_FEED_CALL:
				(void)qmp_arg_int(&call, "cpu-index", -1);
				(void)qmp_arg_string(&call, "type");
				(void)qmp_arg_bool(&call, "refresh", false);
				free(qmp_format_return(NULL, call.id));
				qmp_call_release(&call);
				break;
			}
			if (n > len - used)
				abort(); /* took more than it was given */
			used += n;
		}
		off += len;
	}
	qmp_session_free(&s);
	return 0;
}
