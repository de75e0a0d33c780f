/*
 * The control socket's server: its thread, its clients and its events
 * (control.h says what it is). The commands are in control_cmds.c.
 */
#include "kvm/control.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/mpstate.h"
#include "kvm/control_internal.h"
#include "kvm/irqchip.h"
#include "kvm/sandbox.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

/* How long the last words (quit's answer, the SHUTDOWN event) may wait for a slow client. */
#define CONTROL_FLUSH_MS 200
#define CONTROL_READ_CHUNK 4096

uint64_t control_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void control_wake(struct control *c)
{
	uint64_t one = 1;

	(void)!write(c->event_fd, &one, sizeof(one));
}

/* ---- clients ------------------------------------------------------------------------ */

static void client_close(struct control_client *cl)
{
	if (cl->fd < 0)
		return;
	close(cl->fd);
	qmp_session_free(&cl->qmp);
	free(cl->out);
	*cl = (struct control_client){ .fd = -1 };
}

/* Writes what it can without blocking. -1 if the client is gone. */
static int client_flush(struct control_client *cl)
{
	while (cl->out_len) {
		ssize_t n = send(cl->fd, cl->out, cl->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		memmove(cl->out, cl->out + n, cl->out_len - (size_t)n);
		cl->out_len -= (size_t)n;
	}
	return 0;
}

/*
 * Queues a line (taken, may be NULL: out of memory) for the client. A
 * client that lets more than CONTROL_MAX_OUTPUT bytes pile up is closed:
 * mpvm's memory must not depend on a client reading.
 */
static void client_send(struct control_client *cl, char *line)
{
	size_t n;

	if (cl->fd < 0 || !line) {
		free(line);
		return;
	}
	n = strlen(line);
	if (cl->out_len + n > CONTROL_MAX_OUTPUT) {
		free(line);
		client_close(cl);
		return;
	}
	if (cl->out_len + n > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		char *p;

		while (cap < cl->out_len + n)
			cap *= 2;
		p = realloc(cl->out, cap);
		if (!p) {
			free(line);
			client_close(cl);
			return;
		}
		cl->out = p;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, line, n);
	cl->out_len += n;
	free(line);
	if (client_flush(cl))
		client_close(cl);
}

static void update_want_events(struct control *c)
{
	bool any = false;

	for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		any |= c->clients[i].fd >= 0 && c->clients[i].qmp.negotiated;
	atomic_store(&c->want_events, any);
}

static void broadcast_at(struct control *c, const char *name, struct json_object *data, uint64_t wall_ns)
{
	for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0 && c->clients[i].qmp.negotiated)
			client_send(&c->clients[i], qmp_format_event(name, json_object_get(data), wall_ns));
	json_object_put(data);
}

void control_broadcast(struct control *c, const char *name, struct json_object *data)
{
	broadcast_at(c, name, data, control_wall_ns());
}

/* Input from a client: every request in it, answered in order. */
static void client_read(struct control *c, struct control_client *cl)
{
	char buf[CONTROL_READ_CHUNK];
	ssize_t n = read(cl->fd, buf, sizeof(buf));
	size_t off = 0;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) { /* gone, maybe in the middle of a request: nothing was started for it */
		client_close(cl);
		return;
	}
	while (off < (size_t)n && cl->fd >= 0) {
		struct qmp_call call;
		char *reply;
		size_t used;

		switch (qmp_session_feed(&cl->qmp, buf + off, (size_t)n - off, &used, &call, &reply)) {
		case QMP_FEED_MORE:
			break;
		case QMP_FEED_REPLY:
			client_send(cl, reply);
			break;
		case QMP_FEED_CALL:
			client_send(cl, control_run(c, &call));
			qmp_call_release(&call);
			break;
		}
		off += used;
	}
}

static void refuse(int fd, const char *why)
{
	char *line = qmp_format_error(QMP_ERR_GENERIC, why, NULL);

	if (line)
		(void)!send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
	free(line);
	close(fd);
}

