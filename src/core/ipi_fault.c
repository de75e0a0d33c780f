#include "core/ipi_fault.h"

#include <string.h>

static const char *const names[] = {
	[IPI_FAULT_PASS] = "none", [IPI_FAULT_DROP] = "drop",
	[IPI_FAULT_DELAY] = "delay", [IPI_FAULT_DUPLICATE] = "duplicate",
};

enum ipi_fault_action ipi_fault_action_of(const char *word)
{
	for (unsigned int a = IPI_FAULT_DROP; a <= IPI_FAULT_DUPLICATE; a++)
		if (!strcmp(word, names[a]))
			return (enum ipi_fault_action)a;
	return IPI_FAULT_PASS;
}

const char *ipi_fault_action_name(enum ipi_fault_action a)
{
	return (unsigned int)a <= IPI_FAULT_DUPLICATE ? names[a] : "?";
}

void ipi_fault_set(struct ipi_fault *f, enum ipi_fault_action action, unsigned int kinds, uint32_t count,
		   uint64_t delay_ns, bool seeded, uint64_t seed)
{
	uint64_t applied = f->applied;

	*f = (struct ipi_fault){
		.action = count ? action : IPI_FAULT_PASS, .kinds = kinds, .remaining = count,
		.delay_ns = delay_ns, .jitter = seeded && delay_ns > 1,
		/* xorshift64 must not start at 0; any other seed gives its own sequence. */
		.rng = seed ? seed : 0x9e3779b97f4a7c15ull, .applied = applied,
	};
}

/* xorshift64 (Marsaglia 2003): reproducible from the seed, good enough for spreading delays. */
static uint64_t next_random(struct ipi_fault *f)
{
	uint64_t x = f->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	f->rng = x;
	return x;
}

enum ipi_fault_action ipi_fault_apply(struct ipi_fault *f, unsigned int kind, uint64_t *delay_ns)
{
	enum ipi_fault_action a = f->action;

	*delay_ns = 0;
	if (a == IPI_FAULT_PASS || !(f->kinds & kind) || !f->remaining)
		return IPI_FAULT_PASS;
	if (--f->remaining == 0)
		f->action = IPI_FAULT_PASS;
	f->applied++;
	if (a != IPI_FAULT_DROP)
		*delay_ns = f->jitter ? 1 + next_random(f) % f->delay_ns : f->delay_ns;
	return a;
}
