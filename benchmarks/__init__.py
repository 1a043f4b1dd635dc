"""Benchmarks: adt against the original approach, side by side in one run (`make bench`)."""

import subprocess


def original_rotation(s3cmd, key):
    """The original's rotation before its upload (Backup.sh): `s3cmd ls` both generations, `del` the older,
    `mv` the live one to `.BACKUP`."""
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}

    def listed(name):
        return bool(subprocess.run([*s3cmd, "ls", name], capture_output=True, text=True, check=True).stdout.strip())

    if listed(f"{key}.BACKUP"):
        subprocess.run([*s3cmd, "del", f"{key}.BACKUP"], **quiet)
    if listed(key):
        subprocess.run([*s3cmd, "mv", key, f"{key}.BACKUP"], **quiet)
