"""Processes writing at once: on distinct keys they leave exactly the expected set; contending for the same keys
(a bucket that does not exist yet, one object written by all, markers put and deleted by all, readers
downloading to one file), every read is a whole version and the end state is the last writes'. On SeaweedFS and
on moto."""

import subprocess
import sys
import time

from tests.integration.conftest import WRAPPERS

S3_SERVERS = ("seaweedfs", "moto")

LOOP = f"""
for i in $(seq 0 99); do {WRAPPERS}/PutToConfigDatastore.sh "10.$1.0.$i" "webserverips" || exit 1; done
for i in $(seq 0 2 99); do {WRAPPERS}/DeleteFromConfigDatastore.sh "webserverips/10.$1.0.$i" || exit 1; done
"""

API = """
import sys
from adt.datastore.config import ConfigDatastore
from adt.settings.machine import MachineSettings
store = ConfigDatastore.from_settings(MachineSettings.load(sys.argv[1]))
p = sys.argv[2]
for i in range(100):
    store.put(f"webserverips/10.{p}.0.{i}")
for i in range(0, 100, 2):
    store.delete(f"webserverips/10.{p}.0.{i}")
"""

EXPECTED = sorted(f"webserverips/10.{p}.0.{i}" for p in range(3) for i in range(1, 100, 2))


def test_three_wrapper_loops_through_the_agent(agent_machine):
    procs = [subprocess.Popen(["bash", "-c", LOOP, "loop", str(p)], env=agent_machine.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    assert agent_machine.keys() == EXPECTED
    assert agent_machine.wrapper("ListFromConfigDatastore.sh", "webserverips/").stdout.split() == \
        sorted(k.rsplit("/", 1)[1] for k in EXPECTED)


def test_three_processes_in_process(plain_machine):
    procs = [subprocess.Popen([sys.executable, "-c", API, str(plain_machine.settings_path), str(p)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    assert plain_machine.keys() == EXPECTED


WRITER = """
import sys, time
from pathlib import Path
from adt.datastore.config import ConfigDatastore
from adt.settings.machine import MachineSettings
store = ConfigDatastore.from_settings(MachineSettings.load(sys.argv[1]))
me, start, scratch = sys.argv[2], float(sys.argv[3]), Path(sys.argv[4])
source = scratch / f"{me}.php"
source.write_bytes(me.encode() * 65536)  # one letter throughout: a torn or mixed copy shows
time.sleep(max(0.0, start - time.time()))  # every writer starts at once, on a bucket that does not exist yet
for _ in range(8):
    for k in range(4):
        store.put(f"shared/config{k}.php", source)
        store.put(f"markers/{k}")
        store.delete(f"markers/{k}")
"""

READER = """
import sys, time
from pathlib import Path
from adt.datastore.config import ConfigDatastore
from adt.settings.machine import MachineSettings
store = ConfigDatastore.from_settings(MachineSettings.load(sys.argv[1]))
target, stop, writers = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
reads = 0
while not stop.exists():
    for k in range(4):
        if store.get(f"shared/config{k}.php", target):  # every reader downloads to the same file
            data = target.read_bytes()
            assert len(data) == 65536 and data[:1].decode() in writers and data == data[:1] * 65536, (k, len(data))
            reads += 1
print(reads)
"""


def test_writers_and_readers_contending_for_the_same_keys(plain_machine, tmp_path):
    writers = "abcd"
    start = time.time() + 4  # time for every interpreter to import boto3
    stop = tmp_path / "stop"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(plain_machine.settings_path), me, str(start),
                               str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for me in writers]
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(plain_machine.settings_path),
                                 str(tmp_path / "shared.php"), str(stop), writers],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    stop.touch()
    reads = []
    for proc in readers:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        reads.append(int(out))
    assert all(reads), reads  # each reader saw whole objects while they were being replaced
    # every writer's last word on each marker was a delete; on each config, some writer's whole file
    assert plain_machine.keys() == [f"shared/config{k}.php" for k in range(4)]
    client = plain_machine.servers[0].client()
    for k in range(4):
        data = client.get_object(Bucket=plain_machine.bucket, Key=f"shared/config{k}.php")["Body"].read()
        assert len(data) == 65536 and data == data[:1] * 65536 and data[:1].decode() in writers
