#!/usr/bin/env bash
# Idempotent installer of the Debian packages heimdex builds, runs and tests with.
# Each part lists its own packages in scripts/deps/<part>.build (needed to build
# and run), scripts/deps/<part>.test (needed by tests) and <part>.bench (only by
# benchmarks and fixture generators: `install-deps.sh bench`).
# Installs only what is missing, so a second run makes no apt-get call at all.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

case "${1:-build}" in
  build) kinds=(build) ;;
  test)  kinds=(build test) ;;
  bench) kinds=(build test bench) ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

want=()
for k in "${kinds[@]}"; do
  for f in "$here"/deps/*."$k"; do
    [ -e "$f" ] || continue
    while read -r p _; do
      case "$p" in ''|'#'*) continue ;; esac
      want+=("$p")
    done < "$f"
  done
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
