// Command flyteref builds the SparkApplication that Flyte v1 builds for one task attempt, with
// the real flyteplugins Spark plugin (BuildResource) and Flyte's real config loader, and prints
// it as JSON. It is test infrastructure for spok's differential test (tests/conformance): the
// inputs are the same pyflyte package, config file and execution facts `spok render` gets.
//
// flytepropeller's PluginManager.addObjectMetadata is an unexported method that needs a live
// plugin manager, so main reproduces that one step (namespace, labels and annotations unions,
// generated name, owner reference, finalizer, DNS-1123 fix-up) with the real helper functions.
package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/golang/protobuf/proto"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/flyteorg/flyte/flyteidl/gen/pb-go/flyteidl/admin"
	"github.com/flyteorg/flyte/flyteidl/gen/pb-go/flyteidl/core"
	"github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery"
	"github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/catalog"
	pluginsCore "github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/core"
	"github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/encoding"
	k8sconfig "github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/flytek8s/config"
	pluginsIO "github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/io"
	"github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/ioutils"
	pluginsUtils "github.com/flyteorg/flyte/flyteplugins/go/tasks/pluginmachinery/utils"
	"github.com/flyteorg/flyte/flyteplugins/go/tasks/plugins/k8s/spark"
	propellerUtils "github.com/flyteorg/flyte/flytepropeller/pkg/utils"
	"github.com/flyteorg/flyte/flytestdlib/config"
	"github.com/flyteorg/flyte/flytestdlib/config/viper"
	"github.com/flyteorg/flyte/flytestdlib/contextutils"
	"github.com/flyteorg/flyte/flytestdlib/promutils"
	"github.com/flyteorg/flyte/flytestdlib/promutils/labeled"
	"github.com/flyteorg/flyte/flytestdlib/storage"
)

// flytepropeller's IDMaxLength (pkg/controller/nodes/task/taskexec_context.go).
const idMaxLength = 50

// flytepropeller's finalizer name (pkg/controller/nodes/task/k8s/plugin_manager.go).
const finalizer = "flyte.org/finalizer-k8s"

type opts struct {
	pkg, task, cfg, project, domain      string
	execution, nodeID, namespace, sa     string
	attempt                              int
	interruptible                        bool
	inputPrefix, outputPrefix, rawPrefix string
	prevCheckpoint                       string
}

// readTemplate returns the TaskTemplate of the task named name (full name, or the part after
// the last '.') from a pyflyte package (.tgz of admin.TaskSpec files named *_1.pb).
func readTemplate(path, name string) (*core.TaskTemplate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(h.Name, "_1.pb") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		spec := &admin.TaskSpec{}
		if err := proto.Unmarshal(b, spec); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		n := spec.GetTemplate().GetId().GetName()
		if n == name || strings.HasSuffix(n, "."+name) {
			return spec.GetTemplate(), nil
		}
	}
	return nil, fmt.Errorf("%s: no task named %s", path, name)
}

// ---- the task execution context, filled with the facts propeller would supply ----

type taskExecID struct {
	id     core.TaskExecutionIdentifier
	gen    string
	nodeID string
}

func (t taskExecID) GetGeneratedName() string { return t.gen }
func (t taskExecID) GetGeneratedNameWith(minLength, maxLength int) (string, error) {
	return t.gen, nil
}
func (t taskExecID) GetID() core.TaskExecutionIdentifier { return t.id }
func (t taskExecID) GetUniqueNodeID() string             { return t.nodeID }

type overrides struct{}

func (overrides) GetResources() *v1.ResourceRequirements        { return &v1.ResourceRequirements{} }
func (overrides) GetExtendedResources() *core.ExtendedResources { return nil }
func (overrides) GetContainerImage() string                     { return "" }
func (overrides) GetPodTemplate() *core.K8SPod                  { return nil }
func (overrides) GetConfig() *v1.ConfigMap                      { return nil }

type execMeta struct {
	o       *opts
	id      taskExecID
	labels  map[string]string
	retries uint32
}

func (m execMeta) GetOwnerID() types.NamespacedName {
	return types.NamespacedName{Namespace: m.o.namespace, Name: m.o.execution}
}
func (m execMeta) GetTaskExecutionID() pluginsCore.TaskExecutionID { return m.id }
func (m execMeta) GetNamespace() string                            { return m.o.namespace }
func (m execMeta) GetOwnerReference() metav1.OwnerReference        { return metav1.OwnerReference{} }
func (m execMeta) GetOverrides() pluginsCore.TaskOverrides         { return overrides{} }
func (m execMeta) GetLabels() map[string]string                    { return m.labels }
func (m execMeta) GetMaxAttempts() uint32                          { return m.retries + 1 }
func (m execMeta) GetAnnotations() map[string]string               { return map[string]string{} }
func (m execMeta) GetK8sServiceAccount() string                    { return "" }
func (m execMeta) GetSecurityContext() core.SecurityContext {
	if m.o.sa == "" {
		return core.SecurityContext{}
	}
	return core.SecurityContext{RunAs: &core.Identity{K8SServiceAccount: m.o.sa}}
}
func (m execMeta) IsInterruptible() bool                          { return m.o.interruptible }
func (m execMeta) GetPlatformResources() *v1.ResourceRequirements { return &v1.ResourceRequirements{} }
func (m execMeta) GetInterruptibleFailureThreshold() int32        { return -1 }
func (m execMeta) GetEnvironmentVariables() map[string]string     { return nil }
func (m execMeta) GetConsoleURL() string                          { return "" }

