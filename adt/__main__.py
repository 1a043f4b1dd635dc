"""`python -m adt` is the same as the `adt` command."""

from adt.entry import main

main()
