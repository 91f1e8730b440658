"""The cluster configurations under cluster/ stay valid and keep their promises.

* the cluster-launcher configs (AWS, GCP) validate against the JSON schema shipped with Ray, and a
  broken copy does not;
* each has a CPU head that takes no work and one autoscaling GPU worker type (min 0, max >= 1);
* every Ray start turns usage statistics off and token authentication on;
* the KubeRay manifests: a CPU head, an autoscaling GPU group, token auth from a Secret, and a RayJob
  that runs `seqbench-ray submit` on the same cluster spec, retries and shuts down;
* the shell scripts and the launcher commands are valid bash.

Nothing here starts Ray or talks to a cloud.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "cluster"
LAUNCHER_CONFIGS = {"aws": CLUSTER / "aws" / "seqbench-gpu.yaml", "gcp": CLUSTER / "gcp" / "seqbench-gpu.yaml"}
SCRIPTS = [CLUSTER / "local" / "start-head.sh", CLUSTER / "local" / "start-gpu-worker.sh"]


def _ray_schema() -> dict:
    """ray/autoscaler/ray-schema.json of the installed Ray, found without importing Ray."""
    spec = importlib.util.find_spec("ray")
    if spec is None or spec.origin is None:
        pytest.skip("ray is not installed")
    path = Path(spec.origin).parent / "autoscaler" / "ray-schema.json"
    if not path.is_file():
        pytest.skip(f"{path} not found in this Ray installation")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def ray_schema() -> dict:
    return _ray_schema()


def _load(path: Path):
    return yaml.safe_load(path.read_text())


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _one(path: Path, kind: str) -> dict:
    found = [d for d in _docs(path) if d.get("kind") == kind]
    assert len(found) == 1, f"{path.name}: expected one {kind}, found {len(found)}"
    return found[0]


def _gpu_type(cfg: dict) -> tuple[str, dict]:
    types = {k: v for k, v in cfg["available_node_types"].items() if k != cfg["head_node_type"]}
    gpu = {k: v for k, v in types.items() if v.get("resources", {}).get("GPU", 0) >= 1}
    assert len(gpu) == 1, f"expected one GPU worker type, found {sorted(gpu)} among {sorted(types)}"
    return next(iter(gpu.items()))


def _bash_syntax_errors(script: str) -> str:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not found")
    r = subprocess.run([bash, "-n"], input=script, capture_output=True, text=True, timeout=30)
    return r.stderr if r.returncode else ""


# ---------------------------------------------------------------------------------------------
# cluster launcher (ray up)


@pytest.mark.parametrize("cloud", sorted(LAUNCHER_CONFIGS))
def test_launcher_config_validates_against_ray_schema(cloud, ray_schema):
    cfg = _load(LAUNCHER_CONFIGS[cloud])
    jsonschema.validate(cfg, ray_schema)
    assert cfg["provider"]["type"] == cloud
    assert cfg["head_node_type"] in cfg["available_node_types"]


def _typo_top_level(cfg):
    cfg["max_worker"] = cfg.pop("max_workers")


def _fractional_gpu(cfg):
    _gpu_type(cfg)[1]["resources"]["GPU"] = 0.5


def _string_min_workers(cfg):
    _gpu_type(cfg)[1]["min_workers"] = "0"


def _no_provider(cfg):
    del cfg["provider"]


def _unknown_node_type_key(cfg):
    _gpu_type(cfg)[1]["min_worker"] = 0


@pytest.mark.parametrize(
    "breakage", [_typo_top_level, _fractional_gpu, _string_min_workers, _no_provider, _unknown_node_type_key]
)
@pytest.mark.parametrize("cloud", sorted(LAUNCHER_CONFIGS))
def test_broken_launcher_config_is_rejected(cloud, breakage, ray_schema):
    """The schema check has teeth: a broken copy of each config fails validation."""
    cfg = copy.deepcopy(_load(LAUNCHER_CONFIGS[cloud]))
    breakage(cfg)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cfg, ray_schema)


@pytest.mark.parametrize("cloud", sorted(LAUNCHER_CONFIGS))
def test_launcher_head_is_cpu_only_and_takes_no_work(cloud):
    cfg = _load(LAUNCHER_CONFIGS[cloud])
    head = cfg["available_node_types"][cfg["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0
    assert head["resources"].get("CPU") == 0, "the head must advertise no CPU, so no work lands on it"
    if cloud == "gcp":
        assert "guestAccelerators" not in head["node_config"]


@pytest.mark.parametrize("cloud", sorted(LAUNCHER_CONFIGS))
def test_launcher_gpu_worker_type_autoscales_from_zero(cloud):
    cfg = _load(LAUNCHER_CONFIGS[cloud])
    name, gpu = _gpu_type(cfg)
    assert gpu["min_workers"] == 0, f"{name}: min_workers must be 0 (no idle GPUs)"
    assert gpu["max_workers"] >= 1, f"{name}: max_workers must allow at least one GPU node"
    assert gpu["max_workers"] <= cfg["max_workers"], f"{name}: max_workers above the cluster's max_workers"
    assert gpu["resources"]["GPU"] >= 1
    node = gpu["node_config"]
    if cloud == "aws":
        assert re.match(r"^(g|p)\d", node["InstanceType"]), f"{node['InstanceType']} is not a GPU instance type"
        assert node.get("InstanceMarketOptions", {}).get("MarketType") in (None, "spot")
    else:
        accelerators = node["guestAccelerators"]
        assert accelerators and all(a["acceleratorCount"] >= 1 for a in accelerators)
        assert sum(a["acceleratorCount"] for a in accelerators) == gpu["resources"]["GPU"]
        assert node["scheduling"]["onHostMaintenance"] == "TERMINATE", "GPU VMs cannot live-migrate"


@pytest.mark.parametrize("cloud", sorted(LAUNCHER_CONFIGS))
def test_launcher_start_commands_disable_usage_stats_and_require_tokens(cloud):
    cfg = _load(LAUNCHER_CONFIGS[cloud])
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        starts = [c for c in cfg[key] if "ray start" in c]
        assert starts, f"{key}: no `ray start`"
        for cmd in starts:
            assert "--disable-usage-stats" in cmd, f"{key}: {cmd!r}"
            assert "RAY_USAGE_STATS_ENABLED=0" in cmd, f"{key}: {cmd!r}"
            assert "RAY_AUTH_MODE=token" in cmd, f"{key}: {cmd!r}"
    head = " ".join(cfg["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head, "the dashboard / Jobs API must stay on the head's loopback"
    run_options = " ".join(cfg["docker"]["run_options"])
    assert "--shm-size" in run_options
    for env in ("RAY_USAGE_STATS_ENABLED=0", "RAY_AUTH_MODE=token", "TFHUB_CACHE_DIR="):
        assert env in run_options, f"docker run_options lack {env}"
    assert any(remote.endswith("/.ray/auth_token") for remote in cfg["file_mounts"]), "no token file mount"


@pytest.mark.parametrize("cloud", sorted(LAUNCHER_CONFIGS))
def test_launcher_commands_are_valid_bash(cloud):
    cfg = _load(LAUNCHER_CONFIGS[cloud])
    keys = (
        "initialization_commands",
        "setup_commands",
        "head_setup_commands",
        "worker_setup_commands",
        "head_start_ray_commands",
        "worker_start_ray_commands",
    )
    cmds = [c for k in keys for c in cfg.get(k, [])]
    cmds += [c for t in cfg["available_node_types"].values() for c in t.get("initialization_commands", [])]
    errors = {c: e for c in cmds if (e := _bash_syntax_errors(c))}
    assert not errors, errors


# ---------------------------------------------------------------------------------------------
# KubeRay


@pytest.fixture(scope="module")
def raycluster() -> dict:
    return _one(CLUSTER / "k8s" / "raycluster.yaml", "RayCluster")


@pytest.fixture(scope="module")
def rayjob() -> dict:
    return _one(CLUSTER / "k8s" / "rayjob-multiplicativity.yaml", "RayJob")


def _containers(spec: dict) -> list[tuple[str, dict, dict]]:
    """(group, pod spec, Ray container) for the head and every worker group."""
    groups = [("head", spec["headGroupSpec"])] + [(g["groupName"], g) for g in spec["workerGroupSpecs"]]
    return [(name, g["template"]["spec"], g["template"]["spec"]["containers"][0]) for name, g in groups]


def _gpu_group(spec: dict) -> dict:
    groups = [g for g in spec["workerGroupSpecs"] if g["groupName"] == "gpu-group"]
    assert len(groups) == 1, "expected one worker group named gpu-group"
    return groups[0]


def _check_cluster_spec(spec: dict) -> None:
    assert spec["enableInTreeAutoscaling"] is True
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0", "the head must take no work"
    assert "dashboard-host" in head["rayStartParams"]
    assert head["rayStartParams"].get("disable-usage-stats") == "true"
    head_limits = head["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert "nvidia.com/gpu" not in head_limits, "the head is CPU-only"

    group = _gpu_group(spec)
    assert group["replicas"] == 0 and group["minReplicas"] == 0
    assert group["maxReplicas"] > group["minReplicas"]
    limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert int(limits["nvidia.com/gpu"]) >= 1
    assert "cpu" in limits and "memory" in limits

    assert spec["authOptions"]["mode"] == "token"
    for name, pod, container in _containers(spec):
        env = {e["name"]: e for e in container.get("env", [])}
        assert env["RAY_AUTH_MODE"]["value"] == "token", name
        assert "secretKeyRef" in env["RAY_AUTH_TOKEN"]["valueFrom"], f"{name}: the token must come from a Secret"
        assert env["RAY_USAGE_STATS_ENABLED"]["value"] == "0", name
        assert "TFHUB_CACHE_DIR" in env, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory", f"{name}: /dev/shm must be in memory"
        assert "persistentVolumeClaim" in volumes[mounts["/data"]], f"{name}: /data must be the shared volume"


def test_raycluster_manifest(raycluster):
    assert raycluster["apiVersion"] == "ray.io/v1"
    _check_cluster_spec(raycluster["spec"])


def test_rayjob_manifest(rayjob, raycluster):
    assert rayjob["apiVersion"] == "ray.io/v1"
    spec = rayjob["spec"]
    argv = shlex.split(spec["entrypoint"])
    assert argv[:2] == ["seqbench-ray", "submit"]
    assert argv[argv.index("--address") + 1] == "auto"
    assert spec["shutdownAfterJobFinishes"] is True
    assert isinstance(spec["ttlSecondsAfterFinished"], int) and spec["ttlSecondsAfterFinished"] >= 0
    assert spec["backoffLimit"] >= 1, "a retry resumes the job from its directory on the shared volume"
    _check_cluster_spec(spec["rayClusterSpec"])
    assert spec["rayClusterSpec"] == raycluster["spec"], "rayjob's rayClusterSpec drifted from raycluster.yaml"

    # the spec lives on the shared volume, and the replicas asked for can all get a GPU
    assert argv[argv.index("--spec") + 1].startswith("/data/")
    if "--replicas" in argv:
        group = _gpu_group(spec["rayClusterSpec"])
        limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
        gpus = group["maxReplicas"] * int(limits["nvidia.com/gpu"])
        assert 1 <= int(argv[argv.index("--replicas") + 1]) <= gpus, "more replicas than GPUs the group can reach"


def test_shared_volume_claim(raycluster):
    pvc = _one(CLUSTER / "k8s" / "storage.yaml", "PersistentVolumeClaim")
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for _, pod, _ in _containers(raycluster["spec"])
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {pvc["metadata"]["name"]}


# ---------------------------------------------------------------------------------------------
# local scripts and the README


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_local_script_is_valid_bash(script):
    text = script.read_text()
    assert not _bash_syntax_errors(text)
    assert text.startswith("#!/usr/bin/env bash")
    for needle in ("--num-gpus", "--object-store-memory", "--disable-usage-stats", "RAY_AUTH_MODE=token"):
        assert needle in text, f"{script.name} lacks {needle}"


def test_cluster_readme_names_existing_files():
    text = (CLUSTER / "README.md").read_text()
    named = set(re.findall(r"(?<![\w/.-])((?:cluster|docs|jobs)/[\w./-]*\w)", text))
    assert named, "cluster/README.md names no files"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"cluster/README.md names files that do not exist: {missing}"
    for path in [*LAUNCHER_CONFIGS.values(), *SCRIPTS, CLUSTER / "k8s" / "raycluster.yaml"]:
        assert str(path.relative_to(ROOT)) in text, f"cluster/README.md does not mention {path.relative_to(ROOT)}"
