"""The Helm chart, rendered and linted by the real Helm engine (helm-python-sdk), checked against Kubernetes schemas.

Nothing here needs a cluster: Helm renders offline and kubernetes-validate ships the API schemas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from tests.telemetry.deploy_queries import DASHBOARDS_DIR, PROMTOOL, rule_files

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "micd"
FULL_VALUES = Path(__file__).with_name("values-full.yaml")
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion >=1.25) is past; 1.30 is a common floor.
KUBE_VERSION = "1.30.0"
# Prometheus Operator resources: no Kubernetes schema exists for them; checked by content below instead.
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}

Manifest = dict[str, Any]


def full_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(FULL_VALUES.read_text())
    return values


def render(values: dict[str, Any], *, name: str = "micd", namespace: str = "ops") -> list[Manifest]:
    with helm_python.Chart.load(CHART) as chart:
        rendered = chart.render(values, name=name, namespace=namespace)
    return [
        doc
        for path, text in sorted(rendered.items())
        if path.endswith((".yaml", ".yml"))
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def only(manifests: list[Manifest], kind: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container(manifests: list[Manifest]) -> Manifest:
    containers = only(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    spec: Manifest = containers[0]
    return spec


VALUE_SETS = {"default": dict[str, Any](), "full": full_values()}


@pytest.fixture(scope="module", autouse=True)
def _quiet_helm() -> None:
    helm_python.disable_logging()


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_lint_is_clean(values: dict[str, Any]) -> None:
    report = helm_python.lint(CHART, values, strict=True, namespace="ops", kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_manifest_matches_the_kubernetes_schema(values: dict[str, Any]) -> None:
    manifests = render(values)
    for manifest in manifests:
        if manifest["kind"] in OPERATOR_KINDS:
            continue
        try:
            kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_schema_check_catches_a_broken_manifest() -> None:
    deployment = only(render({}), "Deployment")
    deployment["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def test_default_render() -> None:
    manifests = render({})
    kinds = sorted(m["kind"] for m in manifests)
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    env = {e["name"]: e for e in container(manifests)["env"]}
    assert env["MICD_LISTEN"]["value"] == "0.0.0.0:9095"
    assert env["MICD_AUTH__API_TOKENS"]["valueFrom"]["secretKeyRef"] == {"name": "micd-auth", "key": "api_tokens"}
    assert "MICD_AUTH__INSECURE" not in env


def test_full_render() -> None:
    manifests = render(full_values())
    kinds = sorted(m["kind"] for m in manifests)
    assert kinds.count("ConfigMap") == 2 + 3  # settings, rules, three dashboards
    assert {"ServiceMonitor", "PrometheusRule", "PodDisruptionBudget"} <= set(kinds)
    assert "PersistentVolumeClaim" not in kinds  # existingClaim
    pod = only(manifests, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "micd-data-restored"
    assert volumes["rules"]["configMap"]["items"] == [
        {"key": "catalog__acme.yaml", "path": "catalog/acme.yaml"},
        {"key": "impact__rules.yaml", "path": "impact/rules.yaml"},
    ]
    assert volumes["servicenow"]["secret"]["secretName"] == "micd-servicenow"
    assert only(manifests, "PodDisruptionBudget")["spec"] == {
        "minAvailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "micd", "app.kubernetes.io/instance": "micd"}},
    }
    monitor = only(manifests, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "15s", "scrapeTimeout": "5s"}
    ]
    service = only(manifests, "Service")
    assert service["spec"]["ports"][0]["name"] == "http"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_pod_is_restricted_and_singleton(values: dict[str, Any]) -> None:
    manifests = render(values)
    deployment = only(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    main = container(manifests)
    security = main["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["resources"]["limits"]["memory"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = {m["mountPath"]: volumes[m["name"]] for m in main["volumeMounts"] if not m.get("readOnly")}
    assert set(writable) == {"/app/var", "/tmp"}
    assert all("emptyDir" in v or "persistentVolumeClaim" in v for v in writable.values())


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_secrets_are_referenced_never_inlined(values: dict[str, Any]) -> None:
    manifests = render(values)
    assert "Secret" not in {m["kind"] for m in manifests}
    for env in container(manifests)["env"]:
        if any(word in env["name"] for word in ("TOKEN", "PASSWORD", "TENANTS")):
            assert "value" not in env, env["name"]
            assert "secretKeyRef" in env["valueFrom"], env["name"]


def test_prometheus_rule_carries_the_shipped_rules(tmp_path: Path) -> None:
    rule = only(render(full_values()), "PrometheusRule")
    shipped = [group for path in rule_files() for group in yaml.safe_load(path.read_text())["groups"]]
    assert rule["spec"]["groups"] == shipped
    extracted = tmp_path / "from-chart.rules.yml"
    extracted.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    done = subprocess.run([PROMTOOL, "check", "rules", str(extracted)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboards_reach_the_grafana_sidecar() -> None:
    maps = [
        m for m in render(full_values()) if m["kind"] == "ConfigMap" and "grafana_dashboard" in m["metadata"]["labels"]
    ]
    assert {m["metadata"]["labels"]["grafana_dashboard"] for m in maps} == {"1"}
    assert {m["metadata"]["annotations"]["grafana_folder"] for m in maps} == {"micd"}
    shipped = {p.name: json.loads(p.read_text()) for p in DASHBOARDS_DIR.glob("*.json")}
    in_chart = {key: json.loads(text) for m in maps for key, text in m["data"].items()}
    assert in_chart == shipped


REFUSED = [
    ({"scaleOut": {"enabled": True}}, "scaleOut.enabled: the PostgreSQL scale-out mode is not supported"),
    ({"scaleOut": {"enabled": "yes"}}, "at '/scaleOut/enabled': got string, want boolean"),
    ({"replicas": 3}, "additional properties 'replicas' not allowed"),
    ({"securityContext": {"readOnlyRootFilesystem": False}}, "at '/securityContext/readOnlyRootFilesystem'"),
    ({"podSecurityContext": {"runAsNonRoot": False}}, "at '/podSecurityContext/runAsNonRoot'"),
    ({"service": {"port": 70000}}, "at '/service/port'"),
    ({"persistence": {"size": "lots"}}, "at '/persistence/size'"),
    ({"rules": {"files": {"../etc/passwd.yaml": "x"}}}, 'rules.files: "../etc/passwd.yaml" must be a relative'),
    ({"auth": {"existingSecret": "Not_A_Name"}}, "at '/auth/existingSecret'"),
    ({"config": {"listen": "0.0.0.0:1"}}, "config.listen is managed by the chart"),
    ({"config": {"auth": {"api_tokens": []}}}, "config.auth.api_tokens: set tokens through auth.existingSecret"),
    ({"config": {"servicenow": {"password": "hunter2"}}}, "config.servicenow.password: never inline a secret"),
    ({"config": {"kafka": {"sasl_password": "hunter2"}}}, "config.kafka.sasl_password: never inline a secret"),
    (
        {"config": {"tenants": {"acme": {"channels": [{"name": "ops", "kind": "slack", "url": "https://x"}]}}}},
        "config.tenants.acme.channels: a channel URL is a secret",
    ),
    ({"config": {"servicenow": {"instance": "https://x"}}}, "servicenow.passwordSecret.name is required"),
    (
        {"rules": {"files": {"a.yaml": "x"}, "existingConfigMap": "mine"}},
        "set rules.files or rules.existingConfigMap, not both",
    ),
]


@pytest.mark.parametrize(("values", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_bad_values_are_refused_with_a_clear_message(values: dict[str, Any], message: str) -> None:
    with pytest.raises((helm_python.HelmValuesError, helm_python.HelmRenderError)) as caught:
        render(values)
    assert message in str(caught.value)


def test_insecure_mode_drops_token_references() -> None:
    env = {e["name"]: e for e in container(render({"auth": {"insecure": True}}))["env"]}
    assert env["MICD_AUTH__INSECURE"]["value"] == "true"
    assert not [name for name in env if name.startswith("MICD_AUTH__") and name != "MICD_AUTH__INSECURE"]


def test_rendered_settings_are_valid_micd_settings(tmp_path: Path) -> None:
    """The chart's settings file plus its environment, Secrets filled in, pass `micd config check`."""
    manifests = render(full_values())
    settings = next(m for m in manifests if m["kind"] == "ConfigMap" and "config.yaml" in m.get("data", {}))
    config = tmp_path / "config.yaml"
    config.write_text(settings["data"]["config.yaml"])
    secrets = {
        ("micd-tokens", "api_tokens"): json.dumps([{"name": "ops", "sha256": "a" * 64, "role": "admin"}]),
        ("micd-tokens", "webhook_tokens"): json.dumps([{"name": "am", "sha256": "b" * 64, "tenant": "acme"}]),
        ("micd-kafka", "sasl_password"): "kafka-secret",
        ("micd-tenants", "tenants"): json.dumps(
            {"acme": {"channels": [{"name": "ops", "kind": "slack", "url": "https://hooks.slack.example/T/B/X"}]}}
        ),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICD_")}
    for var in container(manifests)["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets[(ref["name"], ref["key"])]
    done = subprocess.run(
        [sys.executable, "-m", "daemon", "config", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
