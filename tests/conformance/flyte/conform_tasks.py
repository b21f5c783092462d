"""Spark tasks for spok's differential test against Flyte's Go plugin (tests/conformance).

`pyflyte --pkgs conform_tasks package` turns these into the TaskSpecs both builders read.
Each task exercises one part of the Spark plugin or the pod machinery around it; the case
list (cases.json) pairs them with platform configs and execution facts. The bodies never run.
"""
from flytekit import PodTemplate, Resources, task
from flytekit.extras.accelerators import A100, T4
from flytekit.models.security import Identity, SecurityContext
from flytekitplugins.spark import Spark
from flytekitplugins.spark.generic_task import GenericSparkConf
from kubernetes.client import (V1Container, V1EnvVar, V1EnvVarSource, V1PodSpec,
                               V1SecretKeySelector, V1Toleration, V1PodDNSConfig,
                               V1PodSecurityContext, V1SecurityContext, V1Affinity,
                               V1NodeAffinity, V1NodeSelector, V1NodeSelectorTerm,
                               V1NodeSelectorRequirement, V1ResourceRequirements)

IMAGE = "ghcr.io/acme/spark:1"
SIZING = {
    "spark.driver.cores": "1",
    "spark.driver.memory": "1000M",
    "spark.executor.cores": "2",
    "spark.executor.instances": "3",
    "spark.executor.memory": "2000M",
}


@task(task_config=Spark(), container_image=IMAGE)
def t_minimal() -> int:
    return 1


@task(task_config=Spark(spark_conf=SIZING), container_image=IMAGE)
def t_sizing() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.kubernetes.driver.request.cores": "500m",
                                    "spark.driver.cores": "1",
                                    "spark.kubernetes.executor.request.cores": "1500m",
                                    "spark.executor.cores": "2"}),
      container_image=IMAGE)
def t_request_cores() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.kubernetes.driver.limit.cores": "3",
                                    "spark.driver.cores": "1",
                                    "spark.kubernetes.executor.limit.cores": "4",
                                    "spark.executor.cores": "2"}),
      container_image=IMAGE)
def t_limit_cores() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.driver.cores": "0.5", "spark.executor.cores": "0",
                                    "spark.executor.instances": "many",
                                    "spark.executor.memory": ""}),
      container_image=IMAGE)
def t_cores_unparsable() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.driver.cores": "2147483648",
                                    "spark.executor.instances": "-2"}),
      container_image=IMAGE)
def t_cores_overflow() -> int:
    return 1


@task(task_config=Spark(executor_path="/opt/conda/bin/python3",
                        spark_conf={"spark.pyspark.python": "/usr/bin/python3"}),
      container_image=IMAGE)
def t_executor_path() -> int:
    return 1


@task(task_config=Spark(hadoop_conf={"fs.s3a.endpoint": "http://minio:9000",
                                     "fs.s3a.path.style.access": "true"}),
      container_image=IMAGE)
def t_hadoop_conf() -> int:
    return 1


@task(task_config=Spark(applications_path="local:///opt/app/main.py"), container_image=IMAGE)
def t_app_path() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.flyte.feature1.enabled": "true",
                                    "spark.sql.shuffle.partitions": "8"}),
      container_image=IMAGE)
def t_feature1() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.flyteorg.feature2.enabled": " True "}),
      container_image=IMAGE)
def t_feature2_trimmed() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.flyte.feature1.enabled": "false",
                                    "spark.flyte.nosuch.enabled": "true"}),
      container_image=IMAGE)
def t_feature_off_and_unknown() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark-flyte-feature1-enabled": "TRUE"}), container_image=IMAGE)
def t_feature_unescaped_dots() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.flyte.feature1.enabled": "true",
                                    "spark.flyteorg.feature2.enabled": "true"}),
      container_image=IMAGE)
def t_two_features() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.batchScheduler": "volcano"}), container_image=IMAGE)
def t_batch_volcano() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.batchScheduler": ""}), container_image=IMAGE)
def t_batch_empty() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.kubernetes.executor.podNamePrefix": "mine",
                                    "spark.kubernetes.driverEnv.FLYTE_START_TIME": "1"}),
      container_image=IMAGE)
def t_forced_keys() -> int:
    return 1