type taskReader struct{ t *core.TaskTemplate }

func (r taskReader) Read(context.Context) (*core.TaskTemplate, error) { return r.t, nil }
func (r taskReader) Path(context.Context) (storage.DataReference, error) {
	return "", errors.New("the task template path is not available")
}

type taskCtx struct {
	meta  execMeta
	task  taskReader
	store *storage.DataStore
	in    pluginsIO.InputReader
	out   pluginsIO.OutputWriter
}

func (c taskCtx) ResourceManager() pluginsCore.ResourceManager             { return nil }
func (c taskCtx) SecretManager() pluginsCore.SecretManager                 { return nil }
func (c taskCtx) TaskRefreshIndicator() pluginsCore.SignalAsync            { return nil }
func (c taskCtx) DataStore() *storage.DataStore                            { return c.store }
func (c taskCtx) PluginStateReader() pluginsCore.PluginStateReader         { return nil }
func (c taskCtx) TaskReader() pluginsCore.TaskReader                       { return c.task }
func (c taskCtx) InputReader() pluginsIO.InputReader                       { return c.in }
func (c taskCtx) TaskExecutionMetadata() pluginsCore.TaskExecutionMetadata { return c.meta }
func (c taskCtx) OutputWriter() pluginsIO.OutputWriter                     { return c.out }
func (c taskCtx) PluginStateWriter() pluginsCore.PluginStateWriter         { return nil }
func (c taskCtx) Catalog() catalog.AsyncClient                             { return nil }
func (c taskCtx) EventsRecorder() pluginsCore.EventsRecorder               { return nil }

// execLabels are the task-execution labels propeller puts on every node: the FlyteWorkflow's
// (execution-id, project, domain; spok has no workflow-name or shard-key) and the node's
// (node-id, task-name, interruptible); see pkg/controller/nodes/node_exec_context.go.
func execLabels(o *opts, t *core.TaskTemplate) map[string]string {
	return map[string]string{
		"execution-id":  o.execution,
		"project":       t.GetId().GetProject(),
		"domain":        t.GetId().GetDomain(),
		"node-id":       propellerUtils.SanitizeLabelValue(o.nodeID),
		"task-name":     propellerUtils.SanitizeLabelValue(t.GetId().GetName()),
		"interruptible": strconv.FormatBool(o.interruptible),
	}
}

// addObjectMetadata is flytepropeller's PluginManager.addObjectMetadata for a plugin whose
// properties are all zero (the Spark plugin's).
func addObjectMetadata(m pluginsCore.TaskExecutionMetadata, o client.Object, cfg *k8sconfig.K8sPluginConfig,
	t *core.TaskTemplate) {
	k8sMetadata := t.GetMetadata().GetMetadata()
	o.SetNamespace(m.GetNamespace())
	o.SetAnnotations(pluginsUtils.UnionMaps(cfg.DefaultAnnotations, o.GetAnnotations(),
		k8sMetadata.GetAnnotations(), pluginsUtils.CopyMap(m.GetAnnotations())))
	o.SetLabels(pluginsUtils.UnionMaps(cfg.DefaultLabels, o.GetLabels(), k8sMetadata.GetLabels(),
		pluginsUtils.CopyMap(m.GetLabels())))
	o.SetName(m.GetTaskExecutionID().GetGeneratedName())
	o.SetOwnerReferences([]metav1.OwnerReference{m.GetOwnerReference()})
	if cfg.InjectFinalizer {
		_ = controllerutil.AddFinalizer(o, finalizer)
	}
	if errs := validation.IsDNS1123Subdomain(o.GetName()); len(errs) > 0 {
		o.SetName(pluginsUtils.ConvertToDNS1123SubdomainCompatibleString(o.GetName()))
	}
}

func loadConfig(ctx context.Context, path string) error {
	acc := viper.NewAccessor(config.Options{SearchPaths: []string{path}, StrictMode: false})
	return acc.UpdateConfig(ctx)
}

