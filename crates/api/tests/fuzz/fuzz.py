"""Schemathesis over every operation of the edge api's OpenAPI document.

Run by tests/fuzz.rs, which starts the api on a fresh SQLite database and
passes, as JSON on stdin: the base URL, the database file, and the callers
to fuzz as (a manager on the server's screen; a cashier at a paired
register with a shift open). For every operation, for each caller, it sends
cases generated from the schema, valid ones and deliberately invalid ones,
and checks two things of every answer:

- no 5xx, ever;
- a refused request (4xx) wrote nothing: every table has as many rows
  after it as before. The only writes a refusal makes by design are a
  wrong PIN's count (pin_attempts) and, when it locks someone out, its
  audit entry (audit_log and its outbox event).

It prints one JSON line: what was tried and every finding.
"""

import json
import sqlite3
import sys
import time

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.openapi import from_dict

# Not fuzzed: signing our own callers out ends the run's sessions; the
# rest of each operation's cases would only be 401s.
SKIP = {("DELETE", "/api/v1/sessions/current")}
# What a refused sign-in or approval writes on purpose: the try is counted
# before the PIN is checked; a lockout is audited.
PIN_TABLES = {"pin_attempts", "audit_log", "outbox"}
VERSION = "(a commit: SQLite's data_version)"


def tables(db):
    return [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%'"
        )
    ]


def counts(db, names):
    """Every table's row count, and SQLite's data_version, which moves
    when another connection commits anything (an UPDATE too)."""
    c = {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in names}
    c[VERSION] = db.execute("PRAGMA data_version").fetchone()[0]
    return c


def settled(db, names):
    """Row counts once the server's own after-commit work (the relay,
    printing) has stopped changing them."""
    last = counts(db, names)
    for _ in range(50):
        time.sleep(0.01)
        now = counts(db, names)
        if now == last:
            return now
        last = now
    return last


def main():
    cfg = json.load(sys.stdin)
    base = cfg["base"]
    doc = json.loads(open(cfg["openapi"]).read())
    schema = from_dict(doc)
    db = sqlite3.connect(f"file:{cfg['db']}?mode=ro", uri=True, timeout=10)
    names = tables(db)
    findings = []
    tried = {"operations": 0, "requests": 0, "refused": 0, "by_status": {},
             "no_invalid_input": 0}
    last_ok = [True]

    def run(op, caller, mode):
        headers = caller["headers"]

        @settings(
            max_examples=cfg["examples"],
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=mode))
        def one(case):
            # After a request that went through, wait for what the server
            # does after its commit (the relay, printing); else count now.
            before = settled(db, names) if last_ok[0] else counts(db, names)
            # Our callers' headers win over generated ones of the same name.
            sent = {**(case.headers or {}), **headers}
            r = case.call(base_url=base, headers=sent, timeout=30)
            tried["requests"] += 1
            s = str(r.status_code)
            tried["by_status"][s] = tried["by_status"].get(s, 0) + 1
            last_ok[0] = r.status_code < 400
            what = f"{caller['name']} {op.method.upper()} {case.formatted_path}"
            if r.status_code >= 500:
                findings.append(
                    {"kind": "5xx", "case": what, "status": r.status_code,
                     "query": case.query, "body": repr(case.body)[:300],
                     "answer": r.text[:300]}
                )
            elif 400 <= r.status_code < 500:
                tried["refused"] += 1
                after = counts(db, names)
                if after != before:
                    after = settled(db, names)
                pin_counted = r.status_code in (401, 429) and any(
                    after[t] != before[t] for t in PIN_TABLES
                )
                grew = {
                    t: after[t] - before[t]
                    for t in [*names, VERSION]
                    if after[t] != before[t]
                    and not (pin_counted and (t in PIN_TABLES or t == VERSION))
                }
                if list(grew) == [VERSION]:
                    # A commit and no row more or less: the server's own
                    # background work (rare) or an UPDATE by this request.
                    # Sent again once it is quiet: only a request that
                    # commits again is a finding.
                    before = settled(db, names)
                    case.call(base_url=base, headers=sent, timeout=30)
                    after = counts(db, names)
                    if after[VERSION] == before[VERSION]:
                        grew = {}
                if grew:
                    findings.append(
                        {"kind": "wrote on refusal", "case": what,
                         "status": r.status_code, "tables": grew,
                         "body": repr(case.body)[:300], "answer": r.text[:300]}
                    )

        one()

    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in SKIP:
            continue
        tried["operations"] += 1
        for caller in cfg["callers"]:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    run(op, caller, mode)
                except Unsatisfiable:
                    # Nothing to send that breaks the schema (no parameters,
                    # no body): the valid cases covered it.
                    tried["no_invalid_input"] += 1
                except Exception as e:  # a case schemathesis could not build
                    findings.append(
                        {"kind": "could not fuzz", "case": f"{caller['name']} {op.method.upper()} {op.path} ({mode.value})",
                         "error": f"{type(e).__name__}: {e}"[:300]}
                    )
    print(json.dumps({"tried": tried, "findings": findings}))


if __name__ == "__main__":
    main()
