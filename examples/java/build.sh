#!/usr/bin/env bash
# Compiles SparkPi.java against pyspark's bundled Spark jars and packages sparkpi.jar.
# Usage: build.sh [OUT_DIR] (default: this directory). Needs javac/jar (OpenJDK 17).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
VENV=${SPOK_VENV:-$HERE/../../.cache/venv}
JARS=$(echo "$VENV"/lib/python3*/site-packages/pyspark/jars)
[ -d "$JARS" ] || { echo "build.sh: pyspark jars not found under $VENV; run scripts/setup python" >&2; exit 2; }
CLASSES=$(mktemp -d)
trap 'rm -rf "$CLASSES"' EXIT
javac -nowarn -d "$CLASSES" -cp "$JARS/*" "$HERE/SparkPi.java"
mkdir -p "$OUT"
jar cf "$OUT/sparkpi.jar" -C "$CLASSES" .
