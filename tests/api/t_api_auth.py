"""Authentication and authorization against a real PostgreSQL: the first
admin and its forced password change, role-by-route checks (table-driven),
missing/expired/revoked credentials, CSRF, API tokens, user administration
and the failed-login throttle."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apilib import Failures, Testd, err_code, is_error_shape, migrated_postgres  # noqa: E402

F = Failures()
pg = migrated_postgres()
d = Testd(pg, min_length=12,
          throttle={"user_free": 3, "addr_free": 12, "base_delay": 2, "max_delay": 4,
                    "window": 600})

# ---- the first administrator -------------------------------------------------
first = d.admin_password()
F.check(len(first) >= 16, "one-time password is long")
rows = pg.sql("SELECT username, password_hash, must_change, roles FROM users")
F.check(len(rows) == 1 and rows[0][0] == "admin" and rows[0][2] == "t" and rows[0][3] == "{admin}",
        f"one admin row that must change its password: {rows}")
F.check(first not in rows[0][1] and rows[0][1].startswith("$scrypt$ln="),
        "the one-time password is stored only as a salted scrypt hash")

admin = d.client()
st, _, js = admin.login("admin", first)
F.check(st == 200 and js["must_change"] is True and js["csrf_token"],
        f"first login works and says must_change: {st} {js}")
for method, path in [("GET", "/api/v1/users"), ("GET", "/api/v1/session"),
                     ("GET", "/api/v1/tokens"), ("GET", "/api/v1/roles")]:
    st, _, js = admin.call(method, path)
    F.check(st == 403 and err_code(js) == "PASSWORD_CHANGE_REQUIRED",
            f"{method} {path} refused until the password is changed: {st} {js}")
st, _, js = admin.call("POST", "/api/v1/session/password",
                       {"current_password": "not it at all", "new_password": "Admin password 2026"})
F.check(st == 403 and err_code(js) == "WRONG_PASSWORD" and "current_password" in js["error"]["message"],
        f"wrong current password: {st} {js}")
st, _, js = admin.call("POST", "/api/v1/session/password",
                       {"current_password": first, "new_password": "short"})
F.check(st == 400 and err_code(js) == "WEAK_PASSWORD" and "at least 12" in js["error"]["message"],
        f"policy minimum length: {st} {js}")
ADMIN_PW = "Admin password 2026"
st, _, js = admin.call("POST", "/api/v1/session/password",
                       {"current_password": first, "new_password": ADMIN_PW})
F.check(st == 204, f"password changed: {st} {js}")
st, _, js = admin.call("GET", "/api/v1/users")
F.check(st == 200 and len(js["users"]) == 1 and js["users"][0]["must_change"] is False,
        f"after the change the admin works: {st} {js}")
st, _, js = d.client().login("admin", first)
F.check(st == 401 and err_code(js) == "INVALID_CREDENTIALS", f"one-time password is dead: {st} {js}")

# ---- users of every role -------------------------------------------------------
ROLES = ["admin", "readwrite", "power", "poweron", "poweroff", "readonly"]
ids = {}
for role in ROLES:
    st, _, js = admin.call("POST", "/api/v1/users",
                           {"username": f"u-{role}", "password": f"{role} password 1",
                            "roles": [role], "must_change": False, "full_name": f"The {role}"})
    F.check(st == 201 and js["roles"] == [role] and "password" not in js
            and "password_hash" not in js and f"{role} password 1" not in str(js),
            f"create u-{role}: {st} {js}")
    ids[role] = js.get("id") if isinstance(js, dict) else None
st, _, js = admin.call("POST", "/api/v1/users",
                       {"username": "u-readonly", "password": "whatever pass 1", "roles": []})
F.check(st == 409 and err_code(js) == "USER_EXISTS", f"duplicate user: {st} {js}")
st, _, js = admin.call("POST", "/api/v1/users",
                       {"username": "U-READONLY", "password": "whatever pass 1", "roles": []})
F.check(st == 409, f"usernames are case-insensitive: {st} {js}")
st, _, js = admin.call("POST", "/api/v1/users",
                       {"username": "x1", "password": "whatever pass 1", "roles": ["root"]})
F.check(st == 400 and 'field "roles": unknown role "root"' in js["error"]["message"],
        f"unknown role named: {st} {js}")
st, _, js = admin.call("POST", "/api/v1/users",
                       {"username": "bad name!", "password": "whatever pass 1", "roles": []})
F.check(st == 400 and 'field "username"' in js["error"]["message"], f"bad username: {st} {js}")
st, _, js = admin.call("GET", "/api/v1/users/999999")
F.check(st == 404 and err_code(js) == "USER_NOT_FOUND" and "999999" in js["error"]["message"],
        f"unknown user id: {st} {js}")
st, _, js = admin.call("PATCH", "/api/v1/users/999999", {"full_name": "x"})
F.check(st == 404 and err_code(js) == "USER_NOT_FOUND", f"patch unknown user: {st} {js}")
st, _, js = admin.call("DELETE", "/api/v1/tokens/999999")
F.check(st == 404 and err_code(js) == "TOKEN_NOT_FOUND", f"unknown token: {st} {js}")

# ---- table-driven role checks ----------------------------------------------------
# The policy, written out here independently of api/roles.c.
PERMS = {
    "admin": {"auth", "read", "users"},
    "readwrite": {"auth", "read"},
    "power": {"auth", "read"},
    "poweron": {"auth", "read"},
    "poweroff": {"auth", "read"},
    "readonly": {"auth", "read"},
}
n = [0]


def victim():
    """A throwaway user for write routes, made by the admin."""
    n[0] += 1
    st, _, js = admin.call("POST", "/api/v1/users", {"username": f"victim{n[0]}",
                                                     "password": "victim password 1",
                                                     "roles": ["readonly"]})
    return js["id"]


def own_token(c):
    st, _, js = c.call("POST", "/api/v1/tokens", {"name": "tmp"})
    return js["id"]


CASES = [  # method, path (callable for fresh ids), body, permission
    ("GET", lambda c: "/api/v1/roles", None, "read"),
    ("GET", lambda c: "/api/v1/session", None, "auth"),
    ("GET", lambda c: "/api/v1/tokens", None, "auth"),
    ("POST", lambda c: "/api/v1/tokens", {"name": "t"}, "auth"),
    ("DELETE", lambda c: f"/api/v1/tokens/{own_token(c)}", None, "auth"),
    ("GET", lambda c: "/api/v1/users", None, "users"),
    ("GET", lambda c: f"/api/v1/users/{ids['readonly']}", None, "users"),
    ("POST", lambda c: "/api/v1/users",
     {"username": f"new{time.time_ns()}", "password": "new user pass 1", "roles": ["readonly"]},
     "users"),
    ("PATCH", lambda c: f"/api/v1/users/{victim()}", {"full_name": "changed"}, "users"),
    ("DELETE", lambda c: f"/api/v1/users/{victim()}", None, "users"),
]
for role in ROLES:
    c = d.client()
    st, _, js = c.login(f"u-{role}", f"{role} password 1")
    F.check(st == 200 and js["user"]["roles"] == [role], f"login u-{role}: {st} {js}")
    for method, path, body, perm in CASES:
        p = path(c)
        st, _, js = c.call(method, p, body)
        if perm in PERMS[role]:
            F.check(200 <= st < 300, f"{role}: {method} {p} should be allowed, got {st} {js}")
        else:
            F.check(st == 403 and err_code(js) == "FORBIDDEN" and perm in js["error"]["message"],
                    f"{role}: {method} {p} should be 403 naming '{perm}', got {st} {js}")
    st, _, js = c.call("GET", "/api/v1/session")
    F.check(st == 200 and js["roles"] == [role] and js["via"] == "session",
            f"whoami for {role}: {st} {js}")

# ---- missing, bad, expired credentials --------------------------------------------
anon = d.client()
for method, path, body, perm in CASES:
    p = path(admin)
    st, hdrs, js = anon.call(method, p, body)
    F.check(st == 401 and err_code(js) == "AUTH_REQUIRED" and "www-authenticate" in hdrs,
            f"no credentials: {method} {p} -> {st} {js}")
st, _, js = anon.raw("GET", "/api/v1/users", headers={"Cookie": "wt_session=forged"})
F.check(st == 401 and err_code(js) == "SESSION_EXPIRED", f"forged cookie: {st} {js}")
st, _, js = anon.raw("GET", "/api/v1/users", headers={"Authorization": "Bearer wt_forged"})
F.check(st == 401 and err_code(js) == "INVALID_TOKEN", f"forged token: {st} {js}")
st, _, js = anon.raw("GET", "/api/v1/users", headers={"Authorization": "Basic YWRtaW46eA=="})
F.check(st == 401 and err_code(js) == "AUTH_REQUIRED", f"basic auth refused: {st} {js}")

# A second server on the same database with a 3 s idle timeout.
short = Testd(pg, session_idle=3)
idle = short.client()
idle.login("u-readonly", "readonly password 1")
F.check(idle.call("GET", "/api/v1/session")[0] == 200, "fresh session works")
time.sleep(1.5)
F.check(idle.call("GET", "/api/v1/session")[0] == 200, "activity keeps the session alive")
time.sleep(2.0)
F.check(idle.call("GET", "/api/v1/session")[0] == 200, "still alive 3.5 s after login")
time.sleep(4.2)
st, hdrs, js = idle.call("GET", "/api/v1/session")
F.check(st == 401 and err_code(js) == "SESSION_EXPIRED", f"idle session expired: {st} {js}")
F.check(short.stop() == 0, "clean exit")

# ---- CSRF --------------------------------------------------------------------------------
c = d.client()
c.login("u-readwrite", "readwrite password 1")
st, _, js = c.call("POST", "/api/v1/tokens", {"name": "no csrf"}, csrf=False)
F.check(st == 403 and err_code(js) == "CSRF_TOKEN_INVALID", f"cookie write without CSRF: {st} {js}")
st, _, js = c.call("POST", "/api/v1/tokens", {"name": "bad csrf"}, csrf=False,
                   headers={"X-CSRF-Token": "x" * 43})
F.check(st == 403 and err_code(js) == "CSRF_TOKEN_INVALID", f"wrong CSRF token: {st} {js}")
st, _, js = c.call("DELETE", "/api/v1/session", csrf=False)
F.check(st == 403 and err_code(js) == "CSRF_TOKEN_INVALID", f"logout needs CSRF too: {st} {js}")
st, _, js = c.call("POST", "/api/v1/tokens", {"name": "with csrf"})
F.check(st == 201, f"with the CSRF token: {st} {js}")
st, _, js = c.call("GET", "/api/v1/tokens", csrf=False)
F.check(st == 200, f"reads need no CSRF token: {st}")

# ---- API tokens ----------------------------------------------------------------------------
st, _, js = admin.call("POST", "/api/v1/tokens", {"name": "ro script", "roles": ["readonly"],
                                                  "expires_days": 30})
F.check(st == 201 and js["token"].startswith("wt_") and js["roles"] == ["readonly"]
        and js["expires_at"], f"narrow token: {st} {js}")
tok, tok_id = js["token"], js["id"]
stored = pg.sql("SELECT encode(token_hash, 'hex'), prefix FROM api_tokens WHERE id = %d" % tok_id)
F.check(stored and tok not in stored[0][0] and stored[0][1] == tok[:10],
        "the token is stored hashed, with a short prefix")
t = d.client()
t.token = tok
st, _, js = t.call("GET", "/api/v1/roles")
F.check(st == 200, f"token reads: {st} {js}")
st, _, js = t.call("GET", "/api/v1/users")
F.check(st == 403 and err_code(js) == "FORBIDDEN", f"token narrower than its admin owner: {st} {js}")
st, _, js = t.call("GET", "/api/v1/session")
F.check(st == 200 and js["via"] == "token" and js["roles"] == ["readonly"] and js["user"]["username"] == "admin",
        f"whoami via token: {st} {js}")
st, _, js = t.call("POST", "/api/v1/tokens", {"name": "from a token"})
F.check(st == 403 and err_code(js) == "SESSION_REQUIRED", f"tokens cannot mint tokens: {st} {js}")
st, _, js = t.call("DELETE", "/api/v1/session")
F.check(st == 400 and err_code(js) == "NOT_A_SESSION", f"token logout: {st} {js}")
ro = d.client()
ro.login("u-readonly", "readonly password 1")
st, _, js = ro.call("POST", "/api/v1/tokens", {"name": "grab", "roles": ["admin"]})
F.check(st == 403 and err_code(js) == "ROLE_NOT_HELD" and "admin" in js["error"]["message"],
        f"no token with roles the user lacks: {st} {js}")
st, _, js = ro.call("POST", "/api/v1/tokens", {"name": "x", "expires_days": 0})
F.check(st == 400 and "expires_days" in js["error"]["message"], f"expiry range: {st} {js}")
st, _, js = ro.call("DELETE", f"/api/v1/tokens/{tok_id}")
F.check(st == 404, f"cannot revoke someone else's token: {st} {js}")
st, _, js = ro.call("GET", "/api/v1/tokens?all=1")
F.check(st == 403, f"listing all tokens needs users permission: {st}")
st, _, js = admin.call("GET", "/api/v1/tokens?all=1")
F.check(st == 200 and any(x["username"] == "u-readwrite" for x in js["tokens"]),
        f"admin lists everyone's tokens: {st}")
st, _, js = admin.call("DELETE", f"/api/v1/tokens/{tok_id}")
F.check(st == 204, f"revoke: {st} {js}")
st, _, js = t.call("GET", "/api/v1/roles")
F.check(st == 401 and err_code(js) == "INVALID_TOKEN", f"revoked token is dead: {st} {js}")
# Taking a role from the owner takes it from the owner's tokens.
pw_c = d.client()
pw_c.login("u-power", "power password 1")
st, _, js = pw_c.call("POST", "/api/v1/tokens", {"name": "power script"})
pt = d.client()
pt.token = js["token"]
F.check(pt.call("GET", "/api/v1/roles")[0] == 200, "power token reads")
admin.call("PATCH", f"/api/v1/users/{ids['power']}", {"roles": []})
st, _, js = pt.call("GET", "/api/v1/roles")
F.check(st == 403, f"token lost the role its owner lost: {st} {js}")

# ---- user administration ------------------------------------------------------------------
st, _, js = admin.call("PATCH", "/api/v1/users/1", {"roles": ["readonly"]})
F.check(st == 200, f"demoting admin 1 works while u-admin remains: {st} {js}")
admin2 = d.client()
admin2.login("u-admin", "admin password 1")
st, _, js = admin2.call("PATCH", f"/api/v1/users/{ids['admin']}", {"roles": ["readonly"]})
F.check(st == 409 and err_code(js) == "LAST_ADMIN", f"last admin cannot be demoted: {st} {js}")
st, _, js = admin2.call("DELETE", f"/api/v1/users/{ids['admin']}")
F.check(st == 409 and err_code(js) == "LAST_ADMIN", f"last admin cannot be deleted: {st} {js}")
st, _, js = admin2.call("PATCH", f"/api/v1/users/{ids['admin']}", {"disabled": True})
F.check(st == 409 and err_code(js) == "LAST_ADMIN", f"last admin cannot be disabled: {st} {js}")
victim_c = d.client()
victim_c.login("u-poweroff", "poweroff password 1")
F.check(victim_c.call("GET", "/api/v1/session")[0] == 200, "victim logged in")
st, _, js = admin2.call("PATCH", f"/api/v1/users/{ids['poweroff']}", {"disabled": True})
F.check(st == 200 and js["disabled"] is True, f"disable: {st} {js}")
st, _, js = victim_c.call("GET", "/api/v1/session")
F.check(st == 401, f"disabling ends the user's sessions: {st} {js}")
st, _, js = d.client().login("u-poweroff", "poweroff password 1")
F.check(st == 403 and err_code(js) == "ACCOUNT_DISABLED", f"disabled user cannot log in: {st} {js}")
st, _, js = admin2.call("PATCH", f"/api/v1/users/{ids['poweron']}", {"password": "reset by admin 1"})
F.check(st == 200 and js["must_change"] is True, f"admin reset forces a change: {st} {js}")
st, _, js = d.client().login("u-poweron", "reset by admin 1")
F.check(st == 200 and js["must_change"] is True, f"login with the reset password: {st} {js}")

# ---- logout -----------------------------------------------------------------------------------
lo = d.client()
lo.login("u-readwrite", "readwrite password 1")
old_cookie = lo.cookie
st, hdrs, js = lo.call("DELETE", "/api/v1/session")
F.check(st == 204 and any("Max-Age=0" in x for x in hdrs["set-cookie-all"]), f"logout: {st} {hdrs}")
st, _, js = lo.raw("GET", "/api/v1/session", headers={"Cookie": "wt_session=" + old_cookie})
F.check(st == 401, f"the old cookie is dead after logout: {st} {js}")

# ---- throttling -------------------------------------------------------------------------------
# user_free=3: the 4th failure locks the account for 2 s, the next for 4 s.
th = d.client()
codes = [th.login("u-readwrite", f"wrong {i}")[0] for i in range(4)]
F.check(codes == [401, 401, 401, 401], f"four wrong passwords: {codes}")
st, hdrs, js = th.login("u-readwrite", "readwrite password 1")
F.check(st == 429 and err_code(js) == "TOO_MANY_ATTEMPTS" and int(hdrs.get("retry-after", 0)) >= 1,
        f"locked even with the right password: {st} {hdrs.get('retry-after')} {js}")
st, _, js = th.login("U-READWRITE", "readwrite password 1")
F.check(st == 429, f"the lock ignores the username's case: {st}")
other = d.client().login("u-readonly", "readonly password 1")
F.check(other[0] == 200, f"other accounts are not locked: {other[0]}")
time.sleep(int(hdrs.get("retry-after", 2)) + 0.5)
st, _, js = th.login("u-readwrite", "readwrite password 1")
F.check(st == 200, f"after the delay the right password works: {st} {js}")
lock_rows = pg.sql("SELECT count(*) FROM login_throttle WHERE key = 'user:u-readwrite'")
F.check(lock_rows == [["0"]], f"a good login clears the account counter: {lock_rows}")
time.sleep(0.5)
F.check(any(x.startswith("AUDIT login_failed u-readwrite") for x in d.lines) and
        any(x.startswith("AUDIT login_throttled u-readwrite") for x in d.lines),
        "failed and throttled logins reach the audit hook")
F.check("wrong 0" not in d.stderr() and "readwrite password 1" not in d.stderr(),
        "passwords never reach the log")
# Per address: addr_free=12 failures from one address lock every account from it.
# (Earlier failures from this address count too.)
for i in range(12):
    st, _, js = d.client().login(f"nobody{i}", "whatever")
    if st == 429:
        break
st, _, js = d.client().login("u-readonly", "readonly password 1")
F.check(st == 429 and err_code(js) == "TOO_MANY_ATTEMPTS",
        f"the address is locked after many failures on many accounts: {st} {js}")

F.check(d.alive(), "server still up")
F.check(d.stop() == 0, "clean exit on SIGTERM (no leaks under ASan)")

# ---- a raised scrypt cost re-hashes at the next good login ---------------------------------
pg.sql("DELETE FROM login_throttle")
F.check(pg.sql("SELECT password_hash FROM users WHERE username = 'u-readonly'")[0][0]
        .startswith("$scrypt$ln=10,"), "hash made at cost 2^10")
d2 = Testd(pg, scrypt_log2n=11, auth_cache_ms=1500)
st, _, js = d2.client().login("u-readonly", "readonly password 1")
F.check(st == 200, f"login after the cost change: {st} {js}")
F.check(pg.sql("SELECT password_hash FROM users WHERE username = 'u-readonly'")[0][0]
        .startswith("$scrypt$ln=11,"), "re-hashed at cost 2^11")
st, _, js = d2.client().login("u-readonly", "readonly password 1")
F.check(st == 200, f"the new hash verifies: {st} {js}")

# ---- the credential cache (1.5 s here) ------------------------------------------------------
# Through the API, logout and revocation apply to the very next request.
c = d2.client()
c.login("u-readonly", "readonly password 1")
F.check(c.call("GET", "/api/v1/session")[0] == 200, "session read (now cached)")
F.check(c.call("GET", "/api/v1/roles")[0] == 200, "session read from the cache")
old_cookie = c.cookie
st, _, js = c.call("DELETE", "/api/v1/session")
F.check(st == 204, f"logout: {st} {js}")
st, _, js = c.raw("GET", "/api/v1/session", headers={"Cookie": "wt_session=" + old_cookie})
F.check(st == 401 and err_code(js) == "SESSION_EXPIRED", f"a cached session ends at logout: {st} {js}")
c = d2.client()
c.login("u-readonly", "readonly password 1")
st, _, js = c.call("POST", "/api/v1/tokens", {"name": "cache probe"})
tc = d2.client()
tc.token = js["token"]
F.check(tc.call("GET", "/api/v1/roles")[0] == 200 and tc.call("GET", "/api/v1/roles")[0] == 200,
        "token reads (cached)")
st, _, js = c.call("DELETE", f"/api/v1/tokens/{js['id']}")
F.check(st == 204 and tc.call("GET", "/api/v1/roles")[0] == 401,
        f"a cached token dies at revocation through the API: {st}")
# Behind the API's back (another instance, psql): trusted for at most the TTL.
F.check(c.call("GET", "/api/v1/session")[0] == 200, "session cached again")
pg.sql("DELETE FROM sessions")
st, _, _ = c.call("GET", "/api/v1/session")
F.check(st == 200, f"a session deleted in SQL is still served from the cache at once: {st}")
time.sleep(1.7)
st, _, js = c.call("GET", "/api/v1/session")
F.check(st == 401 and err_code(js) == "SESSION_EXPIRED",
        f"and refused once the cache entry expired: {st} {js}")
F.check(d2.stop() == 0, "clean exit")
F.done()
