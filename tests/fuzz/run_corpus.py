"""Runs a fuzz target's standalone driver over its committed corpus plus seeds generated
now from the real recordings (which must not be copied into the repo)."""
import os
import subprocess
import sys
import tempfile

target, corpus = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory(prefix="wt-fuzz-") as tmp:
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_seeds.py"), tmp, "12"],
                   check=True)
    r = subprocess.run([target, corpus, tmp])
    sys.exit(r.returncode)
