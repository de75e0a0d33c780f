#include "core/report.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"

static const char *state_name(uint32_t s)
{
	const char *n = mp_state_name(s);

	return n ? n : "INVALID";
}

void report_print(FILE *f, const struct vm_report *r)
{
	fprintf(f, "mpvm: vCPU  APIC ID  role  MP state        exits\n");
	for (unsigned int i = 0; i < r->ncpus; i++) {
		const struct vcpu_report *v = &r->vcpus[i];

		bool seen = v->history && v->history->len;
		char st[32];

		/* an ejected vCPU keeps the MP state the guest left it in */
		snprintf(st, sizeof(st), "%s%s", v->absent && !seen ? "absent" : state_name(v->mp_state),
			 v->absent && seen ? " (absent)" : "");
		fprintf(f, "mpvm: %4u  %7u  %-4s  %-14s  %llu\n", v->id, v->apic_id,
			v->bsp ? "BSP" : "AP", st, (unsigned long long)v->exits);
	}
	fflush(f);
}

static json_object *history_json(const struct mp_history *h)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; h && i < mp_history_count(h); i++) {
		json_object *o = json_object_new_object();
		struct mp_observation ob = mp_history_at(h, i);

		json_object_object_add(o, "t_ns", json_object_new_uint64(ob.t_ns));
		json_object_object_add(o, "state", json_object_new_string(state_name(ob.state)));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* "thread": the state the vCPU thread was in when the VM stopped, and its time in each state. */
static json_object *thread_json(const struct vcpu_report *v)
{
	json_object *o = json_object_new_object();
	json_object *t = json_object_new_object();

	json_object_object_add(o, "state_at_stop", json_object_new_string(v->thread_state));
	for (unsigned int i = 0; i < v->nthread_time && i < REPORT_THREAD_STATES_MAX; i++)
		json_object_object_add(t, v->thread_time[i].state, json_object_new_uint64(v->thread_time[i].ns));
	json_object_object_add(o, "ns_in_state", t);
	return o;
}

char *report_json(const struct vm_report *r)
{
	json_object *root = json_object_new_object();
	json_object *timing = json_object_new_object();
	json_object *vcpus = json_object_new_array();
	char *text;

	json_object_object_add(root, "mpvm_report_version", json_object_new_int(1));
	json_object_object_add(root, "cpus", json_object_new_int((int)r->ncpus));
	json_object_object_add(root, "boot_cpu", json_object_new_int((int)r->boot_cpu));
	json_object_object_add(root, "irqchip", json_object_new_string(r->irqchip));
	json_object_object_add(root, "stop", json_object_new_string(r->stop));
	json_object_object_add(root, "exit_status", json_object_new_int(r->exit_status));
	json_object_object_add(timing, "process_start_to_vm_ns", json_object_new_uint64(r->start_to_vm_ns));
	json_object_object_add(timing, "vm_to_first_run_ns", json_object_new_uint64(r->first_run_ns));
	json_object_object_add(timing, "vm_to_first_exit_ns", json_object_new_uint64(r->first_exit_ns));
	json_object_object_add(timing, "vm_run_ns", json_object_new_uint64(r->run_ns));
	json_object_object_add(root, "timing", timing);
	for (unsigned int i = 0; i < r->ncpus; i++) {
		const struct vcpu_report *v = &r->vcpus[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_int((int)v->id));
		json_object_object_add(o, "apic_id", json_object_new_int64(v->apic_id));
		json_object_object_add(o, "role", json_object_new_string(v->bsp ? "BSP" : "AP"));
		json_object_object_add(o, "mp_state", json_object_new_string(state_name(v->mp_state)));
		if (v->absent)
			json_object_object_add(o, "present", json_object_new_boolean(false));
		json_object_object_add(o, "exits", json_object_new_uint64(v->exits));
		json_object_object_add(o, "mp_states", history_json(v->history));
		json_object_object_add(o, "mp_states_dropped",
				       json_object_new_uint64(v->history ? v->history->dropped : 0));
		if (v->history && v->history->dropped) /* the first this many, then the gap, then the last */
			json_object_object_add(o, "mp_states_dropped_after",
					       json_object_new_uint64(v->history->len));
		if (v->nexit_reasons) {
			json_object *e = json_object_new_object();

			for (unsigned int k = 0; k < v->nexit_reasons && k < REPORT_EXIT_REASONS_MAX; k++)
				json_object_object_add(e, v->exit_reasons[k].name,
						       json_object_new_uint64(v->exit_reasons[k].n));
			json_object_object_add(o, "exit_reasons", e);
		}
		if (v->thread_state)
			json_object_object_add(o, "thread", thread_json(v));
		json_object_array_add(vcpus, o);
	}
	json_object_object_add(root, "vcpus", vcpus);
	text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	json_object_put(root);
	return text;
}

int report_write_json(const char *path, const struct vm_report *r, char *err, size_t errlen)
{
	char *text = report_json(r);
	int ret;

	if (!text) {
		snprintf(err, errlen, "--report %s: out of memory", path);
		return -1;
	}
	ret = atomic_file_write(path, text, strlen(text), err, errlen);
	free(text);
	return ret;
}
