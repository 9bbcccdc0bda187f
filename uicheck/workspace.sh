#!/usr/bin/env bash
# make ui-test: the workspace as people use it (issue 16), in headless Debian Chromium.
#
# Installs what it needs (Debian's chromium, playwright-core and @axe-core/playwright from
# uicheck/package-lock.json), builds bin/homeward, starts `homeward dev` on a fresh temporary
# data folder and free ports, and runs uicheck/workspace.mjs: one case from registration to
# monitoring through the pages only, a search from another office that finds nothing, a
# manager's pages, and axe-core on each main page. Screenshots, the browser's log and homeward's
# log go to uicheck/out/workspace/. homeward dev is stopped and its data removed, even on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
out="$here/out/workspace"
started=$(date +%s)

say() { printf 'workspace-check: %s\n' "$*"; }
fail() { printf 'workspace-check: FAIL: %s\n' "$*" >&2; exit 1; }

# shellcheck source=uicheck/lib.sh
. "$here/lib.sh"

WORKSPACE_URL="$api" WORKSPACE_OUT="$out" node "$here/workspace.mjs"
