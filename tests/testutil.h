/*
 * testutil: helpers shared by the cmocka test programs — temporary
 * directories, running the real programs and capturing their output.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>

/* Make a fresh temporary directory; returns a malloc'd path (caller frees
 * with tu_rmtree + free). */
char *tu_mkdtemp(const char *tag);
/* rm -rf path. */
void tu_rmtree(const char *path);
/* Path of a built program ("imager", "harness"): $IMBENCH_BIN/name, or
 * build/bin/name. Static buffer. */
const char *tu_bin(const char *name);
/*
 * Run a shell command; stdout+stderr captured into a malloc'd string in
 * *out (may be NULL to discard). Returns the exit status (or 128+signal).
 */
int tu_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Does haystack contain needle? */
int tu_contains(const char *haystack, const char *needle);

#endif
