"""Config-datastore wrapper calls against s3cmd, on one SeaweedFS, in one run.

For each of put, get, list and check: N calls through the shell wrappers with the agent running,
N through s3cmd (what an original machine runs per call), and a few through the wrappers with no agent
(in-process). Calls are interleaved so drift hits every side alike. Prints the median wall time per
call and the ratio to s3cmd. Target: agent / s3cmd <= 0.5.

    .venv/bin/python benchmarks/config_datastore.py [--runs 50] [--cold-runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adt.datastore.seaweed import SeaweedS3  # noqa: E402

WRAPPERS = ROOT / "providerscripts" / "datastore" / "configwrapper"
BIN = Path(sys.executable).parent


def timed(command, env, cwd):
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed: {result.stderr.decode()}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="calls per operation, agent and s3cmd")
    parser.add_argument("--cold-runs", type=int, default=10, help="calls per operation without the agent")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="adt-bench-"))
    server = SeaweedS3(work / "s3").start()
    agent = None
    try:
        home = work / "home"
        server.write_machine_settings(home, "www.bench.example.com", "Bench")
        bucket = "www-bench-example-com-config-benc"
        s3cfg = server.write_s3cmd_config(work / "s3cfg")
        socket_path = str(work / "agent" / "agent.sock")
        env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "ADT_HOME": str(home),
               "ADT_HOMEDIR_FILE": str(work / "none"), "ADT_AGENT_SOCKET": socket_path}
        cold_env = {**env, "ADT_AGENT": "off"}
        subprocess.run([str(BIN / "adt"), "agent", "start"], env=env, check=True, stdout=subprocess.DEVNULL)
        agent = True
        s3cmd = ["s3cmd", "-c", str(s3cfg)]
        (work / "dl").mkdir()
        marker_dir = work / "markers"
        marker_dir.mkdir()

        def ops(i):
            ip = f"10.{i // 250}.{i % 250}.1"
            marker = marker_dir / ip
            marker.touch()
            return {
                "put": ([str(WRAPPERS / "PutToConfigDatastore.sh"), ip, "webserverips"],
                        s3cmd + ["put", str(marker), f"s3://{bucket}/webserverips/"]),
                "get": ([str(WRAPPERS / "GetFromConfigDatastore.sh"), "webserverips/10.0.0.1", str(work / "dl")],
                        s3cmd + ["get", "--force", f"s3://{bucket}/webserverips/10.0.0.1", str(work / "dl") + "/"]),
                "list": ([str(WRAPPERS / "ListFromConfigDatastore.sh"), "webserverips/"],
                         s3cmd + ["ls", "--recursive", f"s3://{bucket}/webserverips/"]),
                "check": ([str(WRAPPERS / "CheckConfigDatastore.sh"), "webserverips"],
                          s3cmd + ["ls", f"s3://{bucket}/webserverips"]),
            }

        timed([str(WRAPPERS / "PutToConfigDatastore.sh"), "10.0.0.1", "webserverips"], env, work)
        results = {op: {"agent": [], "s3cmd": [], "in-process": []} for op in ("put", "get", "list", "check")}
        for i in range(args.runs):
            for op, (wrapper, original) in ops(i).items():
                results[op]["agent"].append(timed(wrapper, env, work))
                results[op]["s3cmd"].append(timed(original, env, work))
                if i < args.cold_runs:
                    results[op]["in-process"].append(timed(wrapper, cold_env, work))

        print(f"config datastore, SeaweedFS on loopback, {args.runs} calls per op "
              f"({args.cold_runs} without agent), median wall time per call")
        print(f"{'op':6} {'adt+agent':>10} {'s3cmd':>10} {'ratio':>7} {'adt cold':>10} {'ratio':>7}")
        ratios = []
        for op, sides in results.items():
            agent_ms, s3cmd_ms, cold_ms = (statistics.median(sides[s]) * 1000 for s in ("agent", "s3cmd", "in-process"))
            ratios.append(agent_ms / s3cmd_ms)
            print(f"{op:6} {agent_ms:8.1f}ms {s3cmd_ms:8.1f}ms {agent_ms / s3cmd_ms:7.2f} "
                  f"{cold_ms:8.1f}ms {cold_ms / s3cmd_ms:7.2f}")
        print(f"worst agent/s3cmd ratio {max(ratios):.2f} (target <= 0.5: {'met' if max(ratios) <= 0.5 else 'NOT met'})")
    finally:
        if agent:
            subprocess.run([str(BIN / "adt"), "agent", "stop"], env=env, stdout=subprocess.DEVNULL)
        server.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
