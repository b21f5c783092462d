/* test_flyteidl.c - TaskSpec/TaskTemplate decoding against a real pyflyte TaskSpec
 * (data/hello_spark_1.pb), mutated to cover every bad-input path; packages built in
 * memory; literal encoding. With argv[1] = dir it also writes <dir>/inputs.pb for the
 * python round-trip check (check_inputs.py). */
#include "testutil.h"

#include "flyteidl/flyteidl.h"

#include "flyteidl/admin/task.pb-c.h"
#include "flyteidl/core/tasks.pb-c.h"

static const char *inputs_dir;

/* ---- building protobuf values from JSON (test-only) ---- */

static Google__Protobuf__Struct *struct_from_json(json_t *obj);

static Google__Protobuf__Value *value_from_json(json_t *j)
{
	Google__Protobuf__Value *v = xmalloc(sizeof(*v));
	size_t i;
	json_t *item;

	google__protobuf__value__init(v);
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
		v->struct_value = struct_from_json(j);
		break;
	case JSON_ARRAY:
		v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE;
		v->list_value = xmalloc(sizeof(*v->list_value));
		google__protobuf__list_value__init(v->list_value);
		v->list_value->values = xcalloc(json_array_size(j) + 1, sizeof(void *));
		json_array_foreach(j, i, item)
			v->list_value->values[v->list_value->n_values++] = value_from_json(item);
		break;
	case JSON_STRING:
		v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
		v->string_value = xstrdup(json_string_value(j));
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
		v->number_value = json_number_value(j);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE;
		v->bool_value = json_is_true(j);
		break;
	default:
		v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NULL_VALUE;
	}
	return v;
}

static Google__Protobuf__Struct *struct_from_json(json_t *obj)
{
	Google__Protobuf__Struct *s = xmalloc(sizeof(*s));
	const char *k;
	json_t *v;

	google__protobuf__struct__init(s);
	s->fields = xcalloc(json_object_size(obj) + 1, sizeof(void *));
	json_object_foreach(obj, k, v) {
		Google__Protobuf__Struct__FieldsEntry *e = xmalloc(sizeof(*e));

		google__protobuf__struct__fields_entry__init(e);
		e->key = xstrdup(k);
		e->value = value_from_json(v);
		s->fields[s->n_fields++] = e;
	}
	return s;
}

static Google__Protobuf__Struct *struct_from_text(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	Google__Protobuf__Struct *s;

	if (j == NULL)
		fail_msg("bad test JSON: %s", je.text);
	s = struct_from_json(j);
	json_decref(j);
	return s;
}

/* ---- mutating the real TaskSpec ---- */

struct mutation {
	const char *type;         /* NULL: keep */
	const char *name;         /* Identifier.name; NULL: keep */
	const char *custom;       /* NULL: keep; "": remove; else JSON */
	const char *pod_spec;     /* non-NULL: switch the target to k8s_pod with this PodSpec */
	const char *primary;      /* config primary_container_name for k8s_pod, or NULL */
	Flyteidl__Core__TaskMetadata *metadata; /* non-NULL: replace */
	Flyteidl__Core__SecurityContext *security;
	bool template_only;       /* pack the TaskTemplate alone, not the TaskSpec */
};

static uint8_t *mutated(const struct mutation *m, size_t *len)
{
	struct spok_buf b;
	Flyteidl__Admin__TaskSpec *spec, scopy;
	Flyteidl__Core__TaskTemplate copy;
	Flyteidl__Core__Identifier id;
	Flyteidl__Core__K8sPod pod = FLYTEIDL__CORE__K8S_POD__INIT;
	Flyteidl__Core__TaskTemplate__ConfigEntry cfg = FLYTEIDL__CORE__TASK_TEMPLATE__CONFIG_ENTRY__INIT;
	Flyteidl__Core__TaskTemplate__ConfigEntry *cfgs[1] = { &cfg };
	Google__Protobuf__Struct *custom = NULL, *podspec = NULL;
	uint8_t *out;

	read_whole(data_dir(), "hello_spark_1.pb", &b);
	spec = flyteidl__admin__task_spec__unpack(NULL, b.len, (const uint8_t *)b.data);
	assert_non_null(spec);
	copy = *spec->template_;
	scopy = *spec;
	scopy.template_ = &copy;
	if (m->type != NULL)
		copy.type = (char *)m->type;
	if (m->name != NULL) {
		id = *copy.id;
		id.name = (char *)m->name;
		copy.id = &id;
	}
	if (m->custom != NULL && m->custom[0] == '\0')
		copy.custom = NULL;
	else if (m->custom != NULL)
		copy.custom = custom = struct_from_text(m->custom);
	if (m->pod_spec != NULL) {
		pod.pod_spec = podspec = struct_from_text(m->pod_spec);
		copy.target_case = FLYTEIDL__CORE__TASK_TEMPLATE__TARGET_K8S_POD;
		copy.k8s_pod = &pod;
	}
	if (m->primary != NULL) {
		cfg.key = (char *)"primary_container_name";
		cfg.value = (char *)m->primary;
		copy.n_config = 1;
		copy.config = cfgs;
	}
	if (m->metadata != NULL)
		copy.metadata = m->metadata;
	if (m->security != NULL)
		copy.security_context = m->security;
	if (m->template_only) {
		*len = flyteidl__core__task_template__get_packed_size(&copy);
		out = xmalloc(*len);
		flyteidl__core__task_template__pack(&copy, out);
	} else {
		*len = flyteidl__admin__task_spec__get_packed_size(&scopy);
		out = xmalloc(*len);
		flyteidl__admin__task_spec__pack(&scopy, out);
	}
	if (custom != NULL)
		protobuf_c_message_free_unpacked(&custom->base, NULL);
	if (podspec != NULL)
		protobuf_c_message_free_unpacked(&podspec->base, NULL);
	flyteidl__admin__task_spec__free_unpacked(spec, NULL);
	spok_buf_free(&b);
	return out;
}

