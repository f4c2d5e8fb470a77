#define _GNU_SOURCE
#include "CPlanSys.h"
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/// The kernel's struct open_how (linux/openat2.h).
struct plan_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

int plan_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
#ifndef __linux__
    // Linux only: elsewhere every rooted operation fails closed, as on a kernel before 5.6.
    (void)dirfd; (void)path; (void)flags; (void)mode; (void)resolve;
    errno = ENOSYS;
    return -1;
#else
    struct plan_open_how how = { flags, mode, resolve };
    long result;
    int attempts = 0;
    // EAGAIN: a rename raced the lookup; a few retries, never an endless loop a hostile step could cause.
    do {
        result = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    } while (result < 0 && errno == EAGAIN && ++attempts < 16);
    return (int)result;
#endif
}