@task(task_config=Spark(spark_conf={"spark.executor.memory": "4g",
                                    "spark.eventLog.enabled": "false"}),
      container_image=IMAGE)
def t_overrides_defaults() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, environment={"B_VAR": "2", "A_VAR": "1"})
def t_env() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, retries=3)
def t_retries() -> int:
    return 1


@task(task_config=Spark(spark_conf=SIZING), container_image=IMAGE, interruptible=True)
def t_interruptible() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, labels={"team": "data", "cost-center": "42"},
      annotations={"owner": "alice", "cluster-autoscaler.kubernetes.io/safe-to-evict": "true"})
def t_labels_annotations() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, labels={"execution-id": "spoofed"})
def t_label_spoof() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, requests=Resources(cpu="2", mem="4Gi"),
      limits=Resources(cpu="4", mem="8Gi"))
def t_cpu_mem() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, requests=Resources(gpu="1"))
def t_gpu_request() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, limits=Resources(gpu="2"))
def t_gpu_limit() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE,
      requests=Resources(ephemeral_storage="10Gi"), limits=Resources(ephemeral_storage="20Gi"))
def t_ephemeral() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE,
      requests=Resources(cpu="1", gpu="1", ephemeral_storage="1Gi"),
      limits=Resources(cpu="1", gpu="1", ephemeral_storage="1Gi"))
def t_all_resources() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, requests=Resources(cpu="0", gpu="0"))
def t_zero_resources() -> int:
    return 1


# flytekit names the primary container of a role pod template "primary"; Flyte's plugin looks
# that name up in the task's own pod, which is "primary" only when the task has a pod template
# too (a plain container task's container is named after the execution: Flyte fails).
BASE_POD = PodTemplate(primary_container_name="primary",
                       pod_spec=V1PodSpec(containers=[V1Container(name="primary")]))

DRIVER_META = PodTemplate(
    labels={"role": "driver", "team": "driver-team"},
    annotations={"role": "driver", "cluster-autoscaler.kubernetes.io/safe-to-evict": "true"},
    pod_spec=V1PodSpec(containers=[V1Container(name="primary")],
                       tolerations=[V1Toleration(key="driver", operator="Exists")],
                       node_selector={"pool": "drivers"}))


@task(task_config=Spark(driver_pod=DRIVER_META), container_image=IMAGE, pod_template=BASE_POD)
def t_driver_pod_meta() -> int:
    return 1


EXEC_OVERLAY = PodTemplate(
    labels={"role": "executor"},
    pod_spec=V1PodSpec(containers=[
        V1Container(name="primary", args=["--extra"], env=[V1EnvVar(name="EXTRA", value="1")]),
        V1Container(name="sidecar", image="busybox")]))


@task(task_config=Spark(executor_pod=EXEC_OVERLAY), container_image=IMAGE, pod_template=BASE_POD)
def t_executor_overlay() -> int:
    return 1


POD_FIELDS = PodTemplate(pod_spec=V1PodSpec(
    containers=[V1Container(name="primary",
                            security_context=V1SecurityContext(run_as_user=1001))],
    priority_class_name="high",
    scheduler_name="volcano",
    host_network=True,
    security_context=V1PodSecurityContext(fs_group=2000),
    dns_config=V1PodDNSConfig(nameservers=["10.0.0.10"]),
    affinity=V1Affinity(node_affinity=V1NodeAffinity(
        required_during_scheduling_ignored_during_execution=V1NodeSelector(
            node_selector_terms=[V1NodeSelectorTerm(match_expressions=[
                V1NodeSelectorRequirement(key="zone", operator="In", values=["a"])])])))))


@task(task_config=Spark(driver_pod=POD_FIELDS, executor_pod=POD_FIELDS), container_image=IMAGE, pod_template=BASE_POD)
def t_pod_fields() -> int:
    return 1


SECRET_ENV = PodTemplate(pod_spec=V1PodSpec(containers=[V1Container(
    name="primary",
    env=[V1EnvVar(name="TOKEN", value_from=V1EnvVarSource(
        secret_key_ref=V1SecretKeySelector(name="creds", key="token")))])]))


@task(task_config=Spark(driver_pod=SECRET_ENV, executor_pod=SECRET_ENV), container_image=IMAGE, pod_template=BASE_POD)
def t_env_value_from() -> int:
    return 1


