/*
 * libFuzzer target: `mpvm run` option parsing (core/options.c). The input
 * is split on NUL bytes into an argv of at most MAX_ARGS arguments, each in
 * its own exact-size allocation (so AddressSanitizer sees a read past a
 * string's NUL), NULL-terminated as main() gets it. options_parse_run()
 * allocates nothing; --cpu-features lists are parsed into the options.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	size_t start = 0;

	if (size == 0)
		return 0;
	while (start <= size && argc < MAX_ARGS) {
		const uint8_t *nul = memchr(data + start, 0, size - start);
		size_t end = nul ? (size_t)(nul - data) : size;
		size_t n = end - start;

		argv[argc] = malloc(n + 1);
		if (!argv[argc])
			break;
		memcpy(argv[argc], data + start, n);
		argv[argc][n] = '\0';
		argc++;
		if (!nul)
			break;
		start = end + 1;
	}
	argv[argc] = NULL;

	struct mpvm_options o;
	char err[256];

	err[0] = '\0';
	if (options_parse_run(argc, argv, &o, err, sizeof(err)) == 0) {
		(void)options_check_host(&o, 1, err, sizeof(err));
		(void)options_check_host(&o, 4096, err, sizeof(err));
		(void)irqchip_mode_name(o.irqchip);
	} else if (err[0] == '\0') {
		fprintf(stderr, "options_parse_run failed without a message\n");
		abort();
	}
	/* Every argument as a size too ("256M", "1G", ...). */
	for (int i = 0; i < argc; i++) {
		uint64_t v;

		(void)parse_size(argv[i], &v);
	}
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
