#!/usr/bin/env bash
# Runs the two public SCIM conformance suites (../shared/conformance/) against
# keyward's SCIM service, each on its own fresh, empty store, and prints their
# results. Skips with a message when the suites' folder is absent.
#
#   CONFORMANCE_DIR  where the suites are (default: ../shared/conformance)
#   NEWMAN_VERSION   newman from npm (default: 6.2.2)
set -uo pipefail
cd "$(dirname "$0")/.."
DIR=${CONFORMANCE_DIR:-../shared/conformance}
NEWMAN=${NEWMAN_VERSION:-6.2.2}
if [ ! -d "$DIR" ]; then
  echo "conformance: $DIR is absent; skipping the SCIM conformance suites"
  exit 0
fi
if ! command -v node >/dev/null; then
  echo "conformance: node is not installed; skipping the SCIM conformance suites"
  exit 0
fi
BIN=$(mktemp -d)
trap 'rm -rf "$BIN"; [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null' EXIT
go build -o "$BIN/scimdev" ./scim/internal/devserver || exit 1

# start PROFILE: a fresh keyward SCIM service on a free loopback port; sets URL,
# TOKEN, PORT and PID.
start() {
  "$BIN/scimdev" -addr 127.0.0.1:0 -profile "$1" >"$BIN/out" 2>"$BIN/err" &
  PID=$!
  for _ in $(seq 50); do
    grep -q SCIM_TOKEN "$BIN/out" 2>/dev/null && break
    sleep 0.1
  done
  URL=$(sed -n 's/^SCIM_URL=//p' "$BIN/out")
  TOKEN=$(sed -n 's/^SCIM_TOKEN=//p' "$BIN/out")
  PORT=$(echo "$URL" | sed -E 's#http://127.0.0.1:([0-9]+)/.*#\1#')
  [ -n "$TOKEN" ] || { echo "conformance: keyward did not start"; cat "$BIN/err"; exit 1; }
}
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }

status=0
echo "== Okta SCIM 2.0 spec test (Runscope export) =="
start okta
node "$DIR/runscope-run.mjs" "$DIR/okta-scim-spec-test.json" "$URL" "Bearer $TOKEN" | tee "$BIN/okta.out"
stop
# Every failing step must be one of the two explained below.
unexplained=$(grep '^FAIL ' "$BIN/okta.out" | grep -v -e "Make sure random user doesn't exist" -e 'Username Case Sensitivity Check' || true)
if [ -n "$unexplained" ]; then
  echo "conformance: Okta steps failing without an explanation:"; echo "$unexplained"; status=1
fi
echo
echo "== Microsoft SCIM reference tests (Postman collection, newman $NEWMAN) =="
start entra
npx --yes "newman@$NEWMAN" run "$DIR/microsoft-scim-tests.postman.json" \
  --env-var Protocol=http --env-var Server=127.0.0.1 --env-var Port=":$PORT" \
  --env-var Api=scim/v2 --env-var token="$TOKEN" --reporters cli,json --reporter-json-export "$BIN/ms.json"
stop
# At least 95 % of the assertions pass, and every failure is one explained below.
node -e '
const run = require(process.argv[1]).run;
const known = ["Get group by id: Body contians user", "Put a user OMalley: Body contians Germany",
  "Group patch add member: Status code is 204", "Group patch add member2: Status code is 204"];
const total = run.stats.assertions.total, failed = run.stats.assertions.failed;
const odd = run.failures.map(f => (f.source && f.source.name) + ": " + (f.error.test || f.error.name)).filter(n => !known.includes(n));
const pct = 100 * (total - failed) / total;
console.log(`Microsoft collection: ${total - failed} of ${total} assertions pass (${pct.toFixed(1)} %)`);
if (pct < 95 || odd.length) { console.log("conformance: unexplained failures: " + JSON.stringify(odd)); process.exit(1); }
' "$BIN/ms.json" || status=1
cat <<'NOTE'

Known, explained failures, accepted by this target (judged against RFC 7643/7644; see scim/README.md):
  Okta  "Make sure random user doesn't exist": the runner makes randomEmail equal
        to the userName it just created, so the user does exist; 1 result is right.
  Okta  "Username Case Sensitivity Check" expects 400; RFC 7643 §4.1.1 makes
        userName caseExact=false, so keyward matches (200, 1 result).
  MS    "Body contians user": the member's "displayName" the client sent is not a
        member sub-attribute; keyward shows the identity's own name as display.
  MS    "Body contians Germany": keyward keeps no postal addresses.
  MS    "Group patch add member" x2: the member "string id 1" is no user; keyward
        refuses it with 400 invalidValue instead of storing a dangling member.
NOTE
exit $status
