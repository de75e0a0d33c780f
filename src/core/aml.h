/*
 * A small AML encoder (ACPI 6.3 chapter 20, "ACPI Machine Language
 * Specification"): just what mpvm's DSDT needs, the \_S5 package, the
 * processor devices and QEMU's CPU hotplug interface (acpi_cpu_hotplug.c).
 *
 * It counts every byte but stores only those that fit below cap, so a run
 * with cap 0 measures the output. Terms are emitted in prefix order as AML
 * has them: Store (a, b) is aml_op(AML_STORE_OP) then a then b. Objects
 * with a PkgLength (scopes, devices, methods, If, While, packages, buffers,
 * fields) are bracketed by aml_open() and aml_close().
 */
#ifndef MPVM_CORE_AML_H
#define MPVM_CORE_AML_H

#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *p;
	size_t cap;                /* bytes of p that may be written */
	size_t len;                /* bytes emitted so far */
};

/* 20.2 AML grammar opcodes (one byte; the Ext ones follow AML_EXT_OP_PREFIX) */
#define AML_ZERO_OP        0x00
#define AML_ONE_OP         0x01
#define AML_NAME_OP        0x08
#define AML_BYTE_PREFIX    0x0a
#define AML_WORD_PREFIX    0x0b
#define AML_DWORD_PREFIX   0x0c
#define AML_STRING_PREFIX  0x0d
#define AML_SCOPE_OP       0x10
#define AML_BUFFER_OP      0x11
#define AML_PACKAGE_OP     0x12
#define AML_METHOD_OP      0x14
#define AML_DUAL_NAME_PREFIX  0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX  0x5b
#define AML_ROOT_CHAR      0x5c  /* '\' */
#define AML_LOCAL0_OP      0x60  /* Local0..Local7: 0x60..0x67 */
#define AML_ARG0_OP        0x68  /* Arg0..Arg6: 0x68..0x6e */
#define AML_STORE_OP       0x70
#define AML_NOTIFY_OP      0x86
#define AML_LEQUAL_OP      0x93
#define AML_IF_OP          0xa0
#define AML_ELSE_OP        0xa1
#define AML_WHILE_OP       0xa2
#define AML_RETURN_OP      0xa4
#define AML_ONES_OP        0xff
/* after AML_EXT_OP_PREFIX */
#define AML_MUTEX_OP       0x01
#define AML_ACQUIRE_OP     0x23
#define AML_RELEASE_OP     0x27
#define AML_OPREGION_OP    0x80
#define AML_FIELD_OP       0x81
#define AML_DEVICE_OP      0x82

/* 19.6.100 OperationRegion: region space */
#define AML_SPACE_SYSTEM_IO 0x01
/* 20.2.5.2 FieldFlags: AccessType bits 0-3, LockRule bit 4, UpdateRule bits 5-6 */
#define AML_FIELD_BYTE_ACC   0x01
#define AML_FIELD_DWORD_ACC  0x03
#define AML_FIELD_PRESERVE   (0 << 5)
#define AML_FIELD_WRITE_ZEROS (2 << 5)

void aml_bytes(struct aml *a, const void *src, size_t n);
void aml_byte(struct aml *a, uint8_t b);
/* An Ext opcode: 0x5b then op. */
void aml_ext(struct aml *a, uint8_t op);

/*
 * 20.2.2 NameString: an optional '\' then dot-separated segments, each
 * padded with '_' to 4 characters ("\\_SB.CPUS.CSCN", "C01F", "_S5").
 * One segment is a NameSeg, two a DualNamePath, more a MultiNamePath.
 */
void aml_name(struct aml *a, const char *path);

/* 20.2.3: the shortest encoding of v (ZeroOp, OneOp, Byte/Word/DWord). */
void aml_integer(struct aml *a, uint32_t v);
/* String: StringPrefix, the characters, NUL. */
void aml_string(struct aml *a, const char *s);
/* Name (name, Integer) and Name (name, "string") */
void aml_name_int(struct aml *a, const char *name, uint32_t v);
void aml_name_string(struct aml *a, const char *name, const char *s);

/* 20.2.4 PkgLength: open() remembers where the body starts; close() puts the
 * PkgLength (1-4 bytes, counting itself) in front of the body. */
size_t aml_open(struct aml *a);
void aml_close(struct aml *a, size_t start);

/* Method (name, nargs, Serialized or NotSerialized) { ...: close with aml_close(). */
size_t aml_method(struct aml *a, const char *name, unsigned int nargs, int serialized);
/* Buffer () { bytes }: complete. */
void aml_buffer(struct aml *a, const void *bytes, size_t n);

#endif
