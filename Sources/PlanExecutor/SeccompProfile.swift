import Foundation

/// The seccomp filter of runc sandboxes, in OCI form: everything is allowed except what Docker's
/// default profile denies to a container without `CAP_SYS_ADMIN` and friends, which fails with EPERM.
enum SeccompProfile {
    /// System calls that fail with EPERM.
    static let denied = [
        "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
        "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "get_mempolicy",
        "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
        "mbind", "mount", "mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
        "open_by_handle_at", "open_tree", "perf_event_open", "personality", "pivot_root", "process_vm_readv",
        "process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key",
        "set_mempolicy", "setdomainname", "sethostname", "setns", "settimeofday", "stime", "swapoff", "swapon",
        "syslog", "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vhangup", "vm86", "vm86old",
    ]

    /// `clone` flags that make namespaces (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET).
    static let namespaceFlags: [UInt64] = [0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000]

    static var architectures: [String] {
        #if arch(x86_64)
        ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        #elseif arch(arm64)
        ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
        #else
        []
        #endif
    }

    static var docker: [String: Any] {
        var syscalls: [[String: Any]] = [["names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": 1]]
        // clone with any namespace flag: one rule per flag (rules of a call are alternatives).
        for flag in namespaceFlags {
            syscalls.append(["names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                             "args": [["index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"] as [String: Any]]])
        }
        // clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes libc fall back to clone.
        syscalls.append(["names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38])
        return ["defaultAction": "SCMP_ACT_ALLOW", "architectures": architectures, "syscalls": syscalls]
    }
}
