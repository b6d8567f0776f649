"""LDAP / Active Directory login against a real slapd: bind-DN template and
search-with-service-account modes, groupOfNames/member and
posixGroup/memberUid group mapping to roles, wrong passwords, filter and DN
injection attempts as the username, StartTLS and ldaps with a CA setting,
and the directory down (local accounts still log in)."""

import os
import pwd
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apilib import (Failures, Testd, err_code, free_port, migrated_postgres, spawn,  # noqa: E402
                    stop_pid, tmpdir, wait_tcp)

F = Failures()
BASE = "dc=example,dc=com"
SVC_PW = "svc-secret-XYZ"
PW = {"alice": "alice-pass-1", "bob": "bob-pass-2", "carol": "carol-pass-3", "dave": "dave-pass-4"}


class Slapd:
    def __init__(self):
        self.dir = tmpdir("wt-slapd-")
        self.db = os.path.join(self.dir, "db")
        os.makedirs(self.db)
        self.crt, self.key = os.path.join(self.dir, "ldap.crt"), os.path.join(self.dir, "ldap.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        self.key, "-out", self.crt, "-days", "30", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        self.conf = os.path.join(self.dir, "slapd.conf")
        schemas = "\n".join(f"include /etc/ldap/schema/{s}.schema"
                            for s in ("core", "cosine", "inetorgperson", "nis"))
        with open(self.conf, "w") as f:
            f.write(f"""{schemas}
pidfile {self.dir}/slapd.pid
argsfile {self.dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile {self.crt}
TLSCertificateKeyFile {self.key}
database mdb
maxsize 10485760
suffix "{BASE}"
rootdn "cn=admin,{BASE}"
rootpw {SVC_PW}
directory {self.db}
access to attrs=userPassword by anonymous auth by self read by * none
access to * by * read
""")
        people = "".join(f"""
dn: uid={u},ou=people,{BASE}
objectClass: inetOrgPerson
uid: {u}
cn: {u.title()} Example
sn: Example
mail: {u}@example.com
userPassword: {p}
""" for u, p in PW.items())
        ldif = f"""dn: {BASE}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,{BASE}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{BASE}
objectClass: organizationalUnit
ou: groups
{people}
dn: cn=wt-admins,ou=groups,{BASE}
objectClass: groupOfNames
cn: wt-admins
member: uid=alice,ou=people,{BASE}

dn: cn=wt-ops,ou=groups,{BASE}
objectClass: groupOfNames
cn: wt-ops
member: uid=bob,ou=people,{BASE}
member: uid=alice,ou=people,{BASE}

dn: cn=power,ou=groups,{BASE}
objectClass: posixGroup
cn: power
gidNumber: 5000
memberUid: carol
"""
        subprocess.run(["slapadd", "-f", self.conf], input=ldif, text=True, check=True,
                       capture_output=True)
        pw = pwd.getpwnam("openldap")
        for root, dirs, files in os.walk(self.dir):
            for x in dirs + files:
                os.chown(os.path.join(root, x), pw.pw_uid, pw.pw_gid)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.key, 0o600)
        self.port, self.tls_port = free_port(), free_port()
        self.proc = None
        self.start()

    def start(self):
        self.proc = spawn(["slapd", "-f", self.conf, "-h",
                           f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.tls_port}/",
                           "-u", "openldap", "-g", "openldap", "-d", "0"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_tcp(self.port)
        wait_tcp(self.tls_port)

    def stop(self):
        stop_pid(self.proc)


slapd = Slapd()
pg = migrated_postgres()
GROUPS = {"group_base": f"ou=groups,{BASE}"}

# ---- template bind, groupOfNames/member --------------------------------------------------
a = Testd(pg, ldap=dict(url=f"ldap://127.0.0.1:{slapd.port}",
                        bind_dn_template=f"uid={{0}},ou=people,{BASE}",
                        group_class="groupOfNames", member_attr="member",
                        group_roles=f"admin:cn=wt-admins,ou=groups,{BASE};readonly:wt-ops", **GROUPS))
local_pw = a.admin_password()


def login(d, user, pw):
    c = d.client()
    return c, *c.login(user, pw)


c, st, _, js = login(a, "alice", PW["alice"])
F.check(st == 200 and js["user"]["source"] == "ldap" and js["user"]["roles"] == ["admin", "readonly"]
        and js["user"]["email"] == "alice@example.com" and js["user"]["full_name"] == "Alice Example",
        f"template bind: alice maps to admin+readonly: {st} {js}")
st, _, js = c.call("GET", "/api/v1/users")
F.check(st == 200 and any(u["username"] == "alice" and u["source"] == "ldap" for u in js["users"]),
        f"alice may administer users, and is listed as a directory account: {st}")
st, _, js = c.call("POST", "/api/v1/session/password",
                   {"current_password": PW["alice"], "new_password": "new password 12345"})
F.check(st == 409 and err_code(js) == "DIRECTORY_ACCOUNT", f"no local password change: {st} {js}")
c, st, _, js = login(a, "bob", PW["bob"])
F.check(st == 200 and js["user"]["roles"] == ["readonly"], f"bob maps to readonly by cn: {st} {js}")
st, _, js = c.call("GET", "/api/v1/users")
F.check(st == 403, f"bob may not administer users: {st}")
c, st, _, js = login(a, "carol", PW["carol"])
F.check(st == 403 and err_code(js) == "NO_ROLE", f"carol is in no mapped group: {st} {js}")
for user, pw, why in [("alice", "wrong", "wrong password"), ("alice", "", "empty password"),
                      ("nobody", "x", "unknown user"), ("*", PW["alice"], "wildcard user"),
                      (f"alice,ou=people,{BASE}", PW["alice"], "DN injection"),
                      ("alice)(uid=*", PW["alice"], "filter characters")]:
    _, st, _, js = login(a, user, pw)
    F.check(st == 401 and err_code(js) == "INVALID_CREDENTIALS", f"template: {why}: {st} {js}")

# ---- search bind with a service account, posixGroup/memberUid ---------------------------
b = Testd(pg, ldap=dict(url=f"ldap://127.0.0.1:{slapd.port}", bind_dn=f"cn=admin,{BASE}",
                        bind_password=SVC_PW, search_base=f"ou=people,{BASE}",
                        user_class="inetOrgPerson", user_attr="uid", group_class="posixGroup",
                        member_attr="memberUid", group_roles="power:power",
                        default_role="readonly", **GROUPS))
_, st, _, js = login(b, "carol", PW["carol"])
F.check(st == 200 and js["user"]["roles"] == ["power"], f"search bind: carol maps to power: {st} {js}")
_, st, _, js = login(b, "dave", PW["dave"])
F.check(st == 200 and js["user"]["roles"] == ["readonly"], f"dave gets the default role: {st} {js}")
_, st, _, js = login(b, "alice", PW["alice"])
F.check(st == 200 and js["user"]["roles"] == ["readonly"],
        f"roles follow the directory at each login (alice now readonly): {st} {js}")
# Injection: unescaped, "ali*" or "*)(uid=alice" would find exactly alice and
# her password would let an unknown name in.
for user, why in [("ali*", "wildcard"), ("*)(uid=alice", "filter injection"),
                  ("*)(|(uid=*", "filter injection, or"), ("alice\\", "backslash"),
                  ("*", "bare wildcard")]:
    _, st, _, js = login(b, user, PW["alice"])
    F.check(st == 401 and err_code(js) == "INVALID_CREDENTIALS", f"search: {why} {user!r}: {st} {js}")
_, st, _, js = login(b, "carol", PW["alice"])
F.check(st == 401, f"search: someone else's password: {st} {js}")
F.check(SVC_PW not in b.stderr() and all(p not in b.stderr() + a.stderr() for p in PW.values()),
        "neither the service password nor user passwords are logged")
F.check(pg.sql("SELECT count(*) FROM users WHERE password_hash IS NOT NULL AND source = 'ldap'")
        == [["0"]], "no password hash is kept for directory accounts")

# ---- StartTLS and ldaps with a CA setting ----------------------------------------------
for name, ldap in [("StartTLS", dict(url=f"ldap://127.0.0.1:{slapd.port}", starttls=True)),
                   ("ldaps", dict(url=f"ldaps://127.0.0.1:{slapd.tls_port}"))]:
    good = Testd(pg, ldap=dict(ldap, ca_file=slapd.crt, bind_dn_template=f"uid={{0}},ou=people,{BASE}",
                               default_role="readonly"))
    _, st, _, js = login(good, "bob", PW["bob"])
    F.check(st == 200, f"{name} with the right CA: {st} {js}")
    F.check(good.stop() == 0, f"{name}: clean exit")
    other_ca = os.path.join(tmpdir(), "other.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    other_ca + ".key", "-out", other_ca, "-days", "30", "-subj", "/CN=other"],
                   check=True, capture_output=True)
    bad = Testd(pg, ldap=dict(ldap, ca_file=other_ca, bind_dn_template=f"uid={{0}},ou=people,{BASE}",
                              default_role="readonly"))
    _, st, _, js = login(bad, "bob", PW["bob"])
    F.check(st == 503 and err_code(js) == "LDAP_UNAVAILABLE",
            f"{name} with an untrusted certificate is refused: {st} {js}")
    F.check(bad.stop() == 0, f"{name}: clean exit")

# ---- the directory goes away ---------------------------------------------------------------
slapd.stop()
t0 = time.time()
_, st, _, js = login(a, "alice", PW["alice"])
F.check(st == 503 and err_code(js) == "LDAP_UNAVAILABLE" and "local accounts still work" in js["error"]["message"],
        f"directory down: clear error: {st} {js}")
F.check(time.time() - t0 < 10, "and quickly")
_, st, _, js = login(a, "admin", local_pw)
F.check(st == 200 and js["user"]["source"] == "local", f"local login still works: {st} {js}")
for d in (a, b):
    F.check(d.alive(), "server up")
    F.check(d.stop() == 0, "clean exit")
F.done()
