#!/bin/bash
# /opt/entrypoint.sh - spok's Spark image entrypoint (written for spok).
#
# Spark on Kubernetes starts the driver pod with `driver --properties-file ... --class ... APP ARGS`
# and executor pods with `executor` plus SPARK_* environment variables (SPARK_DRIVER_URL,
# SPARK_EXECUTOR_ID, SPARK_EXECUTOR_CORES, SPARK_EXECUTOR_MEMORY, SPARK_APPLICATION_ID,
# SPARK_EXECUTOR_POD_IP, SPARK_RESOURCE_PROFILE_ID, SPARK_EXECUTOR_POD_NAME, SPARK_JAVA_OPT_<n>,
# SPARK_EXECUTOR_LIBRARY_PATH).
# Anything else runs as given (pass-through), e.g. `python3 -c ...` for a debugging pod.
# tini is PID 1 so signals reach the JVM and zombies are reaped.
set -euo pipefail

: "${SPARK_HOME:=/opt/spark}"
: "${JAVA_HOME:=/usr/lib/jvm/java-17-openjdk-amd64}"

# The JVM (and Python's getpass) want a passwd entry for the running uid; an image run with an
# arbitrary uid (OpenShift style) gets one if /etc/passwd is writable.
if ! getent passwd "$(id -u)" >/dev/null 2>&1 && [ -w /etc/passwd ]; then
  echo "$(id -u):x:$(id -u):$(id -g):spark:$SPARK_HOME:/bin/false" >>/etc/passwd
fi

classpath="${SPARK_CONF_DIR:-$SPARK_HOME/conf}:$SPARK_HOME/jars/*"
[ -z "${HADOOP_CONF_DIR:-}" ] || classpath="$HADOOP_CONF_DIR:$classpath"
[ -z "${SPARK_EXTRA_CLASSPATH:-}" ] || classpath="$classpath:$SPARK_EXTRA_CLASSPATH"
[ -z "${SPARK_DIST_CLASSPATH:-}" ] || classpath="$classpath:$SPARK_DIST_CLASSPATH"

# SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ... in numeric order, each one JVM argument.
java_opts=()
while IFS='=' read -r name _; do
  java_opts+=("${!name}")
done < <(env | sed -n 's/^\(SPARK_JAVA_OPT_[0-9]\{1,\}\)=.*/\1/p' | sort -t_ -k4 -n)

need() { # need VAR...: the executor contract; a missing one is a clear error, not a JVM trace
  local v
  for v in "$@"; do
    [ -n "${!v:-}" ] || { echo "entrypoint: $v is not set; executor pods get it from Spark's driver" >&2; exit 64; }
  done
}

case "${1:-}" in
  driver)
    shift
    cmd=("$SPARK_HOME/bin/spark-submit" --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:-0.0.0.0}"
         --deploy-mode client "$@")
    ;;
  executor)
    shift
    need SPARK_DRIVER_URL SPARK_EXECUTOR_ID SPARK_EXECUTOR_CORES SPARK_EXECUTOR_MEMORY \
         SPARK_APPLICATION_ID SPARK_EXECUTOR_POD_IP
    cmd=("$JAVA_HOME/bin/java" "${java_opts[@]}" "-Xms$SPARK_EXECUTOR_MEMORY" "-Xmx$SPARK_EXECUTOR_MEMORY"
         -cp "$classpath" org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend
         --driver-url "$SPARK_DRIVER_URL" --executor-id "$SPARK_EXECUTOR_ID"
         --cores "$SPARK_EXECUTOR_CORES" --app-id "$SPARK_APPLICATION_ID"
         --hostname "$SPARK_EXECUTOR_POD_IP" --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}")
    [ -z "${SPARK_EXECUTOR_POD_NAME:-}" ] || cmd+=(--podName "$SPARK_EXECUTOR_POD_NAME")
    # Spark 4.0.5's executor pods carry spark.executor.extraLibraryPath here
    [ -z "${SPARK_EXECUTOR_LIBRARY_PATH:-}" ] ||
      export LD_LIBRARY_PATH="$SPARK_EXECUTOR_LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    ;;
  '')
    echo "entrypoint: no command; Spark on Kubernetes passes 'driver' or 'executor'" >&2
    exit 64
    ;;
  *)
    cmd=("$@")
    ;;
esac

exec /usr/bin/tini -s -- "${cmd[@]}"