OVERLAY_RESOURCES = PodTemplate(pod_spec=V1PodSpec(containers=[V1Container(
    name="primary",
    resources=V1ResourceRequirements(limits={"nvidia.com/gpu": "1"}))]))


@task(task_config=Spark(executor_pod=OVERLAY_RESOURCES), container_image=IMAGE, pod_template=BASE_POD)
def t_overlay_gpu() -> int:
    return 1


TASK_POD = PodTemplate(
    primary_container_name="spark",
    labels={"from": "pod-template"},
    annotations={"note": "pod-template"},
    pod_spec=V1PodSpec(containers=[
        V1Container(name="spark"),
        V1Container(name="sidecar", image="busybox",
                    resources=V1ResourceRequirements(requests={"ephemeral-storage": "1Gi"}))],
        tolerations=[V1Toleration(key="task-pod", operator="Exists")]))


@task(task_config=Spark(), container_image=IMAGE, pod_template=TASK_POD)
def t_k8s_pod_target() -> int:
    return 1


TASK_POD_GPU = PodTemplate(
    primary_container_name="spark",
    pod_spec=V1PodSpec(containers=[
        V1Container(name="spark"),
        V1Container(name="helper", image="busybox",
                    resources=V1ResourceRequirements(limits={"nvidia.com/gpu": "1"},
                                                     requests={"nvidia.com/gpu": "1"}))]))


@task(task_config=Spark(), container_image=IMAGE, pod_template=TASK_POD_GPU,
      requests=Resources(gpu="1"))
def t_k8s_pod_gpu_twice() -> int:
    return 1


@task(task_config=Spark(), container_image="registry.local:5000/team/spark@sha256:" + "a" * 64)
def t_image_digest() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, pod_template_name="spark-base")
def t_pod_template_name() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, timeout=600)
def t_timeout() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE)
def t_inputs(n: int, name: str) -> str:
    return name * n


@task(task_config=Spark(), container_image=IMAGE)
def TaskWithCamelCase_And_A_Really_Long_Name_That_Exceeds_Sixty_Three_Characters_For_Labels() -> int:
    return 1


@task(task_config=GenericSparkConf(main_class="org.example.Main",
                                   applications_path="/opt/app/app.jar"),
      container_image=IMAGE)
def t_generic_main_class() -> int:
    return 1


@task(task_config=Spark(spark_conf=SIZING, hadoop_conf={"k": "v"},
                        driver_pod=DRIVER_META, executor_pod=EXEC_OVERLAY),
      container_image=IMAGE, interruptible=True, retries=2, requests=Resources(gpu="1"),
      labels={"team": "data"}, annotations={"owner": "bob"}, environment={"MODE": "all"},
      pod_template=BASE_POD)
def t_everything() -> int:
    return 1


@task(task_config=Spark(driver_pod=DRIVER_META), container_image=IMAGE)
def t_overlay_container_target() -> int:
    """Flyte refuses it: container [primary] not defined."""
    return 1


@task(task_config=Spark(), container_image=IMAGE)
def t_task_run_as() -> int:
    """A TaskTemplate whose security_context names a run-as service account; Flyte's plugin
    never reads it (the @task decorator has no parameter for it, hence the assignment)."""
    return 1


t_task_run_as._security_ctx = SecurityContext(run_as=Identity(k8s_service_account="task-sa"))


@task(task_config=Spark(), container_image=IMAGE, accelerator=T4, requests=Resources(gpu="1"))
def t_gpu_t4() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, accelerator=A100.partition_1g_5gb,
      limits=Resources(gpu="1"))
def t_gpu_a100_partition() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, accelerator=A100.unpartitioned,
      requests=Resources(gpu="1"))
def t_gpu_a100_unpartitioned() -> int:
    return 1


@task(task_config=Spark(), container_image=IMAGE, accelerator=T4)
def t_gpu_accelerator_without_gpu() -> int:
    """No container asks for a GPU: Flyte adds no selector."""
    return 1


@task(task_config=Spark(spark_conf=SIZING), container_image=IMAGE, accelerator=T4,
      pod_template=TASK_POD_GPU, interruptible=True)
def t_gpu_sidecar_only() -> int:
    """Only the sidecar asks for a GPU: the whole pod gets the selector."""
    return 1
