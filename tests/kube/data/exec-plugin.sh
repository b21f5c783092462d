#!/bin/sh
# exec-plugin.sh - a kubeconfig exec credential plugin for the tests (argv[1] = mode).
# The test's kubeconfig sets the rest through exec.env:
#   PLUGIN_TOKEN_FILE  the token to print (read on every run, so a test can rotate it)
#   PLUGIN_EXPIRES_IN  seconds from now for status.expirationTimestamp (unset: none)
#   PLUGIN_API         the apiVersion to answer with (default client.authentication.k8s.io/v1)
#   PLUGIN_COUNT       a file that gets one line per run
#   PLUGIN_INFO_OUT    a file that receives $KUBERNETES_EXEC_INFO (or the argv in mode argv)
set -eu
if [ -n "${PLUGIN_COUNT:-}" ]; then echo run >> "$PLUGIN_COUNT"; fi
if [ -n "${PLUGIN_INFO_OUT:-}" ]; then printf '%s' "${KUBERNETES_EXEC_INFO:-}" > "$PLUGIN_INFO_OUT"; fi
api=${PLUGIN_API:-client.authentication.k8s.io/v1}
exp=""
if [ -n "${PLUGIN_EXPIRES_IN:-}" ]; then
	exp=$(date -u -d "@$(( $(date +%s) + PLUGIN_EXPIRES_IN ))" +%Y-%m-%dT%H:%M:%SZ)
	exp=",\"expirationTimestamp\":\"$exp\""
fi
mode=${1:-token}
case "$mode" in
token)
	tok=$(cat "$PLUGIN_TOKEN_FILE")
	printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s"%s}}\n' \
		"$api" "$tok" "$exp" ;;
cert)
	printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"clientCertificateData":"%s","clientKeyData":"%s"%s}}\n' \
		"$api" "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n" \
		"-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n" "$exp" ;;
argv)
	shift
	printf '%s\n' "$@" > "$PLUGIN_INFO_OUT"
	printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"t"}}\n' "$api" ;;
fail)
	echo "exec-plugin: not logged in (this line is expected in the test log)" >&2
	exit 3 ;;
badjson)
	echo 'not json s3cret-token' ;;
big)
	head -c 5000 /dev/zero | tr '\0' 'a' ;;
slow)
	exec sleep 30 ;;
group)
	# A helper that keeps stdout open after the plugin is gone: only killing the plugin's
	# process group ends it.
	sleep 60 &
	echo $! > "$PLUGIN_INFO_OUT"
	exec sleep 30 ;;
*)
	echo "exec-plugin: unknown mode $mode" >&2
	exit 2 ;;
esac