static void accept_client(struct control *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct control_client *cl = NULL;

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != c->uid && cred.uid != 0)) {
		refuse(fd, "mpvm's control socket serves only its own user and root");
		return;
	}
	for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS && !cl; i++)
		if (c->clients[i].fd < 0)
			cl = &c->clients[i];
	if (!cl) {
		refuse(fd, "too many clients: mpvm's control socket serves at most 16 at once");
		return;
	}
	if (qmp_session_init(&cl->qmp)) {
		refuse(fd, "out of memory");
		return;
	}
	cl->fd = fd;
	/* Version 0.1.0 is mpvm's; package says who answers. */
	client_send(cl, qmp_format_greeting(0, 1, 0));
}

/* ---- MP-state changes, from the vCPU threads --------------------------------------- */

/*
 * The history's hook (core/mpstate.h), on the thread that saw the change:
 * publish the state, and queue an event if a client listens. The eventfd
 * is written only when the queue was empty: the control thread drains it
 * all at each wake-up, so a burst costs one write.
 */
void control_mp_changed(struct control *c, unsigned int cpu_index, uint32_t from, uint32_t to, uint64_t t_ns)
{
	struct control_cpu *cpu = &c->cpus[cpu_index];
	bool was_empty = false;

	atomic_store(&cpu->state, to);
	atomic_store(&cpu->since_ns, t_ns);
	control_watchdog_observe(c, cpu, to, t_ns);
	if (!atomic_load(&c->want_events))
		return;
	pthread_mutex_lock(&c->ev_lock);
	if (c->ev_len == CONTROL_EVENT_RING) {
		c->ev_dropped++;
	} else {
		was_empty = c->ev_len == 0;
		c->ev[(c->ev_head + c->ev_len++) % CONTROL_EVENT_RING] = (struct control_event){
			.cpu = cpu->id, .from = from, .to = to, .t_ns = t_ns, .wall_ns = control_wall_ns(),
		};
	}
	pthread_mutex_unlock(&c->ev_lock);
	if (was_empty)
		control_wake(c);
}

void control_post_event(struct control *c, const char *name, struct json_object *data)
{
	bool was_empty = false;

	if (!c || !atomic_load(&c->want_events)) {
		json_object_put(data);
		return;
	}
	pthread_mutex_lock(&c->ev_lock);
	if (c->ev_len == CONTROL_EVENT_RING) {
		c->ev_dropped++;
		json_object_put(data);
	} else {
		was_empty = c->ev_len == 0;
		c->ev[(c->ev_head + c->ev_len++) % CONTROL_EVENT_RING] = (struct control_event){
			.name = name, .data = data, .wall_ns = control_wall_ns(),
		};
	}
	pthread_mutex_unlock(&c->ev_lock);
	if (was_empty)
		control_wake(c);
}

static void drain_events(struct control *c)
{
	for (;;) {
		struct control_event e;
		struct json_object *d;

		pthread_mutex_lock(&c->ev_lock);
		if (!c->ev_len) {
			pthread_mutex_unlock(&c->ev_lock);
			return;
		}
		e = c->ev[c->ev_head];
		c->ev_head = (c->ev_head + 1) % CONTROL_EVENT_RING;
		c->ev_len--;
		pthread_mutex_unlock(&c->ev_lock);
		if (e.name) {
			broadcast_at(c, e.name, e.data, e.wall_ns);
			continue;
		}
		d = json_object_new_object();
		if (!d)
			continue;
		json_object_object_add(d, "cpu-index", json_object_new_int((int)e.cpu));
		json_object_object_add(d, "from", json_object_new_string(mp_state_name(e.from) ?: "?"));
		json_object_object_add(d, "to", json_object_new_string(mp_state_name(e.to) ?: "?"));
		json_object_object_add(d, "time", json_object_new_int64((int64_t)e.t_ns));
		broadcast_at(c, "MP_STATE_CHANGE", d, e.wall_ns);
	}
}

