#!/bin/bash
# deploy/spark-image/install.sh - the steps that turn a Debian bookworm root filesystem into
# spok's Spark image. Run as root INSIDE the image: by the Dockerfile (RUN) and by
# scripts/build-image (chroot into a debootstrap tree), so both images are the same.
#
# Environment:
#   DEBIAN_PACKAGES   Debian packages (installed only if missing)
#   PYSPARK_VERSION   pip pyspark (its jars include Spark's Kubernetes backend)
#   PY4J_VERSION      the py4j that pyspark pins
#   FLYTEKIT_VERSION  optional: also flytekit + flytekitplugins-spark (the Flyte variant)
#   SPARK_UID         the non-root user the image runs as (185, as Spark's images)
#   WHEELS            optional directory of already-downloaded wheels to install from first
set -euo pipefail
: "${DEBIAN_PACKAGES:?}" "${PYSPARK_VERSION:?}" "${PY4J_VERSION:?}" "${SPARK_UID:?}"

read -r -a pkgs <<<"$DEBIAN_PACKAGES"
missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = 'install ok installed' ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/info/*

getent group spark >/dev/null || groupadd --system --gid "$SPARK_UID" spark
getent passwd spark >/dev/null ||
  useradd --system --uid "$SPARK_UID" --gid "$SPARK_UID" --home-dir /opt/spark --shell /bin/false spark

[ -x /opt/venv/bin/python3 ] || python3 -m venv /opt/venv
pip=(/opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -q)
# With pyspark's wheels at hand (scripts/build-image) no index is needed for them.
if [ -n "${WHEELS:-}" ] && compgen -G "$WHEELS/pyspark-$PYSPARK_VERSION-*.whl" >/dev/null &&
   compgen -G "$WHEELS/py4j-$PY4J_VERSION-*.whl" >/dev/null; then
  "${pip[@]}" --no-index --find-links "$WHEELS" "pyspark==$PYSPARK_VERSION" "py4j==$PY4J_VERSION"
else
  "${pip[@]}" "pyspark==$PYSPARK_VERSION" "py4j==$PY4J_VERSION"
fi
if [ -n "${FLYTEKIT_VERSION:-}" ]; then
  "${pip[@]}" "flytekit==$FLYTEKIT_VERSION" "flytekitplugins-spark==$FLYTEKIT_VERSION"
  test -f /opt/venv/bin/entrypoint.py   # Flyte's default mainApplicationFile
fi

# SPARK_HOME is a plain directory whose bin/jars/... point into the pip pyspark, so Spark on
# Kubernetes can mount its ConfigMap at /opt/spark/conf and use /opt/spark/work-dir.
site=$(/opt/venv/bin/python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
mkdir -p /opt/spark/work-dir /opt/spark/conf
for d in bin sbin jars python examples data; do
  [ -e "$site/$d" ] && ln -sfn "$site/$d" "/opt/spark/$d"
done
chown -R "$SPARK_UID:$SPARK_UID" /opt/spark/work-dir
chmod 0775 /opt/spark/work-dir
# The Spark Connect server (a Kubernetes warm pool's driver, src/connect) comes with pyspark 4's
# jars; an image without it could not serve a pool.
compgen -G "$site/jars/spark-connect_2.13-$PYSPARK_VERSION.jar" >/dev/null ||
  { echo "install.sh: pyspark $PYSPARK_VERSION has no jars/spark-connect_2.13-$PYSPARK_VERSION.jar" >&2; exit 1; }
# Spark's launcher scripts are shipped without the execute bit in some wheels.
chmod 0755 "$site"/bin/* "$site"/sbin/* 2>/dev/null || true
# (a build chroot has no /etc/hosts entry for its host name, so Spark is told to use loopback)
SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_HOSTNAME=localhost "$site/bin/spark-submit" --version >/dev/null 2>&1 ||
  { echo "install.sh: spark-submit --version failed in the image" >&2; exit 1; }