/* Loads a mutated TaskSpec through the file-level loader; returns the result code. */
static int load_mutated(const struct mutation *m, struct spok_task *t, struct spok_err *err)
{
	size_t len;
	uint8_t *buf = mutated(m, &len);
	int rc = spok_flyte_load_task_buf(buf, len, "t.pb", NULL, t, err);

	free(buf);
	return rc;
}

static void expect_error(const struct mutation *m, const char *want)
{
	struct spok_task t;
	struct spok_err err = { 0 };

	assert_int_equal(load_mutated(m, &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, want);
	assert_null(t.name); /* nothing half-filled */
	spok_task_free(&t);
}

/* ---- tests: the real TaskSpec ---- */

static void test_real_task_spec(void **state)
{
	struct spok_buf b;
	struct spok_task t;
	struct spok_err err = { 0 };

	(void)state;
	read_whole(data_dir(), "hello_spark_1.pb", &b);
	assert_int_equal(spok_flyte_parse_task_spec((const uint8_t *)b.data, b.len, "x_1.pb", &t,
						    &err), 0);
	assert_int_equal(t.origin, SPOK_ORIGIN_FLYTE);
	assert_string_equal(t.source_path, "x_1.pb");
	assert_string_equal(t.name, "pi.hello_spark");
	assert_string_equal(t.project, "spok");
	assert_string_equal(t.domain, "development");
	assert_null(t.version);
	assert_int_equal(t.type, SPOK_APP_PYTHON);
	assert_string_equal(t.main_application_file, "local:///opt/venv/bin/entrypoint.py");
	assert_null(t.main_class);
	assert_string_equal(t.executor_path, "/opt/venv/bin/python3");
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.executor.instances"), "2");
	assert_int_equal(t.spark_conf.len, 5);
	assert_string_equal(t.image, "spok-spark:local");
	assert_string_equal(t.args.items[0], "pyflyte-execute");
	assert_false(t.k8s_pod.present);
	assert_int_equal(t.inputs.len, 1);
	assert_string_equal(t.inputs.items[0].name, "partitions");
	assert_int_equal(t.inputs.items[0].type, SPOK_LIT_INTEGER);
	assert_int_equal(t.outputs.items[0].type, SPOK_LIT_FLOAT);
	spok_task_free(&t);
	/* The same bytes as a TaskTemplate are not one. */
	assert_int_equal(spok_flyte_parse_task_template((const uint8_t *)b.data, b.len, "x_1.pb", &t,
							&err), SPOK_EINVAL);
	spok_buf_free(&b);
}

static void test_template_alone(void **state)
{
	struct mutation m = { .template_only = true };
	struct spok_task t;
	struct spok_err err = { 0 };
	size_t len;
	uint8_t *buf = mutated(&m, &len);

	(void)state;
	assert_int_equal(spok_flyte_load_task_buf(buf, len, "task.pb", "hello_spark", &t, &err), 0);
	assert_string_equal(t.name, "pi.hello_spark");
	spok_task_free(&t);
	assert_int_equal(spok_flyte_parse_task_template(buf, len, "task.pb", &t, &err), 0);
	spok_task_free(&t);
	assert_int_equal(spok_flyte_load_task_buf(buf, len, "task.pb", "other", &t, &err),
			 SPOK_ENOTFOUND);
	assert_string_equal(err.msg, "task.pb: holds task 'pi.hello_spark', not 'other'; drop the "
			    "task name or pass the right file");
	free(buf);
}

static void test_truncated(void **state)
{
	struct spok_buf b;
	struct spok_task t;
	struct spok_err err = { 0 };

	(void)state;
	read_whole(data_dir(), "hello_spark_1.pb", &b);
	assert_int_equal(spok_flyte_load_task_buf((const uint8_t *)b.data, b.len / 2, "t.pb", NULL,
						  &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "t.pb: not a valid flyteidl.admin.TaskSpec or "
			    "flyteidl.core.TaskTemplate (truncated, corrupt, or another message "
			    "type); pass a file written by flytekit/pyflyte");
	assert_int_equal(spok_flyte_parse_task_spec((const uint8_t *)b.data, b.len - 3, "t.pb", &t,
						    &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "t.pb: not a valid flyteidl.admin.TaskSpec (truncated, "
			    "corrupt, or another message type); pass a file written by "
			    "flytekit/pyflyte");
	spok_buf_free(&b);
}

static void test_wrong_message(void **state)
{
	struct spok_vars iface = { 0 };
	struct spok_strmap vals = { 0 };
	struct spok_task t;
	struct spok_err err = { 0 };
	uint8_t *buf;
	size_t len;

	(void)state;
	spok_vars_add(&iface, "partitions", SPOK_LIT_INTEGER);
	spok_strmap_set(&vals, "partitions", "7");
	assert_int_equal(spok_flyte_encode_inputs(&iface, &vals, &buf, &len, &err), 0);
	assert_int_equal(spok_flyte_load_task_buf(buf, len, "inputs.pb", NULL, &t, &err),
			 SPOK_EINVAL);
	assert_string_equal(err.msg, "inputs.pb: not a valid flyteidl.admin.TaskSpec or "
			    "flyteidl.core.TaskTemplate (truncated, corrupt, or another message "
			    "type); pass a file written by flytekit/pyflyte");
	free(buf);
	spok_vars_free(&iface);
	spok_strmap_free(&vals);
}

static void test_not_spark(void **state)
{
	struct mutation m = { .type = "python-task" };

	(void)state;
	expect_error(&m, "t.pb: task type 'python-task' is not a Spark task; spok runs tasks "
		     "declared with task_config=Spark(...)");
}

static void test_missing_custom(void **state)
{
	struct mutation m = { .custom = "" };

	(void)state;
	expect_error(&m, "t.pb: custom: no SparkJob in the task (custom is empty): either "
		     "mainApplicationFile or mainClass must be set; serialize the task with "
		     "flytekitplugins-spark");
}

static void test_bad_custom(void **state)
{
	static const struct { const char *custom, *want; } cases[] = {
		{ "{\"mainApplicationFile\":\"local:///a.py\",\"sparkConf\":{\"spark.executor.instances\":2}}",
		  "t.pb: custom.sparkConf[\"spark.executor.instances\"]: expected a string value, got a "
		  "number; quote the value in the task's config" },
		{ "{\"mainApplicationFile\":7}",
		  "t.pb: custom.mainApplicationFile: expected a string, got a number; fix the task's "
		  "Spark config" },
		{ "{\"mainClass\":\"a.B\",\"hadoopConf\":[\"x\"]}",
		  "t.pb: custom.hadoopConf: expected a map of strings, got a list; fix the task's "
		  "Spark config" },
		{ "{\"mainClass\":\"a.B\",\"applicationType\":\"COBOL\"}",
		  "t.pb: custom.applicationType: unknown application type; use PYTHON, JAVA, SCALA or R" },
		{ "{\"mainClass\":\"a.B\",\"applicationType\":7}",
		  "t.pb: custom.applicationType: unknown application type; use PYTHON, JAVA, SCALA or R" },
		{ "{\"mainClass\":\"a.B\",\"driverPod\":\"x\"}",
		  "t.pb: custom.driverPod: expected an object (K8sPod), got a string; fix the pod template" },
		{ "{\"mainClass\":\"a.B\",\"executorPod\":{\"podSpec\":[]}}",
		  "t.pb: custom.executorPod.podSpec: expected an object (PodSpec), got a list; fix the "
		  "pod template" },
		{ "{\"mainClass\":\"a.B\",\"driverPod\":{\"metadata\":{\"labels\":{\"a\":true}}}}",
		  "t.pb: custom.driverPod.metadata.labels[\"a\"]: expected a string value, got a boolean; "
		  "quote the value in the task's config" },
		{ "{\"executorPath\":\"/usr/bin/python3\",\"sparkConf\":{}}",
		  "t.pb: custom: either mainApplicationFile or mainClass must be set; set "
		  "applications_path or main_class in the task's Spark config" },
		{ "{\"mainApplicationFile\":\"\",\"mainClass\":\"\"}",
		  "t.pb: custom: either mainApplicationFile or mainClass must be set; set "
		  "applications_path or main_class in the task's Spark config" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mutation m = { .custom = cases[i].custom };

		expect_error(&m, cases[i].want);
	}
}

static void test_custom_variants(void **state)
{
	struct mutation m = { .custom =
		"{\"application_type\":\"SCALA\",\"main_class\":\"org.example.Pi\","
		"\"main_application_file\":\"local:///opt/spark/examples/jars/ex.jar\","
		"\"spark_conf\":{\"spark.a\":\"1\"},\"hadoopConf\":{\"fs.x\":\"y\"},"
		"\"executorPath\":null,\"databricksConf\":{\"k\":1},\"newField\":[1,2],"
		"\"driverPod\":{\"metadata\":{\"labels\":{\"l\":\"v\"},\"annotations\":{\"a\":\"b\"}},"
		"\"podSpec\":{\"containers\":[{\"name\":\"primary\"}],\"securityContext\":{\"runAsUser\":1000}},"
		"\"primaryContainerName\":\"primary\"},"
		"\"executor_pod\":{\"pod_spec\":{\"priority\":1.5},\"primary_container_name\":\"c\"}}" };
	struct spok_task t;
	struct spok_err err = { 0 };
	char *js;

	(void)state;
	assert_int_equal(load_mutated(&m, &t, &err), 0);
	assert_int_equal(t.type, SPOK_APP_SCALA);
	assert_string_equal(t.main_class, "org.example.Pi");
	assert_string_equal(spok_strmap_get(&t.spark_conf, "spark.a"), "1");
	assert_string_equal(spok_strmap_get(&t.hadoop_conf, "fs.x"), "y");
	assert_null(t.executor_path);
	assert_true(t.driver_pod.present);
	assert_string_equal(spok_strmap_get(&t.driver_pod.labels, "l"), "v");
	assert_string_equal(spok_strmap_get(&t.driver_pod.annotations, "a"), "b");
	assert_string_equal(t.driver_pod.primary_container_name, "primary");
	js = json_dumps(t.driver_pod.pod_spec, JSON_COMPACT | JSON_SORT_KEYS);
	/* Struct numbers are doubles; integral ones must come back as JSON integers. */
	assert_string_equal(js, "{\"containers\":[{\"name\":\"primary\"}],"
			    "\"securityContext\":{\"runAsUser\":1000}}");
	free(js);
	js = json_dumps(t.executor_pod.pod_spec, JSON_COMPACT);
	assert_string_equal(js, "{\"priority\":1.5}");
	free(js);
	assert_string_equal(t.executor_pod.primary_container_name, "c");
	spok_task_free(&t);

	m.custom = "{\"applicationType\":1,\"mainClass\":\"a.B\"}";
	assert_int_equal(load_mutated(&m, &t, &err), 0);
	assert_int_equal(t.type, SPOK_APP_JAVA);
	assert_null(t.main_application_file);
	spok_task_free(&t);
}

static void test_k8s_pod_target(void **state)
{
	struct mutation m = {
		.pod_spec = "{\"containers\":[{\"name\":\"side\",\"image\":\"x\"},"
			    "{\"name\":\"primary\",\"image\":\"img:2\",\"args\":[\"pyflyte-execute\",\"--inputs\"],"
			    "\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"S\",\"valueFrom\":{}}]}]}",
		.primary = "primary",
	};
	struct spok_task t;
	struct spok_err err = { 0 };

	(void)state;
	assert_int_equal(load_mutated(&m, &t, &err), 0);
	assert_true(t.k8s_pod.present);
	assert_string_equal(t.k8s_pod.primary_container_name, "primary");
	assert_non_null(t.k8s_pod.pod_spec);
	assert_string_equal(t.image, "img:2");
	assert_int_equal(t.args.len, 2);
	assert_string_equal(spok_strmap_get(&t.env, "A"), "1");
	assert_false(spok_strmap_has(&t.env, "S"));
	assert_string_equal(spok_strmap_get(&t.config, "primary_container_name"), "primary");
	spok_task_free(&t);

	m.primary = NULL;
	expect_error(&m, "t.pb: config.primary_container_name: missing for a k8s_pod task; name "
		     "the primary container in the task's config");
	m.primary = "main";
	expect_error(&m, "t.pb: k8s_pod.pod_spec: no container named 'main' "
		     "(config.primary_container_name); add it to the pod template");
}

static void test_metadata(void **state)
{
	Google__Protobuf__Duration timeout = GOOGLE__PROTOBUF__DURATION__INIT;
	Flyteidl__Core__RetryStrategy retries = FLYTEIDL__CORE__RETRY_STRATEGY__INIT;
	Flyteidl__Core__K8sObjectMetadata meta = FLYTEIDL__CORE__K8S_OBJECT_METADATA__INIT;
	Flyteidl__Core__K8sObjectMetadata__LabelsEntry label =
		FLYTEIDL__CORE__K8S_OBJECT_METADATA__LABELS_ENTRY__INIT;
	Flyteidl__Core__K8sObjectMetadata__LabelsEntry *labels[1] = { &label };
	Flyteidl__Core__TaskMetadata md = FLYTEIDL__CORE__TASK_METADATA__INIT;
	Flyteidl__Core__Identity id = FLYTEIDL__CORE__IDENTITY__INIT;
	Flyteidl__Core__SecurityContext sc = FLYTEIDL__CORE__SECURITY_CONTEXT__INIT;
	struct mutation m = { .metadata = &md, .security = &sc };
	struct spok_task t;
	struct spok_err err = { 0 };

	(void)state;
	timeout.seconds = 90;
	timeout.nanos = 500000000;
	retries.retries = 3;
	label.key = (char *)"team";
	label.value = (char *)"data";
	meta.n_labels = 1;
	meta.labels = labels;
	md.timeout = &timeout;
	md.retries = &retries;
	md.metadata = &meta;
	md.pod_template_name = (char *)"spark-template";
	md.interruptible_value_case = FLYTEIDL__CORE__TASK_METADATA__INTERRUPTIBLE_VALUE_INTERRUPTIBLE;
	md.interruptible = 1;
	id.k8s_service_account = (char *)"task-sa";
	sc.run_as = &id;
	assert_int_equal(load_mutated(&m, &t, &err), 0);
	assert_int_equal(t.timeout_s, 91);
	assert_int_equal(t.retries, 3);
	assert_true(t.interruptible);
	assert_string_equal(t.pod_template_name, "spark-template");
	assert_string_equal(spok_strmap_get(&t.labels, "team"), "data");
	/* Flyte's plugin never takes the service account from the task template. */
	assert_null(t.service_account);
	spok_task_free(&t);

	timeout.seconds = -1;
	expect_error(&m, "t.pb: metadata.timeout: negative or malformed duration; set a positive "
		     "timeout");
	/* Runners compute timeout_s * 1000 (ms): an unbounded value would wrap into a tiny
	 * timeout that kills the job at once. */
	timeout.seconds = INT64_MAX;
	timeout.nanos = 0;
	expect_error(&m, "t.pb: metadata.timeout: longer than 100 years; set a shorter timeout "
		     "(or none)");
	timeout.seconds = (int64_t)SPOK_TASK_TIMEOUT_MAX_S;
	assert_int_equal(load_mutated(&m, &t, &err), 0);
	assert_true(t.timeout_s == SPOK_TASK_TIMEOUT_MAX_S);
	spok_task_free(&t);
}

/* ---- packages built in memory ---- */

static uint8_t *spec_bytes(const char *type, const char *name, size_t *len)
{
	struct mutation m = { .type = type, .name = name };

	return mutated(&m, len);
}

static int load_tar(struct spok_buf *tar, const char *task, struct spok_task *t,
		    struct spok_err *err)
{
	size_t zlen;
	uint8_t *z = gzip_bytes(tar->data, tar->len, &zlen);
	int rc = spok_flyte_load_task_buf(z, zlen, "p.tgz", task, t, err);

	free(z);
	return rc;
}

static void test_package_selection(void **state)
{
	struct spok_buf tar;
	struct spok_task t;
	struct spok_err err = { 0 };
	size_t len, pylen;
	uint8_t *spark = spec_bytes(NULL, NULL, &len);
	uint8_t *py = spec_bytes("python-task", "pi.other", &pylen);

	(void)state;
	spok_buf_init(&tar, 0);
	tar_add(&tar, "0_pi.hello_spark_1.pb", '0', spark, len);
	tar_add(&tar, "1_pi.other_1.pb", '0', py, pylen);
	tar_add(&tar, "2_pi.wf_2.pb", '0', "junk", 4);
	tar_end(&tar);
	assert_int_equal(load_tar(&tar, NULL, &t, &err), 0);
	assert_string_equal(t.name, "pi.hello_spark");
	assert_string_equal(t.source_path, "p.tgz");
	spok_task_free(&t);
	assert_int_equal(load_tar(&tar, "pi.hello_spark", &t, &err), 0);
	spok_task_free(&t);
	assert_int_equal(load_tar(&tar, "nope", &t, &err), SPOK_ENOTFOUND);
	assert_string_equal(err.msg, "p.tgz: no task named 'nope' in the package (tasks: "
			    "pi.hello_spark [spark], pi.other [python-task]); pass one of these "
			    "names");
	assert_int_equal(load_tar(&tar, "other", &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "p.tgz:1_pi.other_1.pb: task type 'python-task' is not a "
			    "Spark task; spok runs tasks declared with task_config=Spark(...)");
	spok_buf_free(&tar);

	spok_buf_init(&tar, 0);
	tar_add(&tar, "pkg/1_pi.other_1.pb", '0', py, pylen);
	tar_end(&tar);
	assert_int_equal(load_tar(&tar, NULL, &t, &err), SPOK_ENOTFOUND);
	assert_string_equal(err.msg, "p.tgz: no Spark task in the package (tasks: pi.other "
			    "[python-task]); package a task with task_config=Spark(...)");
	spok_buf_free(&tar);

	spok_buf_init(&tar, 0);
	tar_add(&tar, "a_1.pb", '0', spark, len);
	tar_add(&tar, "b_1.pb", '0', spark, len);
	tar_end(&tar);
	assert_int_equal(load_tar(&tar, NULL, &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "p.tgz: the package has several Spark tasks (pi.hello_spark "
			    "[spark], pi.hello_spark [spark]); choose one by name");
	assert_int_equal(load_tar(&tar, "hello_spark", &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "p.tgz: task name 'hello_spark' is ambiguous (tasks: "
			    "pi.hello_spark [spark], pi.hello_spark [spark]); pass the full name");
	spok_buf_free(&tar);
	free(spark);
	free(py);
}

static void test_package_traversal(void **state)
{
	struct spok_buf tar;
	struct spok_task t;
	struct spok_err err = { 0 };

	(void)state;
	spok_buf_init(&tar, 0);
	tar_add(&tar, "../0_evil_1.pb", '0', "x", 1);
	tar_end(&tar);
	assert_int_equal(load_tar(&tar, NULL, &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "p.tgz: entry '../0_evil_1.pb' has an unsafe path (absolute "
			    "or with '..'); re-create the package with pyflyte package");
	spok_buf_free(&tar);
	spok_buf_init(&tar, 0);
	tar_add(&tar, "/etc/x_1.pb", '0', "x", 1);
	tar_end(&tar);
	assert_int_equal(load_tar(&tar, NULL, &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "p.tgz: entry '/etc/x_1.pb' has an unsafe path (absolute "
			    "or with '..'); re-create the package with pyflyte package");
	spok_buf_free(&tar);
	/* A GNU long name ('L') carries the real name of the next entry. */
	spok_buf_init(&tar, 0);
	tar_add(&tar, "././@LongLink", 'L', "a/../../b_1.pb", 14);
	tar_add(&tar, "b_1.pb", '0', "x", 1);
	tar_end(&tar);
	assert_int_equal(load_tar(&tar, NULL, &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "p.tgz: entry 'a/../../b_1.pb' has an unsafe path (absolute "
			    "or with '..'); re-create the package with pyflyte package");
	spok_buf_free(&tar);
}

static void test_package_caps(void **state)
{
	struct spok_buf tar;
	struct spok_task t;
	struct spok_err err = { 0 };
	char name[32];
	uint8_t *big;
	size_t zlen;

	(void)state;
	spok_buf_init(&tar, 0);
	for (int i = 0; i < 257; i++) {
		snprintf(name, sizeof(name), "%d_x_2.pb", i);
		tar_add(&tar, name, '0', "x", 1);
	}
	tar_end(&tar);
	assert_int_equal(load_tar(&tar, NULL, &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "p.tgz: package has more than 256 entries; package fewer "
			    "entities");
	spok_buf_free(&tar);

	/* 65 MiB of zeros compresses to ~64 KiB: a decompression bomb must stop at the cap. */
	big = xcalloc((size_t)65 << 20, 1);
	{
		uint8_t *z = gzip_bytes(big, (size_t)65 << 20, &zlen);

		assert_int_equal(spok_flyte_load_task_buf(z, zlen, "p.tgz", NULL, &t, &err),
				 SPOK_EINVAL);
		assert_string_equal(err.msg, "p.tgz: package is larger than 64 MiB uncompressed; "
				    "package fewer entities");
		/* truncated gzip */
		assert_int_equal(spok_flyte_load_task_buf(z, zlen / 2, "p.tgz", NULL, &t, &err),
				 SPOK_EINVAL);
		assert_string_equal(err.msg, "p.tgz: gzip stream is truncated; re-create the package "
				    "with pyflyte package");
		free(z);
	}
	/* A .pb over 16 MiB. */
	big[0] = 0x0a;
	assert_int_equal(spok_flyte_load_task_buf(big, (16 << 20) + 1, "big.pb", NULL, &t, &err),
			 SPOK_EINVAL);
	assert_string_equal(err.msg, "big.pb: 16777217 bytes is over the 16 MiB limit for a "
			    "flyteidl.core.TaskTemplate; pass a smaller file");
	free(big);
}

static void test_package_corrupt_tar(void **state)
{
	struct spok_buf tar;
	struct spok_task t;
	struct spok_err err = { 0 };

	(void)state;
	spok_buf_init(&tar, 0);
	tar_add(&tar, "a_1.pb", '0', "x", 1);
	tar.data[148] = '7'; /* checksum */
	assert_int_equal(load_tar(&tar, NULL, &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "p.tgz: corrupt tar header at offset 0; re-create the package "
			    "with pyflyte package");
	spok_buf_free(&tar);
	spok_buf_init(&tar, 0);
	tar_add(&tar, "a_1.pb", '0', "x", 1);
	tar_end(&tar);
	assert_int_equal(load_tar(&tar, NULL, &t, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "p.tgz:a_1.pb: not a valid flyteidl.admin.TaskSpec (truncated, "
			    "corrupt, or another message type); pass a file written by "
			    "flytekit/pyflyte");
	spok_buf_free(&tar);
}

/* Literal{collection{Literal{collection{...}}}} nested `depth` times inside a LiteralMap. */
static void nested_literal(struct spok_buf *out, int depth)
{
	struct spok_buf cur, next;
	uint8_t hdr[16];

	spok_buf_init(&cur, 0);
	spok_buf_append(&cur, "", 0);
	for (int i = 0; i < depth; i++) {
		/* coll = 0x0a len lit ; lit = 0x12 len coll */
		size_t n = cur.len, h = 0;

		spok_buf_init(&next, 0);
		hdr[h++] = 0x0a;
		for (size_t v = n; ; v >>= 7) {
			hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			if (v <= 0x7f)
				break;
		}
		spok_buf_append(&next, hdr, h);
		spok_buf_append(&next, cur.data, n);
		h = 0;
		hdr[h++] = 0x12;
		for (size_t v = next.len; ; v >>= 7) {
			hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			if (v <= 0x7f)
				break;
		}
		spok_buf_free(&cur);
		spok_buf_init(&cur, 0);
		spok_buf_append(&cur, hdr, h);
		spok_buf_append(&cur, next.data, next.len);
		spok_buf_free(&next);
	}
	/* map entry: key "x", value lit; LiteralMap field 1 */
	{
		uint8_t e[8] = { 0x0a, 0x01, 'x', 0x12 };
		size_t h = 4, elen;

		for (size_t v = cur.len; ; v >>= 7) {
			e[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			if (v <= 0x7f)
				break;
		}
		elen = h + cur.len;
		spok_buf_init(out, 0);
		hdr[0] = 0x0a;
		h = 1;
		for (size_t v = elen; ; v >>= 7) {
			hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			if (v <= 0x7f)
				break;
		}
		spok_buf_append(out, hdr, h);
		spok_buf_append(out, e, elen - cur.len);
		spok_buf_append(out, cur.data, cur.len);
	}
	spok_buf_free(&cur);
}

static void test_deep_nesting(void **state)
{
	struct spok_buf b;
	struct spok_err err = { 0 };
	json_t *j = NULL;
	char *s;

	(void)state;
	nested_literal(&b, 3);
	assert_int_equal(spok_flyte_decode_literal_map((const uint8_t *)b.data, b.len, "o.pb", &j,
						       &err), 0);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"x\":[[[null]]]}");
	free(s);
	json_decref(j);
	spok_buf_free(&b);
	nested_literal(&b, 5000);
	assert_int_equal(spok_flyte_decode_literal_map((const uint8_t *)b.data, b.len, "o.pb", &j,
						       &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "o.pb: not a valid flyteidl.core.LiteralMap (messages nested "
			    "deeper than 64 levels); pass a file written by flytekit/pyflyte");
	spok_buf_free(&b);
}

static void test_sniff(void **state)
{
	static const uint8_t gz[] = { 0x1f, 0x8b, 8, 0 };
	static const char yaml[] = "\napiVersion: spok/v1\nkind: SparkJob # \xcf\x80\n";
	struct spok_buf b;

	(void)state;
	read_whole(data_dir(), "hello_spark_1.pb", &b);
	assert_true(spok_flyte_sniff((const uint8_t *)b.data, b.len));
	assert_true(spok_flyte_sniff(gz, sizeof(gz)));
	assert_false(spok_flyte_sniff((const uint8_t *)yaml, strlen(yaml)));
	assert_false(spok_flyte_sniff((const uint8_t *)"", 0));
	assert_true(spok_flyte_sniff((const uint8_t *)"a: \xff", 4));
	spok_buf_free(&b);
}

/* ---- literals ---- */

static void iface_all(struct spok_vars *iface)
{
	spok_vars_add(iface, "partitions", SPOK_LIT_INTEGER);
	spok_vars_add(iface, "ratio", SPOK_LIT_FLOAT);
	spok_vars_add(iface, "label", SPOK_LIT_STRING);
	spok_vars_add(iface, "flag", SPOK_LIT_BOOLEAN);
	spok_vars_add(iface, "when", SPOK_LIT_DATETIME);
	spok_vars_add(iface, "wait", SPOK_LIT_DURATION);
}

static void test_encode_inputs(void **state)
{
	struct spok_vars iface = { 0 };
	struct spok_strmap vals = { 0 };
	struct spok_err err = { 0 };
	uint8_t *buf;
	size_t len;
	json_t *j;
	char *s;

	(void)state;
	iface_all(&iface);
	spok_strmap_set(&vals, "partitions", "7");
	spok_strmap_set(&vals, "ratio", "0.25");
	spok_strmap_set(&vals, "label", "pi \xcf\x80 run");
	spok_strmap_set(&vals, "flag", "true");
	spok_strmap_set(&vals, "when", "2020-09-11T10:30:00.25+02:00");
	spok_strmap_set(&vals, "wait", "1h30m0.5s");
	assert_int_equal(spok_flyte_encode_inputs(&iface, &vals, &buf, &len, &err), 0);
	if (inputs_dir != NULL) {
		char *path = xasprintf("%s/inputs.pb", inputs_dir);
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(buf, 1, len, f), len);
		fclose(f);
		free(path);
	}
	assert_int_equal(spok_flyte_decode_literal_map(buf, len, "inputs.pb", &j, &err), 0);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	assert_string_equal(s, "{\"flag\":true,\"label\":\"pi \\u03C0 run\",\"partitions\":7,"
			    "\"ratio\":0.25,\"wait\":\"5400.500s\","
			    "\"when\":\"2020-09-11T08:30:00.250Z\"}");
	free(s);
	json_decref(j);
	free(buf);
	spok_vars_free(&iface);
	spok_strmap_free(&vals);
}

static void test_encode_values(void **state)
{
	static const struct { enum spok_lit_type type; const char *in, *out; } cases[] = {
		{ SPOK_LIT_INTEGER, "-9223372036854775808", "-9223372036854775808" },
		{ SPOK_LIT_BOOLEAN, "0", "false" },
		{ SPOK_LIT_BOOLEAN, "FALSE", "false" },
		{ SPOK_LIT_BOOLEAN, "1", "true" },
		{ SPOK_LIT_DATETIME, "2020-09-11", "\"2020-09-11T00:00:00Z\"" },
		{ SPOK_LIT_DATETIME, "1969-12-31T23:59:59.000001Z", "\"1969-12-31T23:59:59.000001Z\"" },
		{ SPOK_LIT_DATETIME, "2024-02-29t00:00:00-01:30", "\"2024-02-29T01:30:00Z\"" },
		{ SPOK_LIT_DURATION, "90s", "\"90s\"" },
		{ SPOK_LIT_DURATION, "250ms", "\"0.250s\"" },
		{ SPOK_LIT_DURATION, "-1.5h", "\"-5400s\"" },
		{ SPOK_LIT_DURATION, "0", "\"0s\"" },
		{ SPOK_LIT_DURATION, "3us5ns", "\"0.000003005s\"" },
		{ SPOK_LIT_FLOAT, "1e3", "1000.0" },
		{ SPOK_LIT_STRING, "", "\"\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spok_vars iface = { 0 };
		struct spok_strmap vals = { 0 };
		struct spok_err err = { 0 };
		uint8_t *buf;
		size_t len;
		json_t *j;
		char *s;

		spok_vars_add(&iface, "v", cases[i].type);
		spok_strmap_set(&vals, "v", cases[i].in);
		assert_int_equal(spok_flyte_encode_inputs(&iface, &vals, &buf, &len, &err), 0);
		assert_int_equal(spok_flyte_decode_literal_map(buf, len, "x", &j, &err), 0);
		s = json_dumps(json_object_get(j, "v"), JSON_ENCODE_ANY);
		assert_string_equal(s, cases[i].out);
		free(s);
		json_decref(j);
		free(buf);
		spok_vars_free(&iface);
		spok_strmap_free(&vals);
	}
}

static void test_encode_errors(void **state)
{
	static const struct { const char *name, *value, *want; } cases[] = {
		{ "nope", "1", "--input nope: the task has no such input; its inputs are: partitions, "
		  "ratio, label, flag, when, wait" },
		{ "partitions", "7x", "--input partitions: '7x' is not a valid integer; use a whole "
		  "number such as 42" },
		{ "partitions", "99999999999999999999", "--input partitions: '99999999999999999999' is "
		  "not a valid integer; use a whole number such as 42" },
		{ "ratio", "inf", "--input ratio: 'inf' is not a valid float; use a number such as 3.14" },
		{ "flag", "yes", "--input flag: 'yes' is not a valid boolean; use true, false, 1 or 0" },
		{ "when", "2021-02-29T00:00:00Z", "--input when: '2021-02-29T00:00:00Z' is not a valid "
		  "datetime; use an RFC 3339 time such as 2020-09-11T00:00:00Z" },
		{ "when", "2020-09-11T10:00:00", "--input when: '2020-09-11T10:00:00' is not a valid "
		  "datetime; use an RFC 3339 time such as 2020-09-11T00:00:00Z" },
		{ "label", "caf\xe9", "--input label: 'caf\xe9' is not a valid string; use UTF-8 text" },
		{ "wait", "90", "--input wait: '90' is not a valid duration; use a duration such as 90s "
		  "or 1h30m" },
		{ "wait", "1x", "--input wait: '1x' is not a valid duration; use a duration such as 90s "
		  "or 1h30m" },
		{ "wait", "99999999999h", "--input wait: '99999999999h' is not a valid duration; use a "
		  "duration such as 90s or 1h30m" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct spok_vars iface = { 0 };
		struct spok_strmap vals = { 0 };
		struct spok_err err = { 0 };
		uint8_t *buf = (uint8_t *)"";
		size_t len = 1;

		iface_all(&iface);
		spok_strmap_set(&vals, "partitions", "1");
		spok_strmap_set(&vals, "ratio", "1");
		spok_strmap_set(&vals, "label", "x");
		spok_strmap_set(&vals, "flag", "1");
		spok_strmap_set(&vals, "when", "2020-01-01");
		spok_strmap_set(&vals, "wait", "1s");
		spok_strmap_set(&vals, cases[i].name, cases[i].value);
		assert_int_equal(spok_flyte_encode_inputs(&iface, &vals, &buf, &len, &err),
				 SPOK_EINVAL);
		assert_string_equal(err.msg, cases[i].want);
		assert_null(buf);
		assert_int_equal(len, 0);
		spok_vars_free(&iface);
		spok_strmap_free(&vals);
	}
}

static void test_encode_missing_and_complex(void **state)
{
	struct spok_vars iface = { 0 };
	struct spok_strmap vals = { 0 };
	struct spok_err err = { 0 };
	uint8_t *buf;
	size_t len;

	(void)state;
	spok_vars_add(&iface, "partitions", SPOK_LIT_INTEGER);
	assert_int_equal(spok_flyte_encode_inputs(&iface, &vals, &buf, &len, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "--input partitions: required input is missing; pass --input "
			    "partitions=<integer>");
	spok_vars_add(&iface, "df", SPOK_LIT_OTHER);
	spok_strmap_set(&vals, "partitions", "2");
	spok_strmap_set(&vals, "df", "s3://x");
	assert_int_equal(spok_flyte_encode_inputs(&iface, &vals, &buf, &len, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "--input df: inputs of type complex cannot be set from the "
			    "command line; give the task a simple-typed input");
	spok_vars_free(&iface);
	spok_vars_free(&iface);
	spok_strmap_free(&vals);
	/* No inputs at all: an empty LiteralMap (zero bytes). */
	assert_int_equal(spok_flyte_encode_inputs(&iface, &vals, &buf, &len, &err), 0);
	assert_int_equal(len, 0);
	free(buf);
}

static void test_decode_error_doc(void **state)
{
	struct spok_err err = { 0 };
	char *code, *msg;
	bool rec;

	(void)state;
	/* ErrorDocument{} has no error. */
	assert_int_equal(spok_flyte_decode_error((const uint8_t *)"", 0, "error.pb", &code, &msg,
						 &rec, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "error.pb: ErrorDocument has no error; expected an error.pb "
			    "written by flytekit");
	assert_null(code);
	assert_int_equal(spok_flyte_decode_error((const uint8_t *)"\x0a\x05\x0a", 3, "error.pb",
						 &code, &msg, &rec, &err), SPOK_EINVAL);
	assert_string_equal(err.msg, "error.pb: not a valid flyteidl.core.ErrorDocument (truncated, "
			    "corrupt, or another message type); pass a file written by "
			    "flytekit/pyflyte");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_task_spec),
		cmocka_unit_test(test_template_alone),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_wrong_message),
		cmocka_unit_test(test_not_spark),
		cmocka_unit_test(test_missing_custom),
		cmocka_unit_test(test_bad_custom),
		cmocka_unit_test(test_custom_variants),
		cmocka_unit_test(test_k8s_pod_target),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_package_selection),
		cmocka_unit_test(test_package_traversal),
		cmocka_unit_test(test_package_caps),
		cmocka_unit_test(test_package_corrupt_tar),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_encode_inputs),
		cmocka_unit_test(test_encode_values),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_encode_missing_and_complex),
		cmocka_unit_test(test_decode_error_doc),
	};

	if (argc > 1)
		inputs_dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
