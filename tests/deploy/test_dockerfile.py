"""The Dockerfile: hadolint clean, a slim non-root runtime stage, and a HEALTHCHECK that works against real micd.

No Docker engine runs here, so the image is not built; what can be checked without one is checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.procs import Daemon

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            joined.append(pending.strip())
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in joined]


def runtime_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_hadolint_is_clean() -> None:
    done = subprocess.run([HADOLINT, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_installs_the_pinned_versions() -> None:
    installs = [a for op, a in instructions() if op == "RUN" and "install" in a and "pip" in a]
    assert installs, "the build stage installs micd with pip"
    assert all("--constraint constraints.txt" in a for a in installs), installs
    assert "!constraints.txt" in (REPO / ".dockerignore").read_text().splitlines()


def test_runtime_stage_is_slim_and_unprivileged() -> None:
    assert sum(op == "FROM" for op, _ in instructions()) >= 2, "multi-stage build"
    stage = runtime_stage()
    assert "slim" in next(a for op, a in instructions() if op == "ARG" and a.startswith("PYTHON_IMAGE="))
    runs = " ".join(a for op, a in stage if op == "RUN")
    for tool in ("apt-get install", "gcc", "build-essential", "pip install"):
        assert tool not in runs, f"runtime stage installs {tool!r}"
    user = [a for op, a in stage if op == "USER"]
    assert user, "runtime stage sets USER"
    uid = user[-1].split(":")[0]
    assert uid.isdigit(), "numeric USER lets Kubernetes verify runAsNonRoot"
    assert int(uid) != 0
    assert ("EXPOSE", "9095") in stage
    assert any(op == "COPY" and a.split()[0] == "rules/" for op, a in stage), "rules baked at the default rules_dir"
    assert ("ENTRYPOINT", '["micd"]') in stage
    assert ("CMD", '["serve"]') in stage


def test_build_context_holds_every_copied_path() -> None:
    """.dockerignore ignores everything but a whitelist; each COPY source must be on it or the build fails."""
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]
    rules = [line for line in ignore if line and not line.startswith("#")]
    assert rules[0] == "*"
    allowed = {line.removeprefix("!").rstrip("/") for line in rules if line.startswith("!")}
    sources = [
        source.rstrip("/")
        for op, args in instructions()
        if op == "COPY" and "--from=" not in args
        for source in args.split()[:-1]
        if not source.startswith("--")
    ]
    assert sources
    assert set(sources) <= allowed
    assert {".venv", "var", "tests", ".git"}.isdisjoint(allowed)


def healthcheck_command() -> list[str]:
    args = next(a for op, a in instructions() if op == "HEALTHCHECK")
    command: list[str] = json.loads(args.split("CMD", 1)[1])
    assert command[0] == "python", "slim images have no curl: the check uses the image's own Python"
    return [sys.executable, *command[1:]]


def test_healthcheck_probes_healthz_of_a_running_micd(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, {}).start()
    # In the image MICD_LISTEN names all interfaces; the check must still reach the daemon on loopback.
    env = {**os.environ, "MICD_LISTEN": f"0.0.0.0:{daemon.port}"}
    try:
        alive = subprocess.run(healthcheck_command(), env=env, capture_output=True, text=True, timeout=30)
        assert alive.returncode == 0, alive.stderr
    finally:
        assert daemon.stop() == 0
    dead = subprocess.run(healthcheck_command(), env=env, capture_output=True, text=True, timeout=30)
    assert dead.returncode != 0
