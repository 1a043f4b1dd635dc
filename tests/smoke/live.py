"""The live smoke test: a development build on a real provider, checked, then destroyed, leaving nothing billed.
It runs only by hand (`make smoke`), never in CI, and only with a real account in the environment:

    ADT_SMOKE_CLOUDHOST=digitalocean ADT_SMOKE_TEMPLATE=/path/to/digitalocean1.tmpl make smoke

The template is a filled-in template of that cloud host (token, S3 keys, region, sizes); its build identifier is
replaced by a fresh one (`smoke<random>`). Steps: `adt doctor`, the build, the installer page over HTTP, `adt
destroy`, then a listing by the build's tag that must be empty; the destroy runs whatever happened before it.
Exit 0 when every step passed.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    cloudhost, template = os.environ.get("ADT_SMOKE_CLOUDHOST", ""), os.environ.get("ADT_SMOKE_TEMPLATE", "")
    if not cloudhost or not template:
        print("set ADT_SMOKE_CLOUDHOST and ADT_SMOKE_TEMPLATE (a filled-in template with a real token)",
              file=sys.stderr)
        return 2
    identifier = "smoke" + secrets.token_hex(3)
    adt = str(Path(sys.executable).parent / "adt")
    steps = []

    def step(name: str, argv, timeout: int = 3600) -> subprocess.CompletedProcess:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        steps.append((name, result.returncode))
        print(f"{name}: exit {result.returncode}", file=sys.stderr)
        if result.returncode:
            print(result.stderr[-2000:], file=sys.stderr)
        return result

    try:
        if step("doctor", [adt, "doctor", cloudhost, "--template-file", template, "-b", identifier]).returncode:
            return 1
        built = step("build", [str(ROOT / "ExpeditedAgileDeploymentToolkit.sh"), cloudhost, "debian", "1", identifier,
                               "--template-file", template, "--json"])
        if built.returncode == 0:
            url = json.loads(built.stdout)["url"] + "wp-admin/install.php"
            with urllib.request.urlopen(url, timeout=30) as response:
                served = "WordPress" in response.read().decode("utf-8", "replace")
            steps.append(("site", 0 if served else 1))
    finally:
        step("destroy", [adt, "destroy", "-c", cloudhost, "-b", identifier, "--yes"], timeout=1800)
        left = step("left over", [adt, "cloud", "ips", f"-{identifier}-", "-c", cloudhost, "-b", identifier])
        if left.stdout.strip():
            steps.append(("nothing left", 1))
            print(f"STILL BILLED, destroy by hand: {left.stdout}", file=sys.stderr)
    failed = [name for name, code in steps if code]
    print("smoke: " + ("passed" if not failed else "FAILED: " + ", ".join(failed)), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
