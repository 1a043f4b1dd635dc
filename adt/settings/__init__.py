"""Settings: where a machine keeps its files, and the files themselves. Pure apart from reading files."""
