#ifndef CPLANSYS_H
#define CPLANSYS_H

#include <stdint.h>

/// Flags of openat2(2)'s `resolve` field (linux/openat2.h), spelled here so Swift sees them
/// whatever the C library's headers know.
#define PLAN_RESOLVE_NO_MAGICLINKS 0x02
#define PLAN_RESOLVE_NO_SYMLINKS 0x04
#define PLAN_RESOLVE_BENEATH 0x08
#define PLAN_RESOLVE_IN_ROOT 0x10

/// O_PATH (Linux, every architecture Swift runs on), which Glibc's module leaves out.
#define PLAN_O_PATH 0x200000

/// openat2(2): opens `path` relative to `dirfd` with `flags`, `mode` and `resolve` restrictions.
/// Returns the descriptor, or -1 with errno set (ENOSYS before Linux 5.6).
int plan_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

#endif
