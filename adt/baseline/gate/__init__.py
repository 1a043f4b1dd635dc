"""Publication gate: a baseline (webroot + SQL dump) is pushed only when nothing secret or personal is in it.

`scan_tree` reads the webroot, `scan_dump` the database dump (through `adt.text.sqldump`); both return
`Finding`s. `gate` splits them into blocking and waived by the ids listed in a `Waivers` file: the push may go
ahead only when nothing blocks. Every finding blocks unless waived, whatever its severity (the severity only
orders the report).

One module per part, each importing only the ones above it:
  findings    Finding and its stable id, Waivers, the gate's decision, the report and the manifest
  heuristics  what looks secret: setting names, placeholders, random-looking values, the token rules
  dumps       dump rules: password hashes, e-mail addresses, session tables, secret settings in rows and in
              PHP-serialized / JSON values (parsed by adt.text.serialized)
  files       file rules (the CMS config files, generic assignments, .env / ini lines) and the webroot walk
This package's own names are the gate's entry points; the rules' helpers are imported from their module.
"""

from adt.baseline.gate.dumps import scan_dump
from adt.baseline.gate.files import scan_text, scan_tree
from adt.baseline.gate.findings import Finding, GateResult, Waivers, gate, manifest, report_lines, stale_waivers

__all__ = [
    "Finding",
    "GateResult",
    "Waivers",
    "gate",
    "manifest",
    "report_lines",
    "scan_dump",
    "scan_text",
    "scan_tree",
    "stale_waivers",
]