func build(ctx context.Context, o *opts) ([]byte, error) {
	if err := loadConfig(ctx, o.cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	t, err := readTemplate(o.pkg, o.task)
	if err != nil {
		return nil, err
	}
	// pyflyte package leaves project and domain empty; registration fills them in.
	if t.GetId().GetProject() == "" {
		t.Id.Project = o.project
	}
	if t.GetId().GetDomain() == "" {
		t.Id.Domain = o.domain
	}
	// A node is interruptible when the task says so (propeller, without a node override).
	o.interruptible = o.interruptible || t.GetMetadata().GetInterruptible()
	gen, err := encoding.FixedLengthUniqueIDForParts(idMaxLength,
		[]string{o.execution, o.nodeID, strconv.Itoa(o.attempt)})
	if err != nil {
		return nil, err
	}
	id := taskExecID{gen: gen, nodeID: o.nodeID, id: core.TaskExecutionIdentifier{
		TaskId: t.GetId(),
		NodeExecutionId: &core.NodeExecutionIdentifier{NodeId: o.nodeID,
			ExecutionId: &core.WorkflowExecutionIdentifier{Project: t.GetId().GetProject(),
				Domain: t.GetId().GetDomain(), Name: o.execution}},
		RetryAttempt: uint32(o.attempt),
	}}
	// The data store's metrics need the label keys propeller sets at start-up.
	labeled.SetMetricKeys(contextutils.ProjectKey, contextutils.DomainKey, contextutils.TaskIDKey)
	store, err := storage.NewDataStore(&storage.Config{Type: storage.TypeMemory}, promutils.NewScope("flyteref"))
	if err != nil {
		return nil, err
	}
	inPaths := ioutils.NewInputFilePaths(ctx, store, storage.DataReference(o.inputPrefix))
	// Rendering the container args reads the inputs: the node has none.
	if err := store.WriteProtobuf(ctx, inPaths.GetInputPath(), storage.Options{}, &core.LiteralMap{}); err != nil {
		return nil, err
	}
	in := ioutils.NewRemoteFileInputReader(ctx, store, inPaths)
	paths := ioutils.NewCheckpointRemoteFilePaths(ctx, store, storage.DataReference(o.outputPrefix),
		ioutils.NewRawOutputPaths(ctx, storage.DataReference(o.rawPrefix)), storage.DataReference(o.prevCheckpoint))
	tctx := taskCtx{
		meta:  execMeta{o: o, id: id, labels: execLabels(o, t), retries: t.GetMetadata().GetRetries().GetRetries()},
		task:  taskReader{t},
		store: store,
		in:    in,
		out:   ioutils.NewRemoteFileOutputWriter(ctx, store, paths),
	}
	for _, p := range pluginmachinery.PluginRegistry().GetK8sPlugins() {
		if p.ID != "spark" {
			continue
		}
		obj, err := p.Plugin.BuildResource(ctx, tctx)
		if err != nil {
			return nil, err
		}
		addObjectMetadata(tctx.meta, obj, k8sconfig.GetK8sPluginConfig(), t)
		return json.Marshal(obj)
	}
	return nil, errors.New("the spark plugin is not registered")
}

func main() {
	o := &opts{}
	flag.StringVar(&o.pkg, "package", "", "pyflyte package (.tgz)")
	flag.StringVar(&o.task, "task", "", "task name")
	flag.StringVar(&o.cfg, "config", "", "Flyte config file (plugins.k8s / plugins.spark)")
	flag.StringVar(&o.project, "project", "", "project for a task that names none")
	flag.StringVar(&o.domain, "domain", "", "domain for a task that names none")
	flag.StringVar(&o.execution, "execution", "", "workflow execution name")
	flag.StringVar(&o.nodeID, "node-id", "n0", "node id")
	flag.IntVar(&o.attempt, "attempt", 0, "0-based retry attempt")
	flag.StringVar(&o.namespace, "namespace", "", "namespace")
	flag.StringVar(&o.sa, "service-account", "", "execution run-as k8s service account")
	flag.BoolVar(&o.interruptible, "interruptible", false, "interruptible node")
	flag.StringVar(&o.inputPrefix, "input-prefix", "", "node data dir")
	flag.StringVar(&o.outputPrefix, "output-prefix", "", "output prefix")
	flag.StringVar(&o.rawPrefix, "raw-output-prefix", "", "raw output data prefix")
	flag.StringVar(&o.prevCheckpoint, "prev-checkpoint", "", "previous checkpoint prefix")
	dump := flag.Bool("dump-config", false, "print the loaded plugins.k8s and plugins.spark sections and exit")
	flag.Parse()
	var out []byte
	var err error
	if *dump {
		if err = loadConfig(context.Background(), o.cfg); err == nil {
			out, err = json.Marshal(map[string]interface{}{"k8s": k8sconfig.GetK8sPluginConfig(),
				"spark": spark.GetSparkConfig()})
		}
	} else {
		out, err = build(context.Background(), o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flyteref:", err)
		os.Exit(1)
	}
	os.Stdout.Write(append(out, '\n'))
}
