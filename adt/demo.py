"""`make demo`: what adt can do today, on this machine, with nothing but loopback.

Starts a SeaweedFS S3 datastore, writes a webserver's settings file for www.demo.example.com, starts
the agent, and drives the configuration datastore through the original wrapper scripts, as a
webserver's cron jobs do. Everything it starts is stopped and removed at the end.
(The `local` cloud host's development build will take over `make demo` when it lands.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from adt.datastore.seaweed import SeaweedS3

ROOT = Path(__file__).resolve().parents[1]
WRAPPERS = ROOT / "providerscripts" / "datastore" / "configwrapper"


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="adt-demo-"))
    bin_dir = Path(sys.executable).parent
    server = None
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "ADT_HOME": str(work / "home"),
           "ADT_HOMEDIR_FILE": str(work / "none"), "ADT_AGENT_SOCKET": str(work / "agent" / "agent.sock")}
    try:
        print("Starting a SeaweedFS S3 datastore on loopback ...", flush=True)
        server = SeaweedS3(work / "s3").start()
        runtime = work / "home" / "runtime"
        runtime.mkdir(parents=True)
        key, secret = server.state["rw"]
        settings = runtime / "webserver_configuration_settings.dat"
        settings.write_text(f"WEBSITEURL:www.demo.example.com\nSERVERUSER:DemoUser\nS3ACCESSKEY:{key}\n"
                            f"S3SECRETKEY:{secret}\nS3LOCATION:us-east-1\nS3HOSTBASE:{server.endpoint}\n"
                            "DBNAME:demodb\nDBUSERNAME:demouser\n")
        os.chmod(settings, 0o600)
        print(f"  endpoint {server.endpoint}, settings {settings}\n", flush=True)
        subprocess.run([str(bin_dir / "adt"), "agent", "start"], env=env, check=True)
        steps = [
            ("PutToConfigDatastore.sh", "10.0.0.7", "webserverips"),
            ("PutToConfigDatastore.sh", "10.0.0.8", "webserverips"),
            ("PutToConfigDatastore.sh", "INSTALLED_SUCCESSFULLY"),
            ("ListFromConfigDatastore.sh", "webserverips/"),
            ("CheckConfigDatastore.sh", "INSTALLED_SUCCESSFULLY"),
            ("GetDBCredential.sh", "name"),
            ("DeleteFromConfigDatastore.sh", "webserverips/10.0.0.7"),
            ("ListFromConfigDatastore.sh", "", "recursive", "fullpath"),
            ("GetFromConfigDatastore.sh", "nothing-here"),
        ]
        for script, *args in steps:
            started = time.perf_counter()
            result = subprocess.run([str(WRAPPERS / script), *args], env=env, capture_output=True, text=True)
            took = (time.perf_counter() - started) * 1000
            shown = " ".join(repr(a) if not a or " " in a else a for a in args)
            print(f"$ {script} {shown}    # exit {result.returncode}, {took:.0f} ms")
            for line in (result.stdout + result.stderr).splitlines():
                print(f"  {line}")
        print("\nThe bucket www-demo-example-com-config-demo now holds what an original machine's s3cmd would see.")
        return 0
    finally:
        subprocess.run([str(bin_dir / "adt"), "agent", "stop"], env=env, stdout=subprocess.DEVNULL)
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
        print("Stopped the agent and the datastore, removed", work)


if __name__ == "__main__":
    sys.exit(main())
