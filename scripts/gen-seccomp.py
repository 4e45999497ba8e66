#!/usr/bin/env python3
"""Writes deploy/seccomp-io_uring.json: a Docker/OCI seccomp profile that
allows the same system calls as deploy/ringkv.service's SystemCallFilter
(systemd's @system-service set, io_uring_setup/enter/register, minus the
groups the unit denies) and refuses everything else with EPERM.

Regenerate after editing the unit's filter (needs systemd-analyze):
    scripts/gen-seccomp.py > deploy/seccomp-io_uring.json
"""
import json
import subprocess

ALLOW = ["@system-service", "io_uring_setup", "io_uring_enter", "io_uring_register"]
DENY = ["@privileged", "@mount", "@swap", "@reboot", "@raw-io", "@module",
        "@debug", "@cpu-emulation", "@obsolete"]
# Needed by the container runtime and the healthcheck rather than by ringkv.
EXTRA = ["execve", "execveat", "capget", "capset", "setgroups", "setuid", "setgid",
         "setresuid", "setresgid", "setfsuid", "setfsgid"]


def groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                         text=True, check=True).stdout
    table, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = line.strip()
            table[current] = []
        elif current and line.startswith("    ") and not line.strip().startswith("#"):
            table[current].append(line.strip())
    return table


def expand(names, table):
    seen = set()
    stack = list(names)
    while stack:
        n = stack.pop()
        if n.startswith("@"):
            stack.extend(table.get(n, []))
        else:
            seen.add(n)
    return seen


def main():
    table = groups()
    allowed = (expand(ALLOW, table) - expand(DENY, table)) | set(EXTRA)
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64",
             "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": [
            {"names": sorted(allowed), "action": "SCMP_ACT_ALLOW"},
        ],
    }
    print(json.dumps(profile, indent=2))


if __name__ == "__main__":
    main()
