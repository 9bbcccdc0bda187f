#!/usr/bin/env bash
# make ui-check: the Temporal UI as a manager sees it (issue 7, item 6).
#
# Installs what it needs (Debian's chromium, playwright-core from uicheck/package-lock.json),
# builds bin/homeward, starts `homeward dev` on a fresh temporary data folder with a 5 s
# counselling SLA, registers a case and waits until it is overdue (and a second case, counselled
# at once, that must not be in the overdue list), then runs uicheck/check.mjs:
# headless Chromium opens the Temporal UI, filters the workflow list by the saved overdue
# query, finds the case, opens it and checks that its summary and current details are shown
# decoded (they are encrypted payloads the UI decodes through Homeward's /codec endpoint).
# Screenshots, the browser's console and network failures, and homeward's log go to
# uicheck/out/temporal-ui/. homeward dev is stopped (SIGINT) and the data folder removed, even on failure.
#
# Ports: the defaults (API 8080, UI 8233, Temporal 7233, simulator 8090) unless one is taken,
# then a free one; or set UICHECK_API_PORT, UICHECK_UI_PORT, UICHECK_TEMPORAL_PORT,
# UICHECK_SIM_PORT. The codec's allowed origin always follows the UI's port.
# Also: UICHECK_TIMEOUT_MS (browser waits, default 60000), UICHECK_DEBUG=1 (keep the UI server's
# answers in out/ui-api-*.txt), UICHECK_CODEC_UI_ORIGIN (break the codec's origin on purpose).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
out="$here/out/temporal-ui"
started=$(date +%s)

say() { printf 'ui-check: %s\n' "$*"; }
fail() { printf 'ui-check: FAIL: %s\n' "$*" >&2; exit 1; }

# --- 1-2. What it needs, and homeward dev running (lib.sh) ------------------------------------
UICHECK_COUNSELLING_SLA=5s
# shellcheck source=uicheck/lib.sh
. "$here/lib.sh"

# The case from README.md ("A case from start to finish, with curl").
cat >"$data/case.json" <<'EOF'
{
  "beneficiary": {"given_name": "Aminata", "family_name": "Camara", "date_of_birth": "1990-04-01",
                  "sex": "female", "nationality": "GN", "languages": ["fr"], "phone": "+224621234567"},
  "household": [{"given_name": "Mariama", "relationship": "child", "date_of_birth": "2016-02-11"}],
  "vulnerabilities": ["health_needs"],
  "host_country": "DE",
  "country_of_return": "GN",
  "area_of_return": {"region": "Kankan", "district": "Siguiri"},
  "sending_office": "DE-BER",
  "receiving_office": "GN-CKY",
  "programme": "REAG-GARP",
  "consent": {"data_processing": true, "given_at": "2026-11-20T10:00:00Z"}
}
EOF
# Another person (one active case per person), who will be counselled at once.
cat >"$data/case2.json" <<'EOF2'
{
  "beneficiary": {"given_name": "Ibrahima", "family_name": "Diallo", "date_of_birth": "1985-06-15",
                  "sex": "male", "nationality": "GN", "languages": ["fr"], "phone": "+224621000000"},
  "household": [],
  "vulnerabilities": [],
  "host_country": "DE",
  "country_of_return": "GN",
  "area_of_return": {"region": "Conakry", "district": "Kaloum"},
  "sending_office": "DE-BER",
  "receiving_office": "GN-CKY",
  "programme": "REAG-GARP",
  "consent": {"data_processing": true, "given_at": "2026-11-20T10:00:00Z"}
}
EOF2
json_field() { # json_field FILE EXPR: prints a field of a JSON file, e.g. json_field f '.workflow.workflow_id'
  node -e 'const v=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
    const r=process.argv[2].split(".").filter(Boolean).reduce((o,k)=>o==null?undefined:o[k],v);
    console.log(r===undefined||r===null?"":typeof r==="object"?JSON.stringify(r):String(r))' "$1" "$2"
}
status=$(curl -sS -o "$data/created.json" -w '%{http_code}' -X POST "$api/api/v1/cases" \
  -H 'Authorization: Bearer dev-caseworker' -H 'Content-Type: application/json' --data-binary @"$data/case.json")
