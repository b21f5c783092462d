// Test infrastructure only: the real flytepropeller (and its kubectl-flyte) from the Go
// module proxy, built by tests/connector/propeller/build.sh into the build directory.
module spok.dev/tests/propeller

go 1.24

require github.com/flyteorg/flyte/flytepropeller v1.16.8

// flytepropeller's own go.mod points these at its monorepo siblings (../flyteidl ...); a
// replace of a dependency does not apply to its importers, so repeat them with the released
// versions, plus the replaces of flyteplugins' go.mod.
replace (
	github.com/aws/amazon-sagemaker-operator-for-k8s => github.com/aws/amazon-sagemaker-operator-for-k8s v1.0.1-0.20210303003444-0fb33b1fd49d
	github.com/flyteorg/flyte/flyteidl => github.com/flyteorg/flyte/flyteidl v1.16.8
	github.com/flyteorg/flyte/flyteplugins => github.com/flyteorg/flyte/flyteplugins v1.16.8
	github.com/flyteorg/flyte/flytestdlib => github.com/flyteorg/flyte/flytestdlib v1.16.8
	github.com/robfig/cron/v3 => github.com/unionai/cron/v3 v3.0.2-0.20220915080349-5790c370e63a
	k8s.io/klog/v2 => k8s.io/klog/v2 v2.60.1
)

// flyteplugins v1.16.8 pins github.com/kubeflow/spark-operator at a pseudo-version the module
// proxy refuses (403); v2.2.1 (module path .../v2, same api/v1beta2) is the nearest it serves
// (as in tests/conformance).
replace github.com/kubeflow/spark-operator => github.com/kubeflow/spark-operator/v2 v2.2.1
