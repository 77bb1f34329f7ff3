#!/bin/sh
# First start: create the cluster with the password from POSTGRES_PASSWORD and
# the `outpost` database. Every start: serve with settings chosen for Outpost.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
  pw=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pw"
  initdb -D "$PGDATA" -U postgres --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pw"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "CREATE DATABASE outpost" | postgres --single -D "$PGDATA" postgres >/dev/null
fi
# fsync and synchronous_commit stay on (an acknowledged sale survives a power
# cut); a session idle inside a transaction would hold back the outbox relay.
exec postgres -D "$PGDATA" -c listen_addresses='*' \
  -c idle_in_transaction_session_timeout=60000
