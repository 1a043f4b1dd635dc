"""Baselines: a website's webroot and database published as portable git repositories (publish), behind
the publication gate (gate) and with redaction of personal data (redact). The text transforms they share
with backups -- branding placeholders, PHP-serialized data, SQL dump parsing -- are in adt.text."""
