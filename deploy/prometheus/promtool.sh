#!/bin/sh
# Puts Debian's promtool (package prometheus) at bin/promtool for make prod-check,
# which checks deploy/prometheus/alerts.yml with it. The package is downloaded and
# unpacked, not installed: installing it would start a Prometheus server on :9090.
set -eu
out=${1:-bin/promtool}
[ -x "$out" ] && exit 0
if command -v promtool >/dev/null 2>&1; then
  ln -sf "$(command -v promtool)" "$out"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
apt-get download prometheus >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download prometheus >/dev/null; }
dpkg-deb -x prometheus_*.deb root
cd - >/dev/null
cp "$dir/root/usr/bin/promtool" "$out"
echo "promtool: $("$out" --version 2>&1 | head -1)"
