# tests/down_kubeconfig.sh - sourced by test scripts whose `spok serve` needs a cluster but no
# API server: down_kubeconfig FILE writes a kubeconfig whose one context points at a port
# nothing listens on (127.0.0.1:1), context "down".
down_kubeconfig() {
	cat >"$1" <<'K'
apiVersion: v1
kind: Config
current-context: down
clusters: [{name: down, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: down, context: {cluster: down, user: u}}]
K
}
