#!/usr/bin/env bash
# cargo deny over the workspace (deny.toml): licenses, bans and sources always; advisories against the RustSec
# advisory-db snapshot in ../shared (or $CERTUS_SHARED_DIR) when it is present, never fetched from the network.
# Exits non-zero when any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

deny=$(scripts/install-cargo-deny.sh)

echo "== cargo deny: licenses, bans, sources"
"$deny" --color never --locked check licenses bans sources

shared=${CERTUS_SHARED_DIR:-../shared}
snapshot="$shared/data/rustsec-advisory-db"
if [ ! -d "$shared" ]; then
  echo "cargo deny advisories: skipped: ../shared absent"
  exit 0
fi
if [ ! -d "$snapshot/crates" ]; then
  echo "deny.sh: $snapshot holds no crates/ advisories" >&2
  exit 1
fi

# cargo-deny reads a database only from a git checkout under its db-path, in a directory named after the default
# database's URL (for cargo-deny 0.20: "advisory-db-" and the XXH64 of that URL). The snapshot is a plain
# directory, read-only: a throw-away git copy of it is made, and a copy of deny.toml points db-path at it.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$work/db/advisory-db-3157b0e258782691"
mkdir -p "$db"
cp -R "$snapshot/." "$db/"
chmod -R u+w "$db"
git -C "$db" init -q
git -C "$db" add -A
git -C "$db" -c user.name=deny.sh -c user.email=deny.sh@localhost -c commit.gpgsign=false \
  commit -q -m "RustSec advisory-db snapshot"
sed "s|^\[advisories\]\$|[advisories]\ndb-path = \"$work/db\"|" deny.toml >"$work/deny.toml"

snapshot_of=$(tr '\n' ' ' <"$snapshot/SOURCE.md" | grep -Eo 'commit [0-9a-f]+, [0-9-]+' || echo "undated")
echo "== cargo deny: advisories (RustSec snapshot, $snapshot_of; offline)"
"$deny" --color never --frozen --config "$work/deny.toml" check advisories
