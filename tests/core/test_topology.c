/* src/core/topology.c: --cpus topology words and the APIC IDs they give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/topology.h"

static struct cpu_topology parse_ok(const char *text)
{
	struct cpu_topology t;
	char err[256] = "";

	if (topology_parse(text, 1024, &t, err, sizeof(err)))
		fail_msg("'%s': %s", text, err);
	return t;
}

static void parse_fails(const char *text, const char *want)
{
	struct cpu_topology t;
	char err[256] = "";

	assert_int_equal(topology_parse(text, 1024, &t, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", text, err, want);
}

static void shape(struct cpu_topology t, unsigned int cpus, unsigned int s, unsigned int c,
		  unsigned int th, unsigned int max)
{
	assert_int_equal(t.cpus, cpus);
	assert_int_equal(t.sockets, s);
	assert_int_equal(t.cores, c);
	assert_int_equal(t.threads, th);
	assert_int_equal(t.maxcpus, max);
}

/* What QEMU's -smp derives from the same words. */
static void derivation(void **state)
{
	(void)state;
	shape(parse_ok("4"), 4, 1, 4, 1, 4);
	shape(parse_ok("8,sockets=2"), 8, 2, 4, 1, 8);
	shape(parse_ok("8,threads=2"), 8, 1, 4, 2, 8);
	shape(parse_ok("sockets=2,cores=3,threads=1"), 6, 2, 3, 1, 6);
	shape(parse_ok("4,sockets=2,cores=2,threads=2,maxcpus=8"), 4, 2, 2, 2, 8);
	shape(parse_ok("sockets=2,cores=2,threads=2"), 8, 2, 2, 2, 8);
	shape(parse_ok("2,maxcpus=8"), 2, 1, 8, 1, 8);
	shape(parse_ok("1,sockets=1,cores=1,threads=1"), 1, 1, 1, 1, 1);
}

static void errors(void **state)
{
	(void)state;
	parse_fails("8,sockets=3", "must equal maxcpus");
	parse_fails("4,sockets=2,cores=2,threads=2", "must equal maxcpus"); /* as QEMU: maxcpus=8 */
	parse_fails("9,sockets=2,cores=2,threads=2,maxcpus=8", "more than maxcpus");
	parse_fails("4,dies=2", "unknown key 'dies'");
	parse_fails("4,cores=2,cores=2", "cores given twice");
	parse_fails("4,cores=0", "cores must be a whole number from 1 to 1024");
	parse_fails("x", "is not a CPU count");
	parse_fails("sockets=2,4", "is not a CPU count");
	parse_fails("4,sockets=64,cores=64", "more than 1024 CPUs");
	parse_fails("", "is not a CPU count");
}

/* SDM vol. 3A §8.9.1: thread, core and package fields, each as wide as it needs. */
static void apic_ids(void **state)
{
	struct cpu_topology flat = topology_flat(5), gaps = parse_ok("sockets=2,cores=3,threads=1"),
			    smt = parse_ok("sockets=1,cores=4,threads=2"), cube = parse_ok("sockets=2,cores=2,threads=2");
	static const uint32_t want_gaps[] = { 0, 1, 2, 4, 5, 6 };
	static const uint32_t want_smt[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	unsigned int s, c, t;

	(void)state;
	for (unsigned int i = 0; i < 5; i++)
		assert_int_equal(topology_apic_id(&flat, i), i);
	assert_int_equal(topology_core_bits(&gaps), 2);
	assert_int_equal(topology_thread_bits(&gaps), 0);
	for (unsigned int i = 0; i < 6; i++)
		assert_int_equal(topology_apic_id(&gaps, i), want_gaps[i]);
	for (unsigned int i = 0; i < 8; i++)
		assert_int_equal(topology_apic_id(&smt, i), want_smt[i]);
	topology_locate(&smt, 5, &s, &c, &t);
	assert_int_equal(s, 0);
	assert_int_equal(c, 2);
	assert_int_equal(t, 1);
	/* 2x2x2: socket in bit 2, core in bit 1, thread in bit 0. */
	assert_int_equal(topology_apic_id(&cube, 6), 6);
	topology_locate(&cube, 6, &s, &c, &t);
	assert_int_equal(s, 1);
	assert_int_equal(c, 1);
	assert_int_equal(t, 0);
	/* 3 threads take 2 bits: the second core starts at 4. */
	struct cpu_topology odd = parse_ok("sockets=1,cores=2,threads=3");
	assert_int_equal(topology_apic_id(&odd, 3), 4);
	assert_int_equal(topology_apic_id(&odd, 5), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(derivation),
		cmocka_unit_test(errors),
		cmocka_unit_test(apic_ids),
	};
	return cmocka_run_group_tests_name("topology", tests, NULL, NULL);
}
