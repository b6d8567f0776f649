"""HTTPS: a self-signed certificate generated on first start (key 0600,
reused on restart), a configured passphrase-protected certificate, TLS 1.2
and 1.3 only, Secure cookies and HSTS over HTTPS, and clear start-up errors
for a bad key or passphrase."""

import hashlib
import warnings
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apilib import (TESTD, Failures, Testd, free_port, migrated_postgres,  # noqa: E402
                    tmpdir)

F = Failures()
warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 are used on purpose
pg = migrated_postgres()


def served_cert(port, **ctxkw):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for k, v in ctxkw.items():
        setattr(ctx, k, v)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return t.getpeercert(binary_form=True), t.version()


# ---- generated certificate -----------------------------------------------------------
d = Testd(pg, https_port=free_port(), http_mode="off", request_timeout=3)
crt = os.path.join(d.dir, "tls", "selfsigned.crt")
key = os.path.join(d.dir, "tls", "selfsigned.key")
F.check(os.path.exists(crt) and os.path.exists(key), "self-signed certificate written to the state dir")
F.check(stat.S_IMODE(os.stat(key).st_mode) == 0o600, f"key mode is 0600: {oct(os.stat(key).st_mode)}")
F.check(d.http_port == 0, "plain HTTP is off")
der, ver = served_cert(d.https_port)
with open(crt) as f:
    pem_der = ssl.PEM_cert_to_DER_cert(f.read())
F.check(der == pem_der, "the server presents the generated certificate")
# It verifies for 127.0.0.1 (subjectAltName), with itself as the trust anchor.
c = d.client(tls=True, cafile=crt)
c.ctx.check_hostname = True
st, hdrs, js = c.raw("GET", "/api/v1/version")
F.check(st == 200, f"verified HTTPS request for 127.0.0.1: {st}")
F.check(hdrs.get("strict-transport-security", "").startswith("max-age="), "HSTS over HTTPS")
admin_pw = d.admin_password()
st, hdrs, js = c.call("POST", "/api/v1/session", {"username": "admin", "password": admin_pw})
cookie = next((x for x in hdrs["set-cookie-all"] if x.startswith("wt_session=")), "")
F.check(st == 200 and "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie,
        f"session cookie over HTTPS is Secure, HttpOnly, SameSite=Strict: {cookie}")

# TLS 1.2 and 1.3 work; 1.1 and 1.0 are refused.
for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
    try:
        _, got = served_cert(d.https_port, minimum_version=v, maximum_version=v)
        F.check(got == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[v],
                f"{v.name} negotiated: {got}")
    except (ssl.SSLError, OSError) as e:
        F.check(False, f"{v.name} handshake failed: {e}")
for v in (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1):
    try:
        _, got = served_cert(d.https_port, minimum_version=v, maximum_version=v)
        F.check(False, f"{v.name} must be refused, negotiated {got}")
    except (ssl.SSLError, OSError, ValueError):
        F.check(True, f"{v.name} refused")
for flag in ("-tls1", "-tls1_1"):
    r = subprocess.run(["openssl", "s_client", flag, "-connect", f"127.0.0.1:{d.https_port}",
                        "-servername", "localhost"], input="", capture_output=True, text=True,
                       timeout=20)
    F.check(r.returncode != 0 and "BEGIN CERTIFICATE" not in r.stdout,
            f"openssl s_client {flag} gets no session")
r = subprocess.run(["openssl", "s_client", "-tls1_2", "-connect", f"127.0.0.1:{d.https_port}"],
                   input="", capture_output=True, text=True, timeout=20)
F.check("BEGIN CERTIFICATE" in r.stdout and "TLSv1.2" in r.stdout, "openssl s_client -tls1_2 works")
# Plain HTTP on the HTTPS port gets no answer that looks like success.
with socket.create_connection(("127.0.0.1", d.https_port), timeout=5) as s:
    s.sendall(b"GET /api/v1/version HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        data = s.recv(4096)
    except OSError:
        data = b""
    F.check(b"200 OK" not in data, "plain HTTP on the TLS port is not served")
# A client that connects and never finishes the handshake is cut off at the
# request deadline (3 s here), so handshakes cannot pin connections.
import time  # noqa: E402
with socket.create_connection(("127.0.0.1", d.https_port), timeout=10) as s:
    s.sendall(b"\x16\x03\x01\x00")  # the start of a ClientHello, then silence
    t0 = time.time()
    try:
        data = s.recv(4096)
    except OSError:
        data = b""
    F.check(data == b"" and time.time() - t0 < 6, f"stalled handshake closed after {time.time() - t0:.1f} s")
F.check(d.alive(), "server up after refused handshakes")
F.check(d.stop() == 0, "clean exit")

# Restart with the same state dir: the same certificate, not a new one.
with open(crt, "rb") as f:
    before = hashlib.sha256(f.read()).hexdigest()
d2 = Testd(pg, https_port=free_port(), http_mode="off", state_dir=d.dir)
der2, _ = served_cert(d2.https_port)
F.check(der2 == pem_der, "the certificate is reused after a restart")
with open(crt, "rb") as f:
    F.check(hashlib.sha256(f.read()).hexdigest() == before, "certificate file unchanged")
F.check(d2.stop() == 0, "clean exit")

# ---- configured certificate with an encrypted key ----------------------------------------
cd = tmpdir("wt-api-cert-")
ckey, ccrt = os.path.join(cd, "server.key"), os.path.join(cd, "server.crt")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", ckey, "-out", ccrt,
                "-days", "30", "-subj", "/CN=wattrack-test", "-addext",
                "subjectAltName=IP:127.0.0.1", "-passout", "pass:s3cret-pass"],
               check=True, capture_output=True)
with open(ckey) as f:
    F.check("ENCRYPTED" in f.read(), "the configured key is passphrase-protected")
d3 = Testd(pg, https_port=free_port(), http_mode="on", cert=ccrt, key=ckey,
           passphrase="s3cret-pass")
der3, _ = served_cert(d3.https_port)
with open(ccrt) as f:
    F.check(der3 == ssl.PEM_cert_to_DER_cert(f.read()), "the configured certificate is served")
c3 = d3.client(tls=True, cafile=ccrt)
c3.ctx.check_hostname = True
F.check(c3.raw("GET", "/api/v1/health")[0] == 200, "verified request with the configured certificate")
pc = d3.client()
st, hdrs, js = pc.call("POST", "/api/v1/session", {"username": "nobody", "password": "x"})
F.check(not any("Secure" in x for x in hdrs["set-cookie-all"]), "no Secure flag on plain HTTP")
F.check("s3cret-pass" not in d3.stderr(), "the passphrase is not logged")
F.check(not os.path.exists(os.path.join(d3.dir, "tls", "selfsigned.crt")),
        "no self-signed certificate when one is configured")
F.check(d3.stop() == 0, "clean exit")

# ---- bad configurations fail at start with a message naming the file ----------------------
for kw, want in [
    (dict(cert=ccrt, key=ckey, passphrase="wrong"), "server.key"),
    (dict(cert=ccrt, key=ckey), "server.key"),
    (dict(cert=os.path.join(cd, "missing.crt"), key=ckey, passphrase="s3cret-pass"), "missing.crt"),
]:
    try:
        bad = Testd(pg, https_port=free_port(), **kw)
        F.check(False, f"started with {kw}")
        bad.stop()
    except RuntimeError as e:
        F.check(want in str(e) and "s3cret-pass" not in str(e), f"start refused naming {want}: {e}")
F.done()
