#!/usr/bin/env bash
# Idempotent installer of the system packages heimdex builds, runs and tests with.
# Installs only what is missing, so a second run is a no-op (no apt-get call at all).
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config
            libmicrohttpd-dev libjansson-dev libsqlite3-dev libssl-dev)
test_pkgs=(libcmocka-dev python3 curl)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test)  want+=("${test_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
