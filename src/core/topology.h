/*
 * The machine's CPU topology: sockets, cores per socket, threads per core,
 * as QEMU's -smp spells it (`--cpus 8,sockets=2,cores=2,threads=2`), and
 * the APIC IDs it gives each CPU. KVM-free.
 *
 * APIC IDs are laid out as hardware does (SDM vol. 3A §8.9.1, "Hierarchical
 * Mapping of Shared Resources"): from the low bits up, a thread field
 * ceil(log2(threads)) bits wide, then a core field ceil(log2(cores)) bits
 * wide, then the package (socket) number. Where a count is not a power of
 * two, IDs have gaps: 3 cores take 2 bits, so core IDs 0, 1, 2 and never 3.
 * CPU index i (the vCPU id) is thread i % threads of core (i / threads) %
 * cores of socket i / (cores * threads): the first socket fills first.
 */
#ifndef MPVM_CORE_TOPOLOGY_H
#define MPVM_CORE_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

struct cpu_topology {
	unsigned int cpus;      /* CPUs present at start */
	unsigned int sockets, cores, threads;
	unsigned int maxcpus;   /* sockets * cores * threads */
};

/*
 * "N[,sockets=S][,cores=C][,threads=T][,maxcpus=M]" (N may be left out
 * when the topology gives it). What is missing is derived as QEMU derives
 * it (since 6.2, cores preferred over sockets): sockets and threads
 * default to 1, cores to what is left of maxcpus, maxcpus to the product
 * (or N), N to maxcpus. Then sockets * cores * threads must equal maxcpus
 * and N must not exceed it. `max` bounds maxcpus. 0, or -1 with the
 * reason in err.
 */
int topology_parse(const char *text, unsigned int max, struct cpu_topology *t, char *err, size_t errlen);

/* Plain --cpus N: one socket of N cores, one thread each (APIC ID = index). */
struct cpu_topology topology_flat(unsigned int cpus);

/* Widths of the APIC ID's thread and core fields. */
unsigned int topology_thread_bits(const struct cpu_topology *t);
unsigned int topology_core_bits(const struct cpu_topology *t);

/* The APIC ID of CPU index `i` (0 <= i < maxcpus). */
uint32_t topology_apic_id(const struct cpu_topology *t, unsigned int i);

/* The highest APIC ID in use: above 254 only x2APIC can address it (0xff is xAPIC's broadcast). */
uint32_t topology_max_apic_id(const struct cpu_topology *t);

/* Where CPU index `i` sits. */
void topology_locate(const struct cpu_topology *t, unsigned int i,
		     unsigned int *socket, unsigned int *core, unsigned int *thread);

/* "2 sockets x 2 cores x 2 threads" for messages. */
void topology_describe(const struct cpu_topology *t, char *buf, size_t len);

#endif
