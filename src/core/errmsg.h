/*
 * Error messages from the KVM-free core: a function that fails writes one
 * line saying what was wrong into a caller's buffer and returns -1.
 */
#ifndef MPVM_CORE_ERRMSG_H
#define MPVM_CORE_ERRMSG_H

#include <stddef.h>

/* Formats into err (if err and errlen) and returns -1. */
int errmsg(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