[ "$status" = 201 ] || { cat "$data/created.json" >&2; fail "POST /api/v1/cases answered $status, not 201"; }
case_id=$(json_field "$data/created.json" .id)
reference=$(json_field "$data/created.json" .reference)
workflow_id=$(json_field "$data/created.json" .workflow.workflow_id)
[ -n "$case_id" ] && [ -n "$reference" ] || fail "no id/reference in the registration's answer"
[ -n "$workflow_id" ] || workflow_id="case-$case_id"
say "registered case $case_id ($reference, workflow $workflow_id)"

# A second case, counselled at once: it moves on to Screening (due in 7 days), so the overdue
# list must not show it.
status=$(curl -sS -o "$data/created2.json" -w '%{http_code}' -X POST "$api/api/v1/cases" \
  -H 'Authorization: Bearer dev-caseworker' -H 'Content-Type: application/json' --data-binary @"$data/case2.json")
[ "$status" = 201 ] || { cat "$data/created2.json" >&2; fail "POST /api/v1/cases (second case) answered $status"; }
case2_id=$(json_field "$data/created2.json" .id)
workflow2_id=$(json_field "$data/created2.json" .workflow.workflow_id)
[ -n "$workflow2_id" ] || workflow2_id="case-$case2_id"
deadline=$(( $(date +%s) + 30 ))
while :; do # 409 while the case is still in Intake
  status=$(curl -sS -o "$data/counselled.json" -w '%{http_code}' -X POST "$api/api/v1/cases/$case2_id/counselling" \
    -H 'Authorization: Bearer dev-caseworker' -H 'Content-Type: application/json' \
    -d "{\"outcome\": \"confirmed\", \"held_at\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}")
  [ "$status" = 200 ] && break
  [ "$status" = 409 ] && [ "$(date +%s)" -lt "$deadline" ] || { cat "$data/counselled.json" >&2; fail "POST .../counselling answered $status"; }
  sleep 0.3
done
say "registered and counselled a second case $case2_id (must not be in the overdue list)"
say "waiting until $case_id is overdue..."

deadline=$(( $(date +%s) + 90 ))
while :; do
  status=$(curl -sS -o "$data/case.now.json" -w '%{http_code}' "$api/api/v1/cases/$case_id" \
    -H 'Authorization: Bearer dev-manager' || true)
  if [ "$status" = 200 ] && [ "$(json_field "$data/case.now.json" .overdue)" = true ]; then break; fi
  [ "$(date +%s)" -lt "$deadline" ] || {
    cat "$data/case.now.json" >&2 || true
    fail "case $case_id not overdue within 90 s (counselling SLA 5 s); last GET answered $status"
  }
  sleep 1
done
cp "$data/case.now.json" "$out/case.json" # the API's view of the case (test data only)
curl -sS -o "$data/case2.now.json" "$api/api/v1/cases/$case2_id" -H 'Authorization: Bearer dev-manager'
[ "$(json_field "$data/case2.now.json" .overdue)" = false ] && [ "$(json_field "$data/case2.now.json" .stage)" != Counselling ] ||
  fail "the second case should have moved on and not be overdue: $(cat "$data/case2.now.json")"

say "overdue: stage $(json_field "$data/case.now.json" .stage), waiting on $(json_field "$data/case.now.json" .waiting_on), due $(json_field "$data/case.now.json" .stage_due_at)"

# --- 3. The browser ------------------------------------------------------------------------------
# check.mjs filters by the saved query exactly as README.md lists it (workflows.QueryOverdue).
grep -qF 'Overdue = true AND ExecutionStatus = "Running"' "$root/README.md" ||
  fail "README.md no longer lists the overdue query that uicheck/check.mjs uses: update QUERY there"
UICHECK_UI_URL="$ui" UICHECK_API_URL="$api" UICHECK_OUT="$out" UICHECK_WORKFLOW_ID="$workflow_id" \
  UICHECK_REFERENCE="$reference" UICHECK_NOT_OVERDUE_WORKFLOW_ID="$workflow2_id" UICHECK_CASE_UI_URL="$(json_field "$data/case.now.json" .workflow.ui_url)" \
  node "$here/check.mjs"
