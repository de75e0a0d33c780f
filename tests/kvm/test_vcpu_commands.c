/*
 * The vCPU thread's commands (kvm/vcpu.h) on a real VM, in every irqchip
 * mode: the built-in guest on 3 vCPUs; vCPU 2 is paused before the guest
 * starts it, and while it stays paused the BSP goes on and brings vCPU 1
 * online; resumed, vCPU 2 comes online too and the guest exits 0. Needs
 * /dev/kvm: without it vm_create() says why and the test fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/options.h"
#include "kvm/irqchip.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

#define WAIT_NS (60ull * NS_PER_SEC) /* guest code is emulated on some hosts: be patient */

struct controller {
	struct vm *vm;
	int pause_rc, resume_rc, repause_rc;
	bool ap1_online_while_paused;
	enum vcpu_thread_state paused_state, repaused_state;
	enum mp_state ap2_state_while_paused;
};

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = ns_to_timespec((uint64_t)ms * 1000000ull);

	nanosleep(&ts, NULL);
}

static void *control(void *arg)
{
	struct controller *c = arg;
	struct vm *vm = c->vm;
	struct vcpu *ap1 = &vm->vcpus[1], *ap2 = &vm->vcpus[2];
	uint64_t end;

	/* As soon as vCPU 2's thread has passed the start gate, before the guest can start it. */
	while (atomic_load(&ap2->state) == VCPU_STATE_START_GATE)
		sched_yield();
	c->pause_rc = vcpu_command(ap2, VCPU_CMD_PAUSE);
	c->paused_state = (enum vcpu_thread_state)atomic_load(&ap2->state);
	/* The others run on: the BSP starts vCPU 1 (INIT, SIPI), which reaches the guest's idle HLT. */
	end = monotonic_ns() + WAIT_NS;
	while (monotonic_ns() < end && !c->ap1_online_while_paused) {
		enum mp_state s;

		/*
		 * A no-op command: answered after the vCPU came out of KVM_RUN,
		 * so the MP state is fresh also where KVM keeps it (a vCPU
		 * halted in KVM does not come out by itself).
		 */
		vcpu_command(ap1, VCPU_CMD_RESUME);
		s = vm->irqchip->mp_state(ap1);

		c->ap1_online_while_paused = s == MP_STATE_HALTED &&
					     atomic_load(&ap2->state) == VCPU_STATE_PAUSED;
		sleep_ms(5);
	}
	c->ap2_state_while_paused = vm->irqchip->mp_state(ap2);
	/* A second pause is answered and changes nothing: still paused. */
	c->repause_rc = vcpu_command(ap2, VCPU_CMD_PAUSE);
	sleep_ms(20);
	c->repaused_state = (enum vcpu_thread_state)atomic_load(&ap2->state);
	sleep_ms(100); /* measurably paused */
	c->resume_rc = vcpu_command(ap2, VCPU_CMD_RESUME);
	return NULL;
}

static void pause_one_vcpu(enum irqchip_mode mode)
{
	char mode_arg[16], err[256];
	char *argv[] = { "--cpus", "3", "--irqchip", mode_arg, "--cmdline", "timeout=60000", "--timeout", "120", NULL };
	struct mpvm_options opts;
	struct controller c = { 0 };
	struct vm vm;
	pthread_t t;
	int status;

	snprintf(mode_arg, sizeof(mode_arg), "%s", irqchip_mode_name(mode));
	assert_int_equal(options_parse_run(8, argv, &opts, err, sizeof(err)), 0);
	if (vm_create(&vm, &opts)) {
		vm_destroy(&vm);
		fail_msg("vm_create failed (is /dev/kvm there and usable? the reason is above)");
	}
	c.vm = &vm;
	pthread_create(&t, NULL, control, &c);
	status = vm_run(&vm);
	pthread_join(t, NULL);

	assert_int_equal(c.pause_rc, 0);
	assert_int_equal(c.paused_state, VCPU_STATE_PAUSED);
	assert_true(c.ap1_online_while_paused);
	assert_int_not_equal(c.ap2_state_while_paused, MP_STATE_HALTED);
	assert_int_equal(c.repause_rc, 0);
	assert_int_equal(c.repaused_state, VCPU_STATE_PAUSED);
	assert_int_equal(c.resume_rc, 0);
	assert_int_equal(status, 0); /* every AP online in the end */
	assert_true(vm.vcpus[2].state_ns[VCPU_STATE_PAUSED] >= 100000000ull);
	assert_int_equal(vm.vcpus[1].state_ns[VCPU_STATE_PAUSED], 0);
	assert_int_equal(vm.irqchip->mp_state(&vm.vcpus[2]), MP_STATE_HALTED);
	assert_int_equal(vcpu_command(&vm.vcpus[2], VCPU_CMD_PAUSE), -1); /* the thread is gone */
	vm_destroy(&vm);
}

static void pause_kernel(void **state)
{
	(void)state;
	pause_one_vcpu(IRQCHIP_KERNEL);
}

static void pause_split(void **state)
{
	(void)state;
	pause_one_vcpu(IRQCHIP_SPLIT);
}

static void pause_user(void **state)
{
	(void)state;
	pause_one_vcpu(IRQCHIP_USER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pause_kernel),
		cmocka_unit_test(pause_split),
		cmocka_unit_test(pause_user),
	};

	vm_setup_signals();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
