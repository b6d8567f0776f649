"""Benchmark: the Redfish poller on 500 simulated PDUs every 5 s for 60 s
(--quick: 200 for 15 s); see modbus.py, which does the work.

    tests/bench/run redfish [--quick]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modbus import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("redfish", sys.argv[1:]))
