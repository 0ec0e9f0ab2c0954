#!/usr/bin/env bash
# System prerequisites of `make`: Python 3.11+, a Java 17 JDK (Spark 4 and the KCL
# need Java; javac compiles ottlake's jar), Maven (Delta's jars are resolved
# from Maven Central at set-up time), Chromium (the report's test draws the
# page in Debian's headless Chromium; Playwright never downloads a browser here)
# and Node with npm (the collector's tests).
# Installs what is missing from Debian's packages; changes nothing otherwise.
set -euo pipefail

need=()
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || need+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1 || true)
[ "${java_major:-0}" -ge 17 ] || need+=(openjdk-17-jdk-headless)
command -v javac >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/javac" ] || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ -x /usr/bin/chromium ] || need+=(chromium)
# Node 20+ and npm run the real JavaScript CMCD client in the collector's tests (tests/js).
node_major=$(node --version 2>/dev/null | sed -n 's/^v\([0-9]*\).*/\1/p' || true)
[ "${node_major:-0}" -ge 20 ] || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing from Debian: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi
