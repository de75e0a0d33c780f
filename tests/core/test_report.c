/* Unit tests of core/report.c and core/atomic_file.c: the JSON report and how it is written. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/report.h"

static void make_report(struct mp_history h[2], struct vcpu_report v[2], struct vm_report *r)
{
	memset(h, 0, 2 * sizeof(*h));
	mp_history_observe(&h[0], MP_STATE_RUNNABLE, 5);
	mp_history_observe(&h[1], MP_STATE_UNINITIALIZED, 6);
	mp_history_observe(&h[1], MP_STATE_INIT_RECEIVED, 700);
	mp_history_observe(&h[1], MP_STATE_HALTED, 9000);
	v[0] = (struct vcpu_report){ .id = 0, .apic_id = 0, .bsp = false, .mp_state = MP_STATE_UNINITIALIZED,
				     .exits = 0, .history = &h[1] };
	v[1] = (struct vcpu_report){ .id = 1, .apic_id = 1, .bsp = true, .mp_state = MP_STATE_RUNNABLE,
				     .exits = 42, .history = &h[0],
				     .exit_reasons = { { "KVM_EXIT_IO", 40 }, { "interrupted", 2 } },
				     .nexit_reasons = 2 };
	*r = (struct vm_report){ .ncpus = 2, .boot_cpu = 1, .irqchip = "kernel", .stop = "guest-exit",
				 .exit_status = 0, .start_to_vm_ns = 1, .first_run_ns = 2,
				 .first_exit_ns = 3, .run_ns = 4, .vcpus = v };
}

static void json_fields(void **state)
{
	struct mp_history h[2];
	struct vcpu_report v[2];
	struct vm_report r;
	json_object *root, *vcpus, *ap, *seq, *o;
	char *text;

	(void)state;
	make_report(h, v, &r);
	text = report_json(&r);
	assert_non_null(text);
	root = json_tokener_parse(text);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "boot_cpu", &o));
	assert_int_equal(json_object_get_int(o), 1);
	assert_true(json_object_object_get_ex(root, "stop", &o));
	assert_string_equal(json_object_get_string(o), "guest-exit");
	assert_true(json_object_object_get_ex(root, "vcpus", &vcpus));
	assert_int_equal(json_object_array_length(vcpus), 2);
	ap = json_object_array_get_idx(vcpus, 0);
	assert_true(json_object_object_get_ex(ap, "role", &o));
	assert_string_equal(json_object_get_string(o), "AP");
	assert_true(json_object_object_get_ex(ap, "mp_state", &o));
	assert_string_equal(json_object_get_string(o), "UNINITIALIZED");
	assert_true(json_object_object_get_ex(ap, "mp_states", &seq));
	assert_int_equal(json_object_array_length(seq), 3);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(seq, 1), "state", &o));
	assert_string_equal(json_object_get_string(o), "INIT_RECEIVED");
	assert_true(json_object_object_get_ex(json_object_array_get_idx(seq, 2), "t_ns", &o));
	assert_int_equal(json_object_get_int64(o), 9000);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(vcpus, 1), "exits", &o));
	assert_int_equal(json_object_get_int64(o), 42);
	/* Exit reasons only where counted: none for the AP, two for the BSP. */
	assert_false(json_object_object_get_ex(ap, "exit_reasons", &o));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(vcpus, 1), "exit_reasons", &seq));
	assert_true(json_object_object_get_ex(seq, "KVM_EXIT_IO", &o));
	assert_int_equal(json_object_get_int64(o), 40);
	assert_true(json_object_object_get_ex(seq, "interrupted", &o));
	assert_int_equal(json_object_get_int64(o), 2);
	json_object_put(root);
	free(text);
	mp_history_free(&h[0]);
	mp_history_free(&h[1]);
}

/* A vCPU whose thread state is known gets "thread"; one without it gets none. */
static void json_thread_states(void **state)
{
	struct mp_history h[2];
	struct vcpu_report v[2];
	struct vm_report r;
	json_object *root, *vcpu, *thread, *times, *o;
	char *text;

	(void)state;
	make_report(h, v, &r);
	v[1].thread_state = "paused";
	v[1].thread_time[0] = (struct report_state_time){ "running", 1500 };
	v[1].thread_time[1] = (struct report_state_time){ "paused", 250 };
	v[1].nthread_time = 2;
	text = report_json(&r);
	assert_non_null(text);
	root = json_tokener_parse(text);
	assert_true(json_object_object_get_ex(root, "vcpus", &o));
	vcpu = json_object_array_get_idx(o, 0);
	assert_false(json_object_object_get_ex(vcpu, "thread", &thread));
	vcpu = json_object_array_get_idx(o, 1);
	assert_true(json_object_object_get_ex(vcpu, "thread", &thread));
	assert_true(json_object_object_get_ex(thread, "state_at_stop", &o));
	assert_string_equal(json_object_get_string(o), "paused");
	assert_true(json_object_object_get_ex(thread, "ns_in_state", &times));
	assert_int_equal(json_object_object_length(times), 2);
	assert_true(json_object_object_get_ex(times, "running", &o));
	assert_int_equal(json_object_get_int64(o), 1500);
	assert_true(json_object_object_get_ex(times, "paused", &o));
	assert_int_equal(json_object_get_int64(o), 250);
	json_object_put(root);
	free(text);
	mp_history_free(&h[0]);
	mp_history_free(&h[1]);
}

static void written_atomically(void **state)
{
	char dir[] = "/tmp/mpvm-test-XXXXXX";
	char path[64], err[256];
	struct mp_history h[2];
	struct vcpu_report v[2];
	struct vm_report r;
	struct stat st;
	json_object *root;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/r.json", dir);
	make_report(h, v, &r);
	assert_int_equal(report_write_json(path, &r, err, sizeof(err)), 0);
	root = json_object_from_file(path);
	assert_non_null(root);
	json_object_put(root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* Overwriting replaces the file whole. */
	assert_int_equal(atomic_file_write(path, "x", 1, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1);
	unlink(path);
	assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
	mp_history_free(&h[0]);
	mp_history_free(&h[1]);
}

static void unwritable_path(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(atomic_file_write("/nonexistent-dir/r.json", "x", 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/r.json: the folder /nonexistent-dir: No such file"));
}

/* What the rename would replace is refused, before and at the write; a regular file or a new name is fine. */
static void only_regular_files_replaced(void **state)
{
	char dir[] = "/tmp/mpvm-atomic-XXXXXX", path[300], err[512];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(atomic_file_check("/dev/full", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/dev/full: not a regular file (a character device"));
	assert_int_equal(atomic_file_write("/dev/full", "x", 1, err, sizeof(err)), -1);
	assert_int_equal(stat("/dev/full", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(atomic_file_check(dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file (a directory"));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(atomic_file_check(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "(a FIFO"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/link", dir);
	assert_int_equal(symlink("/tmp/whatever", path), 0);
	assert_int_equal(atomic_file_check(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "(a symbolic link"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/new.json", dir);
	assert_int_equal(atomic_file_check(path, err, sizeof(err)), 0);
	assert_int_equal(atomic_file_write(path, "x", 1, err, sizeof(err)), 0);
	assert_int_equal(atomic_file_check(path, err, sizeof(err)), 0);
	unlink(path);
	assert_int_equal(atomic_file_check("", err, sizeof(err)), -1);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_fields),
		cmocka_unit_test(json_thread_states),
		cmocka_unit_test(written_atomically),
		cmocka_unit_test(unwritable_path),
		cmocka_unit_test(only_regular_files_replaced),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
