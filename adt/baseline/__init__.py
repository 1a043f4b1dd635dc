"""Baselines: branding placeholders, PHP serialized strings, SQL dump parsing, the publication gate, redaction."""
