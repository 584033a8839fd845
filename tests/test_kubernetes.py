"""The baked Kubernetes manifests render, validate against the API, agree with the rest
of the project, and pass a policy check. No cluster runs here (no container engine for
kind or k3s): everything is proven offline, on what `kubectl kustomize` renders."""

import ast
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bakery import bake, tool

pytestmark = pytest.mark.bake

KUBERNETES_VERSION = "1.37.0"  # the newest minor kubernetes-validate ships schemas for
# The oldest the manifests support: preStop's sleep action is on by default from 1.30.
OLDEST_KUBERNETES = "1.30.0"
REVISION = "3f2c1e9a"
OVERLAY = Path("deploy", "kubernetes", "production")
WORKLOADS = ("Deployment", "Job")


def kubectl() -> str:
    found = shutil.which("kubectl")
    assert found, "kubectl is missing: .ci/run installs it"
    return found


def render(project: Path) -> list[dict]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(project / OVERLAY)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A bake released as REVISION, with its secrets file filled in as a deployer would."""
    path = bake(tmp_path_factory.mktemp("kubernetes"), domain_name="shop.example.org")
    overlay = path / OVERLAY
    secrets = (overlay / "secrets.env.example").read_text()
    secrets = secrets.replace("DJANGO_SECRET_KEY=\n", f"DJANGO_SECRET_KEY={'k' * 50}\n")
    secrets = secrets.replace("DATABASE_URL=\n", "DATABASE_URL=postgres://app:pw@db:5432/app\n")
    secrets = secrets.replace("EMAIL_URL=\n", "EMAIL_URL=smtp://mailer:pw@smtp.example.org\n")
    (overlay / "secrets.env").write_text(secrets)
    kustomization = overlay / "kustomization.yaml"
    text = kustomization.read_text()
    assert "newTag: unreleased" in text
    kustomization.write_text(text.replace("newTag: unreleased", f"newTag: {REVISION}"))
    return path


@pytest.fixture(scope="module")
def objects(project) -> list[dict]:
    return render(project)


@pytest.fixture(scope="module")
def rendered(project, objects) -> Path:
    path = project / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    return path


def find(objects, kind, name=None) -> list[dict]:
    return [
        o
        for o in objects
        if o["kind"] == kind and (name is None or o["metadata"]["name"].startswith(name))
    ]


def one(objects, kind, name) -> dict:
    (found,) = find(objects, kind, name)
    return found


def pod_specs(objects):
    for o in objects:
        if o["kind"] in WORKLOADS:
            yield o["metadata"]["name"], o["spec"]["template"]


def procfile(project: Path) -> dict[str, list[str]]:
    lines = (project / "Procfile").read_text().splitlines()
    return {name: shlex.split(command) for name, command in (line.split(":", 1) for line in lines)}


def env_schema(project: Path) -> tuple[set[str], set[str], set[str]]:
    """Every variable the env parts in `config/` declare, those without a default, and
    the secrets (which may be given as NAME_FILE instead)."""
    declared, required, secret = set(), set(), set()
    for module in (project / "config").glob("*.py"):
        tree = ast.parse(module.read_text())
        for part in tree.body:
            bases = {getattr(base, "id", None) for base in getattr(part, "bases", [])}
            if not isinstance(part, ast.ClassDef) or "EnvPart" not in bases:
                continue
            for field in part.body:
                if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name):
                    name = field.target.id
                    declared.add(name)
                    call = field.value
                    has_default = not (
                        isinstance(call, ast.Call)
                        and not call.args
                        and not any(k.arg in ("default", "default_factory") for k in call.keywords)
                    )
                    if not has_default:
                        required.add(name)
                    if ast.unparse(field.annotation) == "SecretStr":
                        secret.add(name)
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "PORT"} <= declared, "env parts not found"
    return declared, required, secret


def test_overlay_renders_every_process_and_policy(objects):
    kinds = sorted((o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]) for o in objects)
    assert kinds == sorted(
        [
            ("ConfigMap", "settings"),
            ("Secret", "secrets"),
            ("Deployment", "web"),
            ("Deployment", "worker"),
            ("Job", "release"),
            ("Service", "web"),
            ("Ingress", "web"),
            ("HorizontalPodAutoscaler", "web"),
            ("HorizontalPodAutoscaler", "worker"),
            ("PodDisruptionBudget", "web"),
            ("NetworkPolicy", "deny"),
            ("NetworkPolicy", "web-from-ingress"),
        ]
    )
    assert {o["metadata"]["namespace"] for o in objects} == {"demo-shop"}


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, KUBERNETES_VERSION])
def test_every_object_is_valid_for_the_kubernetes_api_strictly(rendered, version):
    result = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", version, str(rendered)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == 12, result.stdout


def test_the_validator_rejects_a_field_the_api_does_not_have(project, objects, tmp_path):
    web = json.loads(json.dumps(one(objects, "Deployment", "web")))
    web["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {}
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(web))
    result = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "httpGett" in result.stdout + result.stderr


def test_the_release_revision_reaches_images_labels_environment_and_job_name(objects):
    assert one(objects, "Job", "release")["metadata"]["name"] == f"release-{REVISION}"
    for name, pod in pod_specs(objects):
        assert pod["metadata"]["labels"]["app.kubernetes.io/version"] == REVISION, name
        (container,) = pod["spec"]["containers"]
        assert container["image"] == f"registry.example.com/demo_shop:{REVISION}", name
        revision = {e["name"]: e for e in container["env"]}["GIT_REVISION"]
        assert revision["valueFrom"]["fieldRef"]["fieldPath"] == (
            "metadata.labels['app.kubernetes.io/version']"
        ), name


def test_manifests_set_only_schema_variables_and_every_required_one(project, objects):
    declared, required, secret = env_schema(project)
    settings = one(objects, "ConfigMap", "settings")["data"]
    secrets = one(objects, "Secret", "secrets")["data"]
    assert settings["ALLOWED_HOSTS"] == "shop.example.org"
    for name, pod in pod_specs(objects):
        (container,) = pod["spec"]["containers"]
        sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
        assert sources == {one(objects, "ConfigMap", "settings")["metadata"]["name"]}, name
        files = {e["name"].removesuffix("_FILE") for e in container["env"] if "_FILE" in e["name"]}
        names = set(settings) | {e["name"] for e in container["env"]} - {f"{f}_FILE" for f in files}
        assert files <= secret, f"{name}: given as files but not secrets: {files - secret}"
        assert names | files <= declared, f"{name}: not in the schema: {names - declared}"
        assert required <= names | files, f"{name}: required but not set: {required - names}"
        assert pod["spec"]["enableServiceLinks"] is False, name
    assert not set(secrets) & set(settings), "a secret must not also be a plain setting"


def test_secrets_reach_the_pods_as_read_only_files_never_as_environment(project, objects):
    secret = one(objects, "Secret", "secrets")
    for name, pod in pod_specs(objects):
        (container,) = pod["spec"]["containers"]
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        (mount,) = [m for m in container["volumeMounts"] if "secret" in volumes[m["name"]]]
        volume = volumes[mount["name"]]["secret"]
        assert volume["secretName"] == secret["metadata"]["name"], name
        assert volume["defaultMode"] == 0o400 and mount["readOnly"], name
        files = {
            e["name"].removesuffix("_FILE"): e["value"]
            for e in container["env"]
            if e["name"].endswith("_FILE")
        }
        assert files == {key: f"{mount['mountPath']}/{key}" for key in secret["data"]}, name
        assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in container["env"]), name


def test_probes_ask_the_paths_and_port_the_app_serves(project, objects):
    health = (project / "config" / "health.py").read_text()
    assert '"/healthz"' in health and '"/readyz"' in health
    port = int(one(objects, "ConfigMap", "settings")["data"]["PORT"])
    assert f"EXPOSE {port}" in (project / "Dockerfile").read_text()
    web = one(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in web["ports"]}
    probes = {
        kind: (web[kind]["httpGet"]["path"], ports[web[kind]["httpGet"]["port"]])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": ("/healthz", port),
        "livenessProbe": ("/healthz", port),
        "readinessProbe": ("/readyz", port),
    }
    service = one(objects, "Service", "web")["spec"]["ports"][0]
    assert ports[service["targetPort"]] == port


def test_pods_run_as_the_images_user_read_only_without_privileges(project, objects):
    user = re.search(r"^USER (\d+):(\d+)$", (project / "Dockerfile").read_text(), re.M)
    uid, gid = int(user[1]), int(user[2])
    for name, pod in pod_specs(objects):
        spec = pod["spec"]
        assert spec["securityContext"] == {
            "runAsUser": uid,
            "runAsGroup": gid,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
            # The group the kubelet gives the secret files to.
            "fsGroup": gid,
        }, name
        assert spec["automountServiceAccountToken"] is False, name
        (container,) = spec["containers"]
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, name
        volumes = {v["name"]: v for v in spec["volumes"]}
        (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert "emptyDir" in volumes[tmp["name"]], name
        assert {"requests", "limits"} <= set(container["resources"]), name


def test_web_pods_outlast_the_prestop_delay_and_gunicorns_graceful_timeout(project, objects):
    graceful = re.search(
        r"^graceful_timeout = (\d+)$", (project / "gunicorn.conf.py").read_text(), re.M
    )
    web = one(objects, "Deployment", "web")["spec"]["template"]["spec"]
    pre_stop = web["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop > 0
    # SIGKILL comes this long after preStop starts; gunicorn needs a moment after its
    # graceful timeout to reap its workers and exit.
    assert web["terminationGracePeriodSeconds"] > pre_stop + int(graceful[1])


def test_processes_run_the_procfiles_commands(project, objects):
    processes = procfile(project)
    dockerfile = (project / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M)[1])
    web = one(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in web and "args" not in web, "web runs the image's own command"
    assert cmd == processes["web"]
    worker = one(objects, "Deployment", "worker")["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"] == processes["worker"]
    release = one(objects, "Job", "release")["spec"]["template"]["spec"]["containers"][0]
    assert release["command"] == processes["release"]


def test_only_the_ingress_controller_reaches_web(objects):
    deny = one(objects, "NetworkPolicy", "deny-ingress")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    allow = one(objects, "NetworkPolicy", "web-from-ingress-controller")["spec"]
    web_labels = one(objects, "Deployment", "web")["spec"]["selector"]["matchLabels"]
    assert allow["podSelector"]["matchLabels"] == web_labels
    (rule,) = allow["ingress"]
    (peer,) = rule["from"]
    assert set(peer) == {"namespaceSelector"}
    assert rule["ports"] == [{"port": "http"}]
    ingress = one(objects, "Ingress", "web")["spec"]
    assert ingress["tls"][0]["hosts"] == ["shop.example.org"]
    assert "FORWARDED_ALLOW_IPS" in one(objects, "ConfigMap", "settings")["data"]


def test_the_secrets_file_is_never_committed_nor_built_into_the_image(project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    secrets = str(OVERLAY / "secrets.env")
    ignored = subprocess.run(["git", "check-ignore", "-q", secrets], cwd=project)
    assert ignored.returncode == 0, f"{secrets} is not git-ignored"
    example = subprocess.run(["git", "check-ignore", "-q", f"{secrets}.example"], cwd=project)
    assert example.returncode == 1, "the example must be committed"
    assert "deploy" in (project / ".dockerignore").read_text().split()
    assert re.search(r"^\w+=$", (project / OVERLAY / "secrets.env.example").read_text(), re.M)
    assert not re.search(r"^\w+=.", (project / OVERLAY / "secrets.env.example").read_text(), re.M)


def test_checkov_finds_nothing_unjustified_in_the_rendered_manifests(rendered):
    report = checkov("--file", str(rendered), "--framework", "kubernetes")
    (result,) = report
    assert result["summary"]["parsing_errors"] == 0
    failed = result["results"].get("failed_checks", [])
    assert not failed, [(f["check_id"], f["resource"], f["check_name"]) for f in failed]
    assert result["summary"]["passed"] > 100
    for skipped in result["results"].get("skipped_checks", []):
        reason = skipped["check_result"].get("suppress_comment", "")
        assert len(reason.split()) >= 5, f"{skipped['check_id']} skipped without a reason"


def checkov(*args: str) -> list[dict]:
    """checkov's JSON report, offline (no Prisma Cloud lookups)."""
    result = subprocess.run(
        [tool("checkov"), *args, "--skip-download", "--quiet", "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def test_autoscaling_keeps_web_drainable_without_exhausting_postgres(project, objects):
    web = one(objects, "HorizontalPodAutoscaler", "web")["spec"]
    budget = one(objects, "PodDisruptionBudget", "web")["spec"]
    # A drain evicts one pod while at least one other serves.
    assert web["minReplicas"] > budget["maxUnavailable"] >= 1
    assert budget["selector"] == one(objects, "Deployment", "web")["spec"]["selector"]
    settings = one(objects, "ConfigMap", "settings")["data"]
    pool = re.search(
        r"DATABASE_POOL_MAX_SIZE: int = Field\(\s*(\d+)",
        (project / "config" / "database.py").read_text(),
    )
    connections = web["maxReplicas"] * int(settings["WEB_CONCURRENCY"]) * int(pool[1])
    assert connections < 100, "Postgres' default max_connections, with room for workers"
    for name in ("web", "worker"):
        target = one(objects, "HorizontalPodAutoscaler", name)["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert "replicas" not in one(objects, "Deployment", name)["spec"], "the HPA owns it"


def test_any_valid_slug_makes_a_valid_namespace(tmp_path):
    """Python package names allow a trailing underscore; DNS labels forbid a hyphen there."""
    project = bake(tmp_path, project_name="Shop", project_slug="shop_2_")
    text = (project / OVERLAY / "kustomization.yaml").read_text()
    namespace = re.search(r"^namespace: (.+)$", text, re.M)[1]
    assert namespace == "shop-2"
    assert f"NAMESPACE={namespace} " in (project / "README.md").read_text()
