#!/bin/sh
# hung-plugin.sh - a kubeconfig exec credential plugin that never answers (test_server_loop_k8s):
# it notes each start in $HUNG_PLUGIN_MARK, then sleeps until spok kills its process group.
set -eu
echo start >> "$HUNG_PLUGIN_MARK"
exec sleep 600
