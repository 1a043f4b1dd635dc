"""Three processes each putting and deleting 100 distinct keys at once leave exactly the expected set."""

import subprocess
import sys

from tests.integration.conftest import WRAPPERS

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
