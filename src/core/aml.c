/* The AML encoder (aml.h); section numbers are ACPI 6.3's. */
#include <string.h>

#include "core/aml.h"

void aml_bytes(struct aml *a, const void *src, size_t n)
{
	if (a->len + n <= a->cap)
		memcpy(a->p + a->len, src, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

void aml_ext(struct aml *a, uint8_t op)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, op);
}

void aml_name(struct aml *a, const char *path)
{
	const char *s;
	unsigned int segs = 1;

	if (*path == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		path++;
	}
	for (s = path; *s; s++)
		segs += *s == '.';
	if (segs == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (segs > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)segs);
	}
	while (segs--) {
		char seg[4] = { '_', '_', '_', '_' };
		size_t i;

		for (i = 0; i < 4 && path[i] && path[i] != '.'; i++)
			seg[i] = path[i];
		aml_bytes(a, seg, 4);
		path += i;
		if (*path == '.')
			path++;
	}
}

void aml_integer(struct aml *a, uint32_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_bytes(a, &(uint16_t){ (uint16_t)v }, 2);
	} else {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_bytes(a, &v, 4);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_name_int(struct aml *a, const char *name, uint32_t v)
{
	aml_byte(a, AML_NAME_OP);
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_string(struct aml *a, const char *name, const char *s)
{
	aml_byte(a, AML_NAME_OP);
	aml_name(a, name);
	aml_string(a, s);
}

size_t aml_open(struct aml *a)
{
	return a->len;
}

void aml_close(struct aml *a, size_t start)
{
	size_t body = a->len - start, n, total, i;
	uint8_t enc[4];

	if (body + 1 <= 0x3f)
		n = 1;
	else if (body + 2 <= 0xfff)
		n = 2;
	else if (body + 3 <= 0xfffff)
		n = 3;
	else
		n = 4; /* 28 bits: far more than any DSDT made here */
	total = body + n;

	if (n == 1) {
		enc[0] = (uint8_t)total;
	} else {
		/* bits 7:6 = bytes that follow, bits 3:0 = low nibble */
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	/* Slide the body up only when all of it and the prefix fit. */
	if (a->len + n <= a->cap) {
		memmove(a->p + start + n, a->p + start, body);
		memcpy(a->p + start, enc, n);
	}
	a->len += n;
}

/* 19.6.85 Method: MethodOp PkgLength NameString MethodFlags (bits 0-2 ArgCount, bit 3 SerializeFlag) */
size_t aml_method(struct aml *a, const char *name, unsigned int nargs, int serialized)
{
	size_t m;

	aml_byte(a, AML_METHOD_OP);
	m = aml_open(a);
	aml_name(a, name);
	aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 8 : 0)));
	return m;
}

/* 19.6.10 Buffer: BufferOp PkgLength BufferSize ByteList */
void aml_buffer(struct aml *a, const void *bytes, size_t n)
{
	size_t b;

	aml_byte(a, AML_BUFFER_OP);
	b = aml_open(a);
	aml_integer(a, (uint32_t)n);
	aml_bytes(a, bytes, n);
	aml_close(a, b);
}
