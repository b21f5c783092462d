/* bench_render.c - builds a realistic SparkApplication N times (default 20000) and prints
 * renders/s and heap allocations per render. Not a test: no timing is asserted anywhere.
 * Allocations are counted through -Wl,--wrap=malloc/calloc/realloc/aligned_alloc: spok's static
 * libraries are linked into this binary, and jansson allocates through common/jarena (installed
 * by the first render, done before the count starts), so every heap allocation is seen; the
 * jansson blocks carved out of arena chunks are reported beside them.
 * Usage: bench_render [N]   or   bench_render --dump (prints the one render, to compare builds) */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jarena.h"
#include "common/xalloc.h"
#include "sparkapp/sparkapp.h"

static unsigned long long n_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t c, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t c, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);

void *__wrap_malloc(size_t n)
{
	n_allocs++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t c, size_t n)
{
	n_allocs++;
	return __real_calloc(c, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	n_allocs++;
	return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	n_allocs++;
	return __real_aligned_alloc(a, n);
}

static int render_once(const struct spok_task *t, const struct spok_platform *p,
		       const struct spok_exec *x)
{
	json_t *app = NULL;

	if (spok_sparkapp_build(t, p, x, &app, NULL) != 0) {
		fprintf(stderr, "bench_render: build failed\n");
		return 1;
	}
	json_decref(app);
	return 0;
}

/* A flytekit-style task: pyflyte-execute args, Spark sizing, env, a feature, an overlay. */
static void make_task(struct spok_task *t)
{
	static const char *const args[] = {
		"pyflyte-execute", "--inputs", "{{.Input}}", "--output-prefix", "{{.OutputPrefix}}",
		"--raw-output-data-prefix", "{{.RawOutputDataPrefix}}", "--checkpoint-path",
		"{{.CheckpointOutputPrefix}}", "--prev-checkpoint", "{{.PrevCheckpointPrefix}}",
		"--resolver", "flytekit.core.python_auto_container.default_task_resolver", "--",
		"task-module", "workflows.pi", "task-name", "hello_spark"};

	spok_task_init(t);
	t->name = xstrdup("hello_spark");
	t->project = xstrdup("flytesnacks");
	t->domain = xstrdup("development");
	t->version = xstrdup("v1");
	t->image = xstrdup("ghcr.io/flyteorg/flytekit:spark-latest");
	t->main_application_file = xstrdup("local:///opt/venv/bin/entrypoint.py");
	t->executor_path = xstrdup("/opt/venv/bin/python3");
	for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
		spok_strv_push(&t->args, args[i]);
	spok_strmap_set(&t->spark_conf, "spark.driver.cores", "1");
	spok_strmap_set(&t->spark_conf, "spark.driver.memory", "1000M");
	spok_strmap_set(&t->spark_conf, "spark.executor.cores", "1");
	spok_strmap_set(&t->spark_conf, "spark.executor.instances", "2");
	spok_strmap_set(&t->spark_conf, "spark.executor.memory", "1000M");
	spok_strmap_set(&t->spark_conf, "spark.flyte.s3.enabled", "true");
	spok_strmap_set(&t->env, "FLYTE_SDK_LOGGING_LEVEL", "20");
	t->retries = 2;
	t->driver_pod.present = true;
	spok_strmap_set(&t->driver_pod.labels, "role", "driver");
	t->driver_pod.pod_spec = json_pack("{s:[{s:s,s:[{s:s,s:s}]}]}", "containers", "name",
					   "abc123-n0-0", "env", "name", "EXTRA", "value", "1");
}

static void make_platform(struct spok_platform *p)
{
	spok_platform_init(p);
	p->spark.nfeatures = 1;
	p->spark.features = xcalloc(1, sizeof(*p->spark.features));
	p->spark.features[0].name = xstrdup("s3");
	spok_strmap_set(&p->spark.features[0].spark_config, "spark.hadoop.fs.s3a.impl",
			"org.apache.hadoop.fs.s3a.S3AFileSystem");
	spok_strmap_set(&p->spark.spark_config_default, "spark.task.maxfailures", "8");
	spok_strmap_set(&p->k8s.default_env_vars, "AWS_REGION", "us-east-1");
	p->k8s.default_tolerations = json_pack("[{s:s,s:s}]", "key", "dedicated", "operator",
					       "Exists");
	p->k8s.non_interruptible_node_selector_requirement =
		json_pack("{s:s,s:s,s:[s]}", "key", "lifecycle", "operator", "NotIn", "values", "spot");
}

int main(int argc, char **argv)
{
	bool dump = argc > 1 && strcmp(argv[1], "--dump") == 0;
	long n = argc > 1 && !dump ? strtol(argv[1], NULL, 10) : 20000;
	struct spok_platform p;
	struct spok_task t;
	struct spok_exec x = {0};
	struct timespec a, b;
	struct spok_jarena_stats js0, js1;
	unsigned long long before;
	double secs;

	if (n <= 0)
		n = 20000;
	make_task(&t);
	make_platform(&p);
	x.execution_name = "abc123";
	x.node_id = "n0";
	x.namespace_ = "flytesnacks-development";
	x.now_ms = 1767225600000;
	x.input_prefix = "s3://my-s3-bucket/metadata/propeller/flytesnacks-development-abc123/n0/data";
	x.output_prefix = "s3://my-s3-bucket/metadata/propeller/flytesnacks-development-abc123/n0/data/0";
	x.raw_output_prefix = "s3://my-s3-bucket/data/ab/abc123-n0-0";
	x.prev_checkpoint = "";
	if (dump) {
		json_t *app = NULL;
		int rc = spok_sparkapp_build(&t, &p, &x, &app, NULL);
		if (rc == 0)
			json_dumpf(app, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(app);
		spok_task_free(&t);
		spok_platform_free(&p);
		return rc == 0 ? 0 : 1;
	}
	if (render_once(&t, &p, &x) != 0) /* installs jansson's allocator (common/jarena) */
		return 1;
	before = n_allocs;
	spok_jarena_stats(&js0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		if (render_once(&t, &p, &x) != 0)
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	spok_jarena_stats(&js1);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("renders: %ld\nrenders/s: %.0f\nallocations/render: %.1f\n", n, (double)n / secs,
	       (double)(n_allocs - before) / (double)n);
	printf("  of which arena chunks: %.2f; jansson blocks carved from them: %.1f\n",
	       (double)(js1.chunks - js0.chunks) / (double)n,
	       (double)(js1.blocks - js0.blocks) / (double)n);
	spok_task_free(&t);
	spok_platform_free(&p);
	return 0;
}
