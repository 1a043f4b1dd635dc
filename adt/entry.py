"""The `adt` console script. Standard library only until it knows it must run in-process.

Jobs a machine runs often (`adt config …` many times a minute, the firewall reconcile every minute, the
backups) are handed to the per-machine agent when it runs, over its Unix socket (with this process's stdin,
stdout and stderr, its working directory and environment); this process only waits for the exit code: no
Click, no boto3. When no agent answers, the command runs in-process with the same code.

Cron runs jobs with PATH=/usr/bin:/bin, where iptables, ufw and mariadbd (in the sbin directories) are not
found; every command therefore runs with the system's directories added after the caller's own.
"""

import os
import sys

FORWARDED = ("config", "firewall", "backup")
SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def system_path(path: str) -> str:
    """PATH with the system's directories it lacks appended (the caller's own order and entries kept first)."""
    present = [p for p in path.split(os.pathsep) if p]
    return os.pathsep.join(present + [p for p in SYSTEM_PATH if p not in present])


def main() -> None:
    os.environ["PATH"] = system_path(os.environ.get("PATH", ""))
    argv = sys.argv[1:]
    if argv and argv[0] in FORWARDED and os.environ.get("ADT_AGENT", "") != "off":
        from adt.agent import forward

        code = forward(argv)
        if code is not None:
            sys.exit(code)
    from adt.cli import main as cli_main

    sys.exit(cli_main(argv))
