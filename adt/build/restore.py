"""What a production machine restores at its first boot, given to the bootstrap (adt.machine, which does not
import the backup and baseline packages): the webroot and the database, from a temporal backup
(BUILDARCHIVECHOICE hourly … bimonthly) or from the baselines (`baseline`). Read only: the backups and the
repositories are never changed."""

from __future__ import annotations

from pathlib import Path


class _Sources:
    def webroot(self, settings, source: str, target: Path) -> str:
        if source == "baseline":
            from adt.baseline.publish import restore_website

            return restore_website(
                settings,
                settings.require("BASELINEIDENTIFIER"),
                target,
                remote_base=settings.value("BASELINEREMOTE") or None,
            )
        from adt.backup import website

        return website.restore(settings, source, target)

    def database(self, settings, source: str, home: Path, host: str) -> str:
        if source == "baseline":
            from adt.baseline.publish import restore_database

            tables = restore_database(
                settings,
                settings.require("BASELINEIDENTIFIER"),
                home,
                host=host,
                remote_base=settings.value("BASELINEREMOTE") or None,
            )
            return f"restored the database baseline: {len(tables)} tables"
        from adt.backup import database

        restored = database.restore(settings, source, host=host)
        return f"restored s3://{restored.bucket}/{restored.key}: {len(restored.tables)} tables"


SOURCES = _Sources()
