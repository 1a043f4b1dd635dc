"""The `adt` console script. Standard library only until it knows it must run in-process.

`adt config …` is called many times a minute from cron. When the per-machine agent is running, the
call is handed to it over its Unix socket (with this process's stdin, stdout and stderr, its working
directory and environment) and this process only waits for the exit code: no Click, no boto3.
When no agent answers, the command runs in-process with the same code.
"""

import os
import sys

FORWARDED = ("config",)


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in FORWARDED and os.environ.get("ADT_AGENT", "") != "off":
        from adt.agent import forward

        code = forward(argv)
        if code is not None:
            sys.exit(code)
    from adt.cli import main as cli_main

    sys.exit(cli_main(argv))