/* ---- the thread ------------------------------------------------------------------------ */

/* QEMU's ShutdownCause for each way the VM stops. */
static void shutdown_event(struct control *c)
{
	static const struct { const char *reason, *mpvm; bool guest; } why[] = {
		[VM_RUNNING] = { "none", "running", false },
		[VM_STOP_GUEST_EXIT] = { "guest-shutdown", "guest-exit", true },
		[VM_STOP_GUEST_RESET] = { "guest-reset", "guest-reset", true },
		[VM_STOP_GUEST_FAULT] = { "guest-panic", "guest-fault", true },
		[VM_STOP_HOST_ERROR] = { "host-error", "host-error", false },
		[VM_STOP_TIMEOUT] = { "host-error", "timeout", false },
		[VM_STOP_CONSOLE_TEXT] = { "host-ui", "stop-on", false },
		[VM_STOP_SIGNAL] = { "host-signal", "signal", false },
		[VM_STOP_QMP_QUIT] = { "host-qmp-quit", "qmp-quit", false },
		[VM_STOP_SNAPSHOT] = { "host-qmp-quit", "snapshot", false },
	};
	unsigned int r = (unsigned int)atomic_load(&c->vm->stop_reason);
	struct json_object *d = json_object_new_object();

	if (r >= sizeof(why) / sizeof(why[0]) || !why[r].reason)
		r = VM_STOP_HOST_ERROR;
	json_object_object_add(d, "guest", json_object_new_boolean(why[r].guest));
	json_object_object_add(d, "reason", json_object_new_string(why[r].reason));
	json_object_object_add(d, "mpvm-reason", json_object_new_string(why[r].mpvm));
	control_broadcast(c, "SHUTDOWN", d);
}

/* The last words: what each client has waiting, for at most CONTROL_FLUSH_MS. */
static void flush_all(struct control *c)
{
	for (int waited = 0; waited < CONTROL_FLUSH_MS; waited += 10) {
		struct pollfd p[CONTROL_MAX_CLIENTS];
		unsigned int n = 0;

		for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			struct control_client *cl = &c->clients[i];

			if (cl->fd >= 0 && client_flush(cl))
				client_close(cl);
			if (cl->fd >= 0 && cl->out_len)
				p[n++] = (struct pollfd){ .fd = cl->fd, .events = POLLOUT };
		}
		if (!n || poll(p, n, 10) < 0)
			break;
	}
}

