# Sourced by uicheck/run.sh and uicheck/workspace.sh: installs what the browser checks need
# from the project's own files, builds bin/homeward, and starts `homeward dev` on a fresh data
# folder and free ports ($api, $ui), stopped (and its data removed) when the script exits.
# The caller sets here, root, out, started, say and fail first; UICHECK_COUNSELLING_SLA
# shortens the counselling SLA (the Temporal UI check waits for an overdue case).
# --- 1. What it needs, installed from the project's own files (idempotent) ---------------------
if ! command -v chromium >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium (apt-get)..."
  [ "$(id -u)" = 0 ] || fail "installing chromium needs root (apt-get install -y chromium)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
command -v node >/dev/null 2>&1 || fail "node is not installed (the machine's Node.js is expected)"
lock_sum=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
stamp="$here/node_modules/.uicheck-lock.sha256"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ] || [ ! -d "$here/node_modules/playwright-core" ]; then
  say "npm ci in uicheck/ (playwright-core, no browser download)..."
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$stamp"
fi

# --- 2. Build, and start homeward dev on a fresh data folder -----------------------------------
say "building bin/homeward (and bin/temporal if missing)..."
(cd "$root" && "${MAKE:-make}" --no-print-directory bin/temporal build)

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
pick_port() { # default -> the default if free, else a free one
  if port_taken "$1"; then free_port; else echo "$1"; fi
}
api_port=${UICHECK_API_PORT:-$(pick_port 8080)}
ui_port=${UICHECK_UI_PORT:-$(pick_port 8233)}
temporal_port=${UICHECK_TEMPORAL_PORT:-$(pick_port 7233)}
sim_port=${UICHECK_SIM_PORT:-$(pick_port 8090)}
for p in "$api_port" "$ui_port" "$temporal_port" "$sim_port"; do
  port_taken "$p" && fail "port $p is in use"
done
api="http://127.0.0.1:$api_port"
ui="http://127.0.0.1:$ui_port"

rm -rf "$out"
mkdir -p "$out"
data=$(mktemp -d "${TMPDIR:-/tmp}/homeward-uicheck.XXXXXX")
hw_pid=""

stop_homeward() {
  [ -n "$hw_pid" ] || return 0
  if kill -0 "$hw_pid" 2>/dev/null; then
    say "stopping homeward dev (SIGINT)..."
    kill -INT "$hw_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$hw_pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$hw_pid" 2>/dev/null; then
      say "homeward dev did not stop within 30 s; SIGTERM to its process group"
      kill -TERM -- "-$hw_pid" 2>/dev/null || true
      sleep 3
      kill -KILL -- "-$hw_pid" 2>/dev/null || true
    fi
  fi
  wait "$hw_pid" 2>/dev/null || true
  # The dev server (bin/temporal) is its child, in the same process group: make sure it is gone.
  if pgrep -g "$hw_pid" >/dev/null 2>&1; then
    kill -KILL -- "-$hw_pid" 2>/dev/null || true
  fi
  hw_pid=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_homeward
  rm -rf "$data"
  local took=$(( $(date +%s) - started ))
  if [ "$rc" = 0 ]; then
    say "PASS in ${took}s (screenshots in ${out#"$root/"}/)"
  else
    say "failed after ${took}s (exit $rc); see ${out#"$root/"}/ (homeward.log, browser logs, screenshots)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting homeward dev (API $api, UI $ui, Temporal 127.0.0.1:$temporal_port, data $data)"
(
  cd "$root"
  export HOMEWARD_DEV_DATA_DIR="$data"
  export HOMEWARD_DATABASE_DSN="$data/homeward.db"
  export HOMEWARD_DATABASE_KEYS_FILE="$data/database-keys.json"
  export HOMEWARD_CODEC_KEYS_FILE="$data/codec-keys.json"
  [ -z "${UICHECK_COUNSELLING_SLA:-}" ] || export HOMEWARD_RULES_SLA_COUNSELLING="$UICHECK_COUNSELLING_SLA"
  export HOMEWARD_HTTP_ADDRESS="127.0.0.1:$api_port"
  export HOMEWARD_DEV_UI_PORT="$ui_port"
  export HOMEWARD_DEV_TEMPORAL_PORT="$temporal_port"
  export HOMEWARD_DEV_SIMULATOR_ADDRESS="127.0.0.1:$sim_port"
  # The one origin /codec accepts: exactly the UI's. (UICHECK_CODEC_UI_ORIGIN breaks it on
  # purpose, to see that the check notices encrypted details.)
  export HOMEWARD_CODEC_UI_ORIGIN="${UICHECK_CODEC_UI_ORIGIN:-$ui}"
  export HOMEWARD_TEMPORAL_UI_URL="$ui"
  # Its own process group (setsid), so that nothing it starts outlives the check.
  exec setsid ./bin/homeward dev
) >"$out/homeward.log" 2>&1 &
hw_pid=$!

deadline=$(( $(date +%s) + 180 ))
until curl -fsS -o /dev/null "$api/readyz" 2>/dev/null; do
  kill -0 "$hw_pid" 2>/dev/null || { tail -n 30 "$out/homeward.log" >&2; fail "homeward dev exited before it was ready"; }
  [ "$(date +%s)" -lt "$deadline" ] || { tail -n 30 "$out/homeward.log" >&2; fail "no /readyz within 180 s"; }
  sleep 0.5
done
say "ready after $(( $(date +%s) - started ))s"
