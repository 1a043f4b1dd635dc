"""Pure text transforms shared by backups and baselines: PHP-serialized data (`serialized`), SQL dump
parsing and rewriting (`sqldump`), the branding placeholders (`branding`). Data in, data out: nothing here
reads a file, starts a process or imports another adt package, so backup and baseline both build on it.

`binary` is the one rule for "this content is not text": a NUL byte in its first 8 KB (as git and grep
decide). Branding leaves such files alone and the publication gate does not scan them, the same files.
"""

BINARY_SNIFF = 8192


def binary(head: bytes) -> bool:
    """Whether content is binary: a NUL byte in its first BINARY_SNIFF bytes (pass the whole content or
    just its head)."""
    return b"\0" in head[:BINARY_SNIFF]
