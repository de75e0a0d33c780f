/*
 * libFuzzer target: `mpvm trace-svg` (core/trace_read.c, core/trace_svg.c)
 * on arbitrary bytes as the trace file. Whatever the input, the renderer
 * must either refuse it with a message and write nothing, or write an SVG
 * that is well-formed: its tags balance and its text is UTF-8 without
 * control characters (a name in a trace is the guest's or another tool's,
 * and must not break the picture).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/trace_svg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *why, const char *svg)
{
	fprintf(stderr, "trace-svg wrote a broken SVG: %s\n%.2000s\n", why, svg);
	abort();
}

/* Tags balanced and closed; no bare '<', '>' or '&' in text; UTF-8; no control characters. */
static void check_svg(const char *s)
{
	static char stack[64][32];
	const unsigned char *u = (const unsigned char *)s;
	int depth = 0;

	for (size_t i = 0; u[i]; i++) {
		unsigned char c = u[i];

		if (c < 0x20 && c != '\n' && c != '\t')
			broken("a control character", s);
		if (c >= 0x80) {
			size_t len = c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;

			if (len == 0)
				broken("not UTF-8", s);
			for (size_t k = 1; k < len; k++)
				if ((u[i + k] & 0xc0) != 0x80)
					broken("not UTF-8", s);
			i += len - 1;
			continue;
		}
		if (c == '&' && strncmp(s + i, "&lt;", 4) && strncmp(s + i, "&gt;", 4) &&
		    strncmp(s + i, "&amp;", 5) && strncmp(s + i, "&quot;", 6))
			broken("a bare &", s);
		if (c == '>')
			broken("a bare >", s);
		if (c != '<')
			continue;
		if (!strncmp(s + i, "<?xml", 5) || !strncmp(s + i, "<!--", 4)) {
			const char *end = strstr(s + i + 4, s[i + 1] == '?' ? "?>" : "--");

			if (!end || (s[i + 1] == '!' && end[2] != '>'))
				broken("a bad comment or declaration", s);
			i = (size_t)(end - s) + (s[i + 1] == '?' ? 1 : 2);
			continue;
		}
		bool closing = s[i + 1] == '/', quoted = false;
		size_t n = 0, j = i + 1 + closing;
		char name[32];

		while (s[j] && s[j] != ' ' && s[j] != '>' && s[j] != '/' && n < sizeof(name) - 1)
			name[n++] = s[j++];
		name[n] = '\0';
		if (!n)
			broken("a bare <", s);
		for (; s[j] && (quoted || s[j] != '>'); j++) {
			if (s[j] == '"')
				quoted = !quoted;
			else if (quoted && s[j] == '<')
				broken("a < in an attribute", s);
		}
		if (!s[j])
			broken("an unclosed tag", s);
		if (closing) {
			if (depth == 0 || strcmp(stack[depth - 1], name))
				broken("a closing tag out of order", s);
			depth--;
		} else if (s[j - 1] != '/') {
			if (depth == 64)
				broken("too deep", s);
			strcpy(stack[depth++], name);
		}
		i = j;
	}
	if (depth)
		broken("a tag never closed", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *svg = NULL, err[512];
	size_t len = 0;
	FILE *in, *out;
	int ret;

	if (size == 0)
		return 0;
	in = fmemopen((void *)data, size, "r");
	out = open_memstream(&svg, &len);
	if (!in || !out)
		abort();
	err[0] = '\0';
	ret = trace_svg_render(in, "fuzz", out, err, sizeof(err));
	fclose(in);
	fclose(out);
	if (ret) {
		if (err[0] == '\0' || len != 0) {
			fprintf(stderr, "trace_svg_render failed %s\n", err[0] ? "but wrote output" : "without a message");
			abort();
		}
	} else {
		check_svg(svg);
	}
	free(svg);
	return 0;
}
