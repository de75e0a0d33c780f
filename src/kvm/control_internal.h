/*
 * What control.c (the socket server) and control_cmds.c (the commands)
 * share. Only the control thread touches struct control, but for the
 * fields marked otherwise.
 */
#ifndef MPVM_KVM_CONTROL_INTERNAL_H
#define MPVM_KVM_CONTROL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/qmp.h"
#include "kvm/control.h"

struct vm;
struct json_object;

/* MP-state changes waiting for the control thread; more are counted and dropped. */
#define CONTROL_EVENT_RING 1024

struct control_event {
	const char *name; /* control_post_event(): this event with data; NULL: MP_STATE_CHANGE */
	struct json_object *data;
	uint32_t cpu, from, to;
	uint64_t t_ns;    /* VM time, as the MP-state history has it */
	uint64_t wall_ns; /* CLOCK_REALTIME: QMP's timestamp */
};

/* Per vCPU: what its thread last recorded, published for the control thread. */
struct control_cpu {
	struct control *ctl;
	unsigned int id;
	atomic_uint state;      /* enum mp_state */
	atomic_uint_fast64_t since_ns; /* VM time it entered that state, as seen */
	bool paused;            /* control thread: paused by stop or mpvm-vcpu-pause */
	/* --ap-watchdog: VM time + 1 of the INIT it waits to leave (0: none); written by the observer. */
	atomic_uint_fast64_t init_ns;
	uint64_t stuck_reported; /* control thread: the init_ns it reported VCPU_STUCK for */
};

struct control_client {
	int fd;                 /* -1: a free slot */
	struct qmp_session qmp;
	char *out;              /* replies and events not yet written */
	size_t out_len, out_cap;
};

struct control {
	struct vm *vm;
	int listen_fd, event_fd;
	uid_t uid;
	pthread_t thread;
	bool thread_started;
	bool vm_paused;               /* `stop` was the last of stop/cont */
	atomic_bool stopping;         /* control_stop(): send SHUTDOWN and end */
	atomic_bool want_events;      /* a client has negotiated: vCPU threads queue events */
	struct control_client clients[CONTROL_MAX_CLIENTS];
	struct control_cpu *cpus;

	/* MP-state changes from vCPU threads, under ev_lock. */
	pthread_mutex_t ev_lock;
	struct control_event ev[CONTROL_EVENT_RING];
	unsigned int ev_head, ev_len;
	uint64_t ev_dropped;
};

/* control_cmds.c: runs a checked call; the reply (malloc'd line), never NULL but out of memory. */
char *control_run(struct control *c, struct qmp_call *call);

/* control_fault.c: mpvm-fault; *ret, or an error message in err. */
void control_fault(struct control *c, const struct qmp_call *call, struct json_object **ret, char *err,
		   size_t errlen);

/* control_watchdog.c (--ap-watchdog): an observed MP-state change (any thread). */
void control_watchdog_observe(struct control *c, struct control_cpu *cpu, uint32_t to, uint64_t t_ns);
/* The control thread: poll()'s timeout until the next AP could be stuck (-1: none), ... */
int control_watchdog_timeout_ms(struct control *c);
/* ... and the VCPU_STUCK events due now. */
void control_watchdog_check(struct control *c);

/* control.c: wakes the control thread (any thread). */
void control_wake(struct control *c);

/* control.c: an event to every client that has negotiated; `data` is taken. */
void control_broadcast(struct control *c, const char *name, struct json_object *data);

/* CLOCK_REALTIME in ns, for QMP's timestamps. */
uint64_t control_wall_ns(void);

#endif
