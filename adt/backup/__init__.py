"""Temporal backups and restores (website, database) in the datastore, and baselines."""
