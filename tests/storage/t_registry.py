"""The registry API against a real PostgreSQL (assertions in storage_tool)."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stlib import *  # noqa: E402,F403

f = Failures()
pg = Postgres()
r = subprocess.run([TOOL, "registry", pg.dsn], capture_output=True, text=True, timeout=60)
print(r.stdout, r.stderr)
f.check(r.returncode == 0 and "registry ok" in r.stdout, "every registry expectation held")
f.check("s3cret" not in r.stderr and "s3cret" not in r.stdout, "credentials never logged")
f.done()
