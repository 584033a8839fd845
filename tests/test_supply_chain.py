"""Every option combination's CI workflow, Dependabot config and Dockerfile pass the
tools a security review runs (zizmor, checkov), except findings suppressed inline with
a reason. Each tool runs once over all combinations, to keep this quick."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from test_kubernetes import checkov

from bakery import MATRIX, bake, matrix_id, tool

pytestmark = pytest.mark.bake

PINNED_ACTION = re.compile(r"^\s*(- )?uses: [\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
ZIZMOR_IGNORE = re.compile(r"# zizmor: ignore\[[\w-]+\](.*)$")


@pytest.fixture(scope="module")
def bakes(tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    root = tmp_path_factory.mktemp("supply-chain")
    return {
        matrix_id(options): (options, bake(root / matrix_id(options), **options))
        for options in MATRIX
    }


@pytest.fixture(scope="module")
def workflows(bakes) -> dict[str, Path]:
    return {
        name: project / ".github" / "workflows" / "ci.yml"
        for name, (options, project) in bakes.items()
        if options["github_actions"] == "yes"
    }


def test_github_files_exist_only_when_chosen(bakes):
    for options, project in bakes.values():
        chosen = options["github_actions"] == "yes"
        assert (project / ".github" / "workflows" / "ci.yml").exists() == chosen
        assert (project / ".github" / "dependabot.yml").exists() == chosen


def test_zizmor_pedantic_finds_nothing_in_any_workflow(bakes, workflows):
    assert workflows
    directories = [str(project / ".github") for _, project in bakes.values()]
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--persona", "pedantic", "--format", "plain", *directories],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_flags_what_the_workflow_fixed(workflows, tmp_path):
    """The audit above can fail: the old workflow's tag-pinned, credential-keeping
    checkout is reported."""
    workflow = next(iter(workflows.values())).read_text()
    old = re.sub(r"actions/checkout@[0-9a-f]{40} # v[\d.]+", "actions/checkout@v5", workflow)
    old = old.replace("persist-credentials: false", "fetch-depth: 1")
    (tmp_path / "ci.yml").write_text(old)
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--format", "plain", str(tmp_path / "ci.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout and "artipacked" in result.stdout


def test_every_action_is_pinned_to_a_commit_and_suppression_has_a_reason(workflows):
    for name, path in workflows.items():
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert PINNED_ACTION.match(line), f"{name}: {line.strip()}"
            if ignore := ZIZMOR_IGNORE.search(line):
                assert len(ignore[1].split()) >= 5, f"{name}: no reason in {line.strip()}"


def test_ci_services_are_the_images_compose_runs(bakes, workflows):
    for name, path in workflows.items():
        project = path.parents[2]
        ci = yaml.safe_load(path.read_text())["jobs"]["check"]["services"]
        compose = yaml.safe_load((project / "docker-compose.yml").read_text())["services"]
        compose_images = {
            s["image"].split(":")[0]: s["image"] for s in compose.values() if "image" in s
        }
        for service in ci.values():
            image = service["image"]
            base = image.split(":")[0]
            if base in compose_images:
                assert image == compose_images[base], name
        assert compose_images["postgres"] in {s["image"] for s in ci.values()}, name


def test_ci_builds_the_image_with_its_commit_after_the_checks(workflows):
    for name, path in workflows.items():
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}, name
        jobs = workflow["jobs"]
        assert jobs["check"]["permissions"] == {"contents": "read"}, name
        image = jobs["image"]
        assert image["permissions"] == {
            "contents": "read",
            "packages": "write",
            "id-token": "write",
        }, name
        assert image["needs"] == "check", name
        build, _sbom, _scan, publish, install_cosign, attach = image["steps"][1:]
        assert 'docker build --build-arg GIT_REVISION="$GITHUB_SHA"' in build["run"], name
        # Pull requests build; only what reached main is published.
        for step in (publish, install_cosign, attach):
            assert step["if"] == "github.event_name == 'push'", name
        assert 'docker push "$IMAGE"' in publish["run"], name


def test_ci_publishes_sboms_and_fails_on_fixable_serious_vulnerabilities(workflows):
    """The locked dependencies are audited by bin/check --audit and exported as a
    CycloneDX SBOM; the image gets an SBOM, a scan that fails on a high or critical
    vulnerability with a fix, and, once pushed, the SBOM signed and attached to it."""
    for name, path in workflows.items():
        jobs = yaml.safe_load(path.read_text())["jobs"]
        check = {step.get("run", step.get("uses", "")): step for step in jobs["check"]["steps"]}
        assert "bin/check --audit" in check, name
        exported = next(
            step for step in jobs["check"]["steps"] if "cyclonedx" in step.get("run", "")
        )
        assert "uv export --locked --no-dev --format cyclonedx1.5" in exported["run"], name
        steps = {step.get("uses", "").split("@")[0]: step for step in jobs["image"]["steps"]}
        assert steps["anchore/sbom-action"]["with"]["format"] == "cyclonedx-json", name
        scan = steps["anchore/scan-action"]["with"]
        assert (scan["fail-build"], scan["severity-cutoff"], scan["only-fixed"]) == (
            True,
            "high",
            True,
        ), name
        sbom = steps["anchore/sbom-action"]["with"]["output-file"]
        attach = jobs["image"]["steps"][-1]["run"]
        assert f"cosign attest --yes --type cyclonedx --predicate {sbom}" in attach, name


def test_dependabot_groups_uv_actions_and_compose_weekly(bakes):
    for options, project in bakes.values():
        if options["github_actions"] != "yes":
            continue
        config = yaml.safe_load((project / ".github" / "dependabot.yml").read_text())
        updates = {u["package-ecosystem"]: u for u in config["updates"]}
        assert set(updates) == {"uv", "github-actions", "docker-compose"}
        for update in updates.values():
            assert update["schedule"]["interval"] == "weekly"
            assert [group["patterns"] for group in update["groups"].values()] == [["*"]]


def test_checkov_finds_nothing_unjustified_in_workflows_and_dockerfiles(bakes):
    root = next(iter(bakes.values()))[1].parents[1]
    report = checkov("--directory", str(root), "--framework", "dockerfile", "github_actions")
    checked = {result["check_type"]: result for result in report}
    assert set(checked) == {"dockerfile", "github_actions"}
    for kind, result in checked.items():
        failed = result["results"].get("failed_checks", [])
        assert not failed, [(f["check_id"], f["file_path"]) for f in failed]
        for skipped in result["results"].get("skipped_checks", []):
            reason = skipped["check_result"].get("suppress_comment", "")
            assert len(reason.split()) >= 5, f"{kind}: {skipped['check_id']} without a reason"
    assert checked["dockerfile"]["summary"]["resource_count"] == len(bakes)


def test_kubernetes_manifests_are_the_same_in_every_combination(bakes):
    """So test_kubernetes.py, which checks one bake's, covers them all."""

    def manifests(project: Path) -> dict[str, str]:
        root = project / "deploy" / "kubernetes"
        return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}

    first, *others = [manifests(project) for _, project in bakes.values()]
    assert first and all(other == first for other in others)
