"""Runs a fieldbus fuzz target's standalone driver over its committed corpus
plus inputs made now: for the Redfish target, every resource of the DMTF
public-pdu mockup (read from realdata, never copied into the repo) and
mutations of each (cut in half, numbers turned into strings, members
emptied).

    run_fieldbus_corpus.py TARGET CORPUS_DIR [MOCKUP_DIR]
"""
import json
import os
import subprocess
import sys
import tempfile


def mutate(text):
    yield text[: len(text) // 2]
    try:
        j = json.loads(text)
    except ValueError:
        return

    def strings(o):
        if isinstance(o, dict):
            return {k: strings(v) for k, v in o.items()}
        if isinstance(o, list):
            return [strings(v) for v in o]
        if isinstance(o, (int, float)) and not isinstance(o, bool):
            return str(o)
        return o

    def hollow(o):
        if isinstance(o, dict):
            return {k: ([] if k == "Members" else hollow(v)) for k, v in o.items()}
        return o

    yield json.dumps(strings(j))
    yield json.dumps(hollow(j))


target, corpus = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory(prefix="wt-fuzz-fieldbus-") as tmp:
    n = 0
    if len(sys.argv) > 3:
        for dirpath, _, files in os.walk(sys.argv[3]):
            for f in files:
                if not f.endswith(".json"):
                    continue
                text = open(os.path.join(dirpath, f), encoding="utf-8").read()
                for i, t in enumerate([text] + list(mutate(text))):
                    with open(os.path.join(tmp, "%05d-%d.json" % (n, i)), "w") as out:
                        out.write(t)
                n += 1
        if n == 0:
            print("no mockup files under", sys.argv[3])
            sys.exit(1)
    r = subprocess.run([target, corpus] + ([tmp] if n else []))
    sys.exit(r.returncode)
