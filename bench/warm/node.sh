# bench/warm/node.sh - `bench/warm/run.sh --node` (sourced by run.sh: K, ROOT, SPOK, TMP set):
# cold runs through the Spark operator vs warm runs on a Kubernetes pool, on the real node.
NODE_DIR=$TMP/node
now() { date +%s%N; }
ms_since() { echo $((($(now) - $1) / 1000000)); }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
die() { echo "bench/warm --node: $*" >&2; exit 1; }

t0=$(now)
"$ROOT/scripts/k8s" up --fresh --node --with-operator "$NODE_DIR" >"$TMP/node-up.log" 2>&1 ||
	{ tail -n 20 "$TMP/node-up.log" >&2; "$ROOT/scripts/k8s" down "$NODE_DIR" >/dev/null 2>&1; die "scripts/k8s up --node failed"; }
trap '"$SPOK" session stop bench >/dev/null 2>&1 || true; "$ROOT/scripts/k8s" down "$NODE_DIR" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
while IFS='=' read -r k v; do
	[ -n "$k" ] && export "$k=$v"
done <"$NODE_DIR/env"
printf 'node up %d ms\n' "$(ms_since "$t0")"
IMAGE=${SPOK_TEST_SPARK_IMAGE:?no spark image in the node env; run scripts/build-image}
NS=${SPOK_TEST_OPERATOR_NAMESPACE:?no operator namespace in the node env}
cat >"$TMP/config.yaml" <<YAML
spok:
  default-image: $IMAGE
  spark-version: "4.0.5"
  pools:
    - name: bench
      kubernetes: {namespace: $NS, context: admin}
      idle-timeout: 30m
      min-executors: 0
      max-executors: 2
      spark-conf:
        spark.kubernetes.driver.request.cores: "250m"
        spark.kubernetes.executor.request.cores: "250m"
        spark.dynamicAllocation.executorIdleTimeout: "30s"
plugins:
  spark:
    spark-config-default:
      spark.kubernetes.driver.request.cores: "250m"
      spark.kubernetes.executor.request.cores: "250m"
YAML
export SPOK_CONFIG=$TMP/config.yaml
mkdir -p "$TMP/jobs"
for job in count pi; do
	sed "s#^image: .*#image: $IMAGE#" "$ROOT/examples/warm/$job.yaml" >"$TMP/jobs/$job.yaml"
	cp "$ROOT/examples/warm/$job.py" "$TMP/jobs/"
done

# run_ms OUT JOB [FLAGS...]: wall ms of one `spok run -q`, its stdout checked
run_ms() {
	local out=$1 job=$2 t0
	shift 2
	t0=$(now)
	(cd "$TMP/jobs" && "$SPOK" run "$TMP/jobs/$job.yaml" -q "$@") >"$TMP/out" 2>"$TMP/err" ||
		{ tail -n 30 "$TMP/err" >&2; die "spok run $job $* failed"; }
	grep -Eq '^(count: 1000000|Pi is roughly 3\.1)' "$TMP/out" || die "wrong answer: $(tail -n 5 "$TMP/out")"
	eval "$out=\$(ms_since $t0)"
}
executors() { # executor pods of the bench session
	curl -sS --max-time 30 --cacert "$SPOK_TEST_CA" --cert "$SPOK_TEST_ADMIN_CERT" --key "$SPOK_TEST_ADMIN_KEY" \
		"$SPOK_TEST_APISERVER/api/v1/namespaces/$NS/pods?labelSelector=spok.dev%2Fsession%3Dbench,spark-role%3Dexecutor" |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("items", [])))'
}

declare -A cold warm
for i in $(seq 1 "$K"); do
	for job in count pi; do
		run_ms c "$job" --cluster admin -n "$NS"
		cold[$job]+=" $c"
		printf 'run %d %-5s cold %6d ms\n' "$i" "$job" "$c"
	done
done
t0=$(now)
"$SPOK" session start bench >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; die "session start failed"; }
start_ms=$(ms_since "$t0")
run_ms first count --warm --pool bench
printf 'session start %d ms (server pod ready), first warm run after it %d ms (executor pods start)\n' "$start_ms" "$first"
for i in $(seq 1 "$K"); do
	for job in count pi; do
		run_ms w "$job" --warm --pool bench
		warm[$job]+=" $w"
		printf 'run %d %-5s warm %6d ms\n' "$i" "$job" "$w"
	done
done
t0=$(now)
for _ in $(seq 1 300); do
	[ "$(executors)" = 0 ] && break
	sleep 1
done
[ "$(executors)" = 0 ] || die "the pool still has executor pods 300 s after its last job"
printf 'executors scaled to zero %d ms after the last warm run\n' "$(ms_since "$t0")"
# the idle pool: one driver pod; its processes as this host sees them (same kernel)
rss=$(ps -eo rss=,args= | awk '/SparkConnectServer/ && /spok-session-bench/ {s += $1} END {print int(s / 1024)}')
sup=$("$SPOK" session list -o json | python3 -c 'import json,sys; print([s for s in json.load(sys.stdin) if s["name"] == "bench"][0]["supervisor_pid"])')
rss_sup=$(ps -o rss= -p "$sup" | awk '{print int($1 / 1024)}')
printf 'idle pool RSS: server pod JVM %d MiB (no executors), supervisor %d MiB\n' "$rss" "$rss_sup"
run_ms idle count --warm --pool bench
printf 'first warm count after the executors scaled to zero: %d ms\n' "$idle"

line="summary: node:"
for job in count pi; do
	# shellcheck disable=SC2086 # lists of numbers
	mc=$(median ${cold[$job]})
	# shellcheck disable=SC2086
	mw=$(median ${warm[$job]})
	line+=$(awk -v j="$job" -v c="$mc" -v w="$mw" 'BEGIN { printf " %s cold %.1fs warm %.2fs warm/cold ratio %.3f (x%.1f faster);", j, c / 1000, w / 1000, w / c, c / w }')
done
mc=$(median ${cold[count]})
line+=$(awk -v c="$mc" -v w="$idle" 'BEGIN { printf " count after scale-to-zero %.2fs (x%.1f faster than cold);", w / 1000, c / w }')
line+=" server pod start ${start_ms} ms, first warm run ${first} ms; idle pool RSS ${rss} MiB (+ supervisor ${rss_sup} MiB); $K runs each, medians"
echo "$line"
