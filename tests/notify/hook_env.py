"""Action hook used by the notify tests: records the WATTRACK_* environment
and its argv in the file named by argv[1], then prints a line like a real
shutdown script would."""
import json
import os
import sys

with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:],
                        "env": {k: v for k, v in os.environ.items()
                                if k.startswith("WATTRACK_") or k == "PATH"},
                        "pgid_is_own": os.getpgid(0) == os.getpid()}) + "\n")
print(f"shutdown requested for servers fed by {os.environ.get('WATTRACK_ALARM_DEVICE')}")
