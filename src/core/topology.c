#include "core/topology.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/cpuid.h"
#include "core/errmsg.h"

unsigned int topology_thread_bits(const struct cpu_topology *t)
{
	return cpuid_core_bits(t->threads);
}

unsigned int topology_core_bits(const struct cpu_topology *t)
{
	return cpuid_core_bits(t->cores);
}

void topology_locate(const struct cpu_topology *t, unsigned int i,
		     unsigned int *socket, unsigned int *core, unsigned int *thread)
{
	*thread = i % t->threads;
	*core = (i / t->threads) % t->cores;
	*socket = i / (t->threads * t->cores);
}

uint32_t topology_apic_id(const struct cpu_topology *t, unsigned int i)
{
	unsigned int socket, core, thread, tb = topology_thread_bits(t);

	topology_locate(t, i, &socket, &core, &thread);
	return ((uint32_t)socket << (tb + topology_core_bits(t))) | ((uint32_t)core << tb) | thread;
}

uint32_t topology_max_apic_id(const struct cpu_topology *t)
{
	return topology_apic_id(t, t->cpus - 1); /* IDs grow with the index */
}

struct cpu_topology topology_flat(unsigned int cpus)
{
	return (struct cpu_topology){ .cpus = cpus, .sockets = 1, .cores = cpus, .threads = 1, .maxcpus = cpus };
}

void topology_describe(const struct cpu_topology *t, char *buf, size_t len)
{
	snprintf(buf, len, "%u socket%s x %u core%s x %u thread%s", t->sockets, t->sockets == 1 ? "" : "s",
		 t->cores, t->cores == 1 ? "" : "s", t->threads, t->threads == 1 ? "" : "s");
}

/* A whole number from 1 to max, the whole of [s, s + len). */
static bool parse_count(const char *s, size_t len, unsigned int max, unsigned int *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 9)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > max)
		return false;
	*out = (unsigned int)v;
	return true;
}

int topology_parse(const char *text, unsigned int max, struct cpu_topology *t, char *err, size_t errlen)
{
	static const char *const keys[] = { "sockets", "cores", "threads", "maxcpus" };
	unsigned int val[4] = { 0 }, cpus = 0;
	const char *p = text;
	bool first = true;

	for (;;) {
		const char *end = strchr(p, ','), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		size_t k;

		eq = memchr(p, '=', len);
		if (!eq) {
			if (!first || !parse_count(p, len, max, &cpus))
				return errmsg(err, errlen, "--cpus '%s': '%.*s' is not a CPU count from 1 to %u "
					      "(the count comes first; then sockets=, cores=, threads=, maxcpus=)",
					      text, (int)len, p, max);
		} else {
			size_t klen = (size_t)(eq - p);

			for (k = 0; k < 4 && !(strlen(keys[k]) == klen && !memcmp(p, keys[k], klen)); k++)
				;
			if (k == 4)
				return errmsg(err, errlen, "--cpus '%s': unknown key '%.*s' (sockets, cores, threads, maxcpus)",
					      text, (int)klen, p);
			if (val[k])
				return errmsg(err, errlen, "--cpus '%s': %s given twice", text, keys[k]);
			if (!parse_count(eq + 1, len - klen - 1, max, &val[k]))
				return errmsg(err, errlen, "--cpus '%s': %s must be a whole number from 1 to %u",
					      text, keys[k], max);
		}
		first = false;
		if (!end)
			break;
		p = end + 1;
	}

	/*
	 * QEMU's derivation (hw/core/machine-smp.c, cores preferred): maxcpus
	 * defaults to the count, cores to what the others leave of maxcpus.
	 */
	t->sockets = val[0] ? val[0] : 1;
	t->threads = val[2] ? val[2] : 1;
	t->maxcpus = val[3] ? val[3] : cpus;
	t->cores = val[1] ? val[1] : t->maxcpus / (t->sockets * t->threads);
	if (t->cores == 0)
		t->cores = 1;
	if ((unsigned long long)t->sockets * t->cores * t->threads > max)
		return errmsg(err, errlen, "--cpus '%s': %u sockets x %u cores x %u threads is more than %u CPUs",
			      text, t->sockets, t->cores, t->threads, max);
	if (!t->maxcpus)
		t->maxcpus = t->sockets * t->cores * t->threads;
	t->cpus = cpus ? cpus : t->maxcpus;
	if (t->sockets * t->cores * t->threads != t->maxcpus)
		return errmsg(err, errlen, "--cpus '%s': sockets x cores x threads (%u x %u x %u = %u) must equal "
			      "maxcpus (%u)", text, t->sockets, t->cores, t->threads,
			      t->sockets * t->cores * t->threads, t->maxcpus);
	if (t->cpus > t->maxcpus)
		return errmsg(err, errlen, "--cpus '%s': %u CPUs is more than maxcpus (%u)", text, t->cpus, t->maxcpus);
	return 0;
}
