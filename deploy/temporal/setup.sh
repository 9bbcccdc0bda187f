#!/bin/sh
# Prepares a fresh (or existing) Temporal cluster for Homeward, with the `temporal` CLI:
#   1. waits until the frontend answers,
#   2. creates the namespace (default "default") unless it exists,
#   3. registers the custom search attributes listed in search-attributes.txt,
#   4. waits until a visibility query that names every one of them is accepted.
# Every step is idempotent, so the one-shot `temporal-setup` service runs it on every
# `docker compose up`; api and worker start only after it has succeeded.
#
# Environment:
#   TEMPORAL_ADDRESS           frontend host:port            (default temporal:7233)
#   TEMPORAL_NAMESPACE         namespace to create and use   (default default)
#   NAMESPACE_RETENTION        how long closed cases' histories are kept (default 720h)
#   SEARCH_ATTRIBUTES_FILE     NAME TYPE list (default: search-attributes.txt next to this)
#   SETUP_ATTEMPTS, SETUP_SLEEP_SECONDS   retry budget for each step (default 60 x 2s)
#
# POSIX sh on purpose: the admin-tools images built in the temporalio/temporal
# repository (1.30 on) no longer ship bash. pipefail where the shell has it (bash,
# busybox ash; not older dash), so the script also runs under the test's /bin/sh.
set -eu
if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi

ADDRESS=${TEMPORAL_ADDRESS:-temporal:7233}
NAMESPACE=${TEMPORAL_NAMESPACE:-default}
RETENTION=${NAMESPACE_RETENTION:-720h}
SA_FILE=${SEARCH_ATTRIBUTES_FILE:-$(dirname "$0")/search-attributes.txt}
ATTEMPTS=${SETUP_ATTEMPTS:-60}
SLEEP=${SETUP_SLEEP_SECONDS:-2}

# attempt WHAT CMD... runs CMD until it succeeds or says "already exists" (then the
# desired state holds). Anything else, such as "connection refused" while the server
# starts or "namespace not found" while the frontend's namespace cache catches up with
# a namespace created a moment ago, is retried; after ATTEMPTS tries the script fails.
# A search attribute that exists with a DIFFERENT type is a real conflict: it fails at
# once instead of being mistaken for "already exists".
attempt() {
  what=$1
  shift
  i=1
  while :; do
    if out=$("$@" 2>&1); then
      echo "$what: done"
      return 0
    fi
    case $out in
    *"different type"*)
      printf '%s: conflict:\n%s\n' "$what" "$out" >&2
      return 1
      ;;
    *"already exists"* | *"AlreadyExists"*)
      echo "$what: already exists"
      return 0
      ;;
    esac
    if [ "$i" -ge "$ATTEMPTS" ]; then
      printf '%s: failed after %s attempts:\n%s\n' "$what" "$i" "$out" >&2
      return 1
    fi
    echo "$what: not yet ($i/$ATTEMPTS), retrying in ${SLEEP}s"
    i=$((i + 1))
    sleep "$SLEEP"
  done
}

[ -r "$SA_FILE" ] || {
  echo "search attributes list $SA_FILE not found" >&2
  exit 1
}

attempt "temporal server at $ADDRESS" \
  temporal operator cluster health --address "$ADDRESS"

attempt "namespace $NAMESPACE" \
  temporal operator namespace create --address "$ADDRESS" \
  --namespace "$NAMESPACE" --retention "$RETENTION"

# One attribute per call, so that one that exists does not hide one that does not.
n=0
query=
while read -r name type rest; do
  case $name in '' | '#'*) continue ;; esac
  if [ -z "$type" ] || [ -n "$rest" ]; then
    echo "$SA_FILE: want 'NAME TYPE', got '$name $type $rest'" >&2
    exit 1
  fi
  attempt "search attribute $name ($type)" \
    temporal operator search-attribute create --address "$ADDRESS" \
    --namespace "$NAMESPACE" --name "$name" --type "$type"
  query="${query:+$query OR }$name IS NOT NULL"
  n=$((n + 1))
done <"$SA_FILE"

# The frontend learns a namespace's new search attributes from its namespace cache,
# refreshed every few seconds: until then, starting a case fails ("no mapping defined
# for search attribute"). api and worker start once this script has succeeded, so it
# ends when a query naming every attribute is accepted (found by make prod-check).
attempt "search attributes in use" \
  temporal workflow count --address "$ADDRESS" --namespace "$NAMESPACE" --query "$query"

echo "temporal setup complete: namespace $NAMESPACE, $n search attributes"