static void serve(struct control *c)
{
	struct pollfd p[2 + CONTROL_MAX_CLIENTS];
	struct control_client *who[2 + CONTROL_MAX_CLIENTS];

	while (!atomic_load(&c->stopping)) {
		unsigned int n = 2;

		p[0] = (struct pollfd){ .fd = c->event_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
		for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			struct control_client *cl = &c->clients[i];

			if (cl->fd < 0)
				continue;
			who[n] = cl;
			p[n++] = (struct pollfd){ .fd = cl->fd, .events = POLLIN | (cl->out_len ? POLLOUT : 0) };
		}
		if (poll(p, n, control_watchdog_timeout_ms(c)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mpvm: --control: poll: %s\n", strerror(errno));
			return;
		}
		if (p[0].revents & POLLIN) {
			uint64_t count;

			(void)!read(c->event_fd, &count, sizeof(count));
			drain_events(c);
		}
		for (unsigned int i = 2; i < n; i++) {
			struct control_client *cl = who[i];

			if (cl->fd >= 0 && (p[i].revents & POLLOUT) && client_flush(cl))
				client_close(cl);
			if (cl->fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				client_read(c, cl);
		}
		if (p[1].revents & POLLIN)
			accept_client(c);
		control_watchdog_check(c);
		update_want_events(c);
	}
}

static void *control_thread(void *arg)
{
	struct control *c = arg;
	struct vm *vm = c->vm;

	pthread_setname_np(pthread_self(), "control");
	vm_wait_started(vm); /* commands reach vCPU threads that exist */
	if (sandbox_enter(SANDBOX_CONTROL, vm->opts->seccomp, vm->vm_fd, -1)) {
		vm_request_stop(vm, VM_STOP_HOST_ERROR, MPVM_EXIT_HOST_ERROR);
		return NULL;
	}
	serve(c);
	drain_events(c);
	shutdown_event(c);
	flush_all(c);
	for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		client_close(&c->clients[i]);
	return NULL;
}

/* ---- start and stop ------------------------------------------------------------------ */

/*
 * The socket, mode 0600 from the start (the umask covers bind(); the chmod
 * says it again). A socket left at PATH by an earlier run is replaced, as
 * QEMU does; any other file there is not.
 */
static int make_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, r;

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "mpvm: --control %s: exists and is not a socket\n", path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "mpvm: --control: socket: %s\n", strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, 0600) < 0 || listen(fd, CONTROL_MAX_CLIENTS) < 0) {
		fprintf(stderr, "mpvm: --control %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void control_free(struct control *c)
{
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->event_fd >= 0)
		close(c->event_fd);
	for (; c->ev_len; c->ev_len--, c->ev_head = (c->ev_head + 1) % CONTROL_EVENT_RING)
		json_object_put(c->ev[c->ev_head].data); /* events posted after the last drain */
	pthread_mutex_destroy(&c->ev_lock);
	free(c->cpus);
	free(c);
}

int control_start(struct vm *vm)
{
	struct control *c = calloc(1, sizeof(*c));
	int err;

	if (!c || !(c->cpus = calloc(vm->ncpus, sizeof(*c->cpus)))) {
		fprintf(stderr, "mpvm: --control: out of memory\n");
		free(c);
		return -1;
	}
	c->vm = vm;
	c->uid = geteuid();
	c->event_fd = -1;
	pthread_mutex_init(&c->ev_lock, NULL);
	for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	c->listen_fd = make_socket(vm->opts->control_path);
	c->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->listen_fd < 0 || c->event_fd < 0) {
		if (c->event_fd < 0)
			fprintf(stderr, "mpvm: --control: eventfd: %s\n", strerror(errno));
		control_free(c);
		return -1;
	}
	/*
	 * Set up before any vCPU thread passes the start gate (vm_run()
	 * opens it after this): from then on vcpu.c's history hook calls
	 * control_mp_changed() while vm->control is set.
	 */
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct control_cpu *cpu = &c->cpus[i];
		const struct mp_history *h = &v->mp;

		cpu->ctl = c;
		cpu->id = i;
		/* a vCPU not made yet (CPU hotplug) has no MP state in KVM to read */
		atomic_init(&cpu->state, atomic_load(&v->made) ? mp_history_last(h, vm->irqchip->mp_state(v))
							       : MP_STATE_UNINITIALIZED);
		atomic_init(&cpu->since_ns, h->len ? h->obs[h->len - 1].t_ns : 0);
	}
	sandbox_allow_event_fd(c->event_fd);
	err = pthread_create(&c->thread, NULL, control_thread, c);
	if (err) {
		fprintf(stderr, "mpvm: --control: cannot start its thread: %s\n", strerror(err));
		sandbox_allow_event_fd(-1);
		unlink(vm->opts->control_path);
		control_free(c);
		return -1;
	}
	c->thread_started = true;
	vm->control = c;
	return 0;
}

void control_stop(struct vm *vm)
{
	struct control *c = vm->control;

	if (!c)
		return;
	atomic_store(&c->stopping, true);
	control_wake(c);
	pthread_join(c->thread, NULL);
	/* No vCPU thread runs any more: nothing calls control_mp_changed(). */
	unlink(vm->opts->control_path);
	vm->control = NULL;
	control_free(c);
}
