"""Checks the weft Helm chart with Helm's own engine (helm-python-sdk: Helm v4's Go library).

Usage: chart_check.py CHART_DIR OUT_DIR

Lints the chart strictly, renders the defaults and every value set under CHART_DIR/ci/,
validates every manifest against the Kubernetes OpenAPI schemas (kubernetes-validate,
offline), asserts the properties operators rely on (shape, security, probes, auth from a
Secret, plugins delivery, disruption budget, scaling, monitoring, network policy) and that
values.schema.json and the templates refuse bad values. Writes each rendered weft.toml to
OUT_DIR/<set>.toml and prints a JSON summary ({"sets": {set: {"config", "env"}}}) for the
Rust test, which runs `weft validate` on them. Exit 1 with every failure listed.
"""

import glob
import json
import os
import re
import sys
import tomllib

import helm_python as helm
import kubernetes_validate
import yaml

RELEASE, NAMESPACE = "weft-ci", "weft"
BUNDLED_PLUGIN_DIR = "/usr/lib/weft/plugins"
# Kubernetes versions the manifests are validated against: the chart's minimum and the
# newest schemas kubernetes-validate ships (image volumes need 1.33).
MIN_KUBE, MIN_KUBE_IMAGE_VOLUME = "1.30", "1.33"
# Custom resources: no OpenAPI schema offline, so their required fields are checked here.
CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
    return condition


def render(chart, values):
    manifests = chart.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for template, text in sorted(manifests.items()):
        if template.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append((template, doc))
    return docs


def by_kind(docs, kind):
    return [d for _, d in docs if d["kind"] == kind]


def one(docs, kind, where):
    found = by_kind(docs, kind)
    check(len(found) == 1, f"{where}: expected one {kind}, found {len(found)}")
    return found[0] if found else None


def validate_manifests(docs, where, image_volume):
    latest = kubernetes_validate.utils.latest_version()
    versions = [MIN_KUBE_IMAGE_VOLUME if image_volume else MIN_KUBE, latest]
    for template, doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        name = f"{where}: {template}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if key in CUSTOM_KINDS:
            check(bool(doc.get("metadata", {}).get("name")), f"{name}: no metadata.name")
            check(isinstance(doc.get("spec"), dict), f"{name}: no spec")
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.utils.ValidationError as e:
                failures.append(f"{name}: invalid for Kubernetes {version}: {e.message} at {list(e.absolute_path)}")
            except kubernetes_validate.utils.SchemaNotFoundError as e:
                failures.append(f"{name}: {e.message}")


def selects(selector, labels):
    """Whether a Kubernetes label selector (matchLabels, matchExpressions) selects `labels`."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for e in selector.get("matchExpressions", []):
        key, op, vals = e["key"], e["operator"], e.get("values", [])
        if op == "Exists" and key not in labels or op == "DoesNotExist" and key in labels:
            return False
        if op == "In" and labels.get(key) not in vals or op == "NotIn" and labels.get(key) in vals:
            return False
    return True


def env_vars_in(config_text):
    """The ${VAR}s the config needs (those without a :-default)."""
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", config_text))


def check_pod(where, pod, values, config, config_text, docs):
    spec = pod["spec"]
    labels = pod["metadata"]["labels"]
    psc = spec.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, f"{where}: pod securityContext.runAsNonRoot is not true")
    check(psc.get("runAsUser", 0) != 0, f"{where}: pod runs as uid 0")
    check(isinstance(psc.get("fsGroup"), int) and psc["fsGroup"] != 0,
          f"{where}: pod securityContext.fsGroup not set (the data volume would not be writable)")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
          f"{where}: pod seccompProfile is not RuntimeDefault")
    check(spec.get("automountServiceAccountToken") is False, f"{where}: service account token mounted")
    for c in spec.get("initContainers", []) + spec["containers"]:
        csc = c.get("securityContext", {})
        cw = f"{where}: container {c['name']}"
        check(csc.get("readOnlyRootFilesystem") is True, f"{cw}: root filesystem writable")
        check(csc.get("allowPrivilegeEscalation") is False, f"{cw}: privilege escalation allowed")
        check("ALL" in csc.get("capabilities", {}).get("drop", []), f"{cw}: capabilities not all dropped")
        check(not csc.get("capabilities", {}).get("add"), f"{cw}: adds capabilities")
        check(csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{cw}: may run as root")
        check(csc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") == "RuntimeDefault",
              f"{cw}: seccomp profile is not RuntimeDefault")
        check(not csc.get("privileged"), f"{cw}: privileged")

    weft = [c for c in spec["containers"] if c["name"] == "weft"]
    if not check(len(weft) == 1, f"{where}: no container named weft"):
        return
    weft = weft[0]
    check(weft.get("args") == ["run", "--config", "/etc/weft/weft.toml"], f"{where}: weft args {weft.get('args')}")
    ports = {p["name"]: p["containerPort"] for p in weft.get("ports", [])}
    check(ports.get("http") == values.get("containerPort", 8080), f"{where}: container port {ports}")
    listen = config.get("hub", {}).get("listen", "")
    check(listen == f"0.0.0.0:{ports.get('http')}", f"{where}: hub.listen is {listen!r}, not 0.0.0.0:<http port>")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        get = weft.get(probe, {}).get("httpGet", {})
        check(get.get("path") == path and get.get("port") in ("http", ports.get("http")),
              f"{where}: {probe} is {get}, expected GET {path} on the http port")

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in weft.get("volumeMounts", [])}
    config_mount = mounts.get("/etc/weft")
    if check(config_mount is not None, f"{where}: /etc/weft not mounted"):
        cm_name = volumes.get(config_mount["name"], {}).get("configMap", {}).get("name")
        cms = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == cm_name]
        check(len(cms) == 1 and cms[0]["data"]["weft.toml"] == config_text,
              f"{where}: /etc/weft is not the ConfigMap holding the rendered weft.toml")
    data_dir = config.get("hub", {}).get("data_dir")
    check(data_dir in mounts, f"{where}: hub.data_dir {data_dir} is not a mounted volume (read-only root)")
    check("/tmp" in mounts, f"{where}: no writable /tmp")

    # every ${VAR} of the config comes from the pod's environment; tokens from a Secret
    env = {e["name"]: e for e in weft.get("env", [])}
    for var in sorted(env_vars_in(config_text)):
        check(var in env, f"{where}: the config needs ${{{var}}} but the container has no such variable")
    auth = config.get("auth", {})
    check(bool(auth.get("tokens")) or auth.get("anonymous") is True,
          f"{where}: listening on 0.0.0.0 without tokens and without auth.anonymous")
    for token in auth.get("tokens", []):
        m = re.fullmatch(r"\$\{([A-Z0-9_]+)\}", token.get("token", ""))
        if check(m is not None, f"{where}: token {token.get('name')} is not a ${{VAR}}: {token.get('token')!r}"):
            ref = env.get(m.group(1), {}).get("valueFrom", {}).get("secretKeyRef")
            check(ref is not None, f"{where}: token variable {m.group(1)} does not come from a Secret")
            if ref and not values.get("auth", {}).get("existingSecret"):
                secrets = [s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == ref["name"]]
                check(len(secrets) == 1 and ref["key"] in secrets[0].get("data", {}),
                      f"{where}: the chart-made Secret {ref['name']} lacks key {ref['key']}")

    # plugins: each config path is bundled in the image or under the plugin mount
    source = values.get("plugins", {}).get("source", "")
    mount_path = values.get("plugins", {}).get("mountPath", "/opt/weft/plugins")
    for name, plugin in config.get("plugins", {}).items():
        path = plugin.get("path", "")
        ok = path.startswith(BUNDLED_PLUGIN_DIR + "/") or (source and path.startswith(mount_path + "/"))
        check(ok, f"{where}: plugin {name} path {path} is neither bundled in the image nor under the plugin mount")
    if source:
        pm = mounts.get(mount_path)
        if check(pm is not None and pm.get("readOnly") is True, f"{where}: plugins not mounted read-only at {mount_path}"):
            vol = volumes.get(pm["name"], {})
            if source == "configMap":
                cm_name = vol.get("configMap", {}).get("name")
                cms = [d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == cm_name]
                if check(len(cms) == 1, f"{where}: plugin ConfigMap {cm_name} not rendered"):
                    files = set(cms[0].get("binaryData", {}))
                    for plugin in config.get("plugins", {}).values():
                        if plugin["path"].startswith(mount_path + "/"):
                            check(plugin["path"][len(mount_path) + 1:] in files,
                                  f"{where}: {plugin['path']} is not in the plugin ConfigMap ({sorted(files)})")
            elif values["plugins"]["image"].get("method", "volume") == "volume":
                ref = vol.get("image", {}).get("reference", "")
                check(ref.startswith(values["plugins"]["image"]["repository"] + ":"),
                      f"{where}: plugin volume is not the image volume of the plugin image: {vol}")
                check(pm.get("subPath") == values["plugins"]["image"]["path"].strip("/"),
                      f"{where}: plugin image volume does not mount the image's plugin directory")
            else:
                check("emptyDir" in vol, f"{where}: init-container plugins need an emptyDir, got {vol}")
                inits = spec.get("initContainers", [])
                check(any(i["image"].startswith(values["plugins"]["image"]["repository"] + ":")
                          and any(m["name"] == pm["name"] for m in i.get("volumeMounts", []))
                          for i in inits),
                      f"{where}: no init container copies the plugin image into the plugin volume")

    # the Service and the disruption budget select these pods
    service = [s for s in by_kind(docs, "Service") if s["spec"].get("clusterIP") != "None"]
    if check(len(service) == 1, f"{where}: expected one ClusterIP Service"):
        sel = service[0]["spec"]["selector"]
        check(sel.items() <= labels.items(), f"{where}: Service selector {sel} does not match the pods")
        check(service[0]["spec"]["ports"][0]["targetPort"] == "http", f"{where}: Service does not target http")
    pdb = one(docs, "PodDisruptionBudget", where)
    if pdb:
        check(pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), f"{where}: PDB selects other pods")
    return volumes, mounts, data_dir


def check_set(chart, set_name, values):
    where = f"[{set_name}]"
    docs = render(chart, values)
    merged = chart.merge_values(values)
    image_volume = merged["plugins"]["source"] == "image" and merged["plugins"]["image"]["method"] == "volume"
    validate_manifests(docs, where, image_volume)

    cm = [d for d in by_kind(docs, "ConfigMap") if "weft.toml" in d.get("data", {})]
    if not check(len(cm) == 1, f"{where}: no ConfigMap with weft.toml"):
        return None
    config_text = cm[0]["data"]["weft.toml"]
    try:
        config = tomllib.loads(config_text)
    except tomllib.TOMLDecodeError as e:
        failures.append(f"{where}: rendered weft.toml is not TOML: {e}\n{config_text}")
        return None

    mode = merged["mode"]
    if mode == "embedded":
        check(not by_kind(docs, "Deployment"), f"{where}: embedded mode renders a Deployment")
        sts = one(docs, "StatefulSet", where)
        if not sts:
            return None
        check(sts["spec"]["replicas"] == merged["replicaCount"], f"{where}: replicas {sts['spec'].get('replicas')}")
        check(sts["spec"].get("updateStrategy", {}).get("type", "RollingUpdate") == "RollingUpdate",
              f"{where}: StatefulSet update strategy")
        headless = [s for s in by_kind(docs, "Service")
                    if s["metadata"]["name"] == sts["spec"]["serviceName"] and s["spec"].get("clusterIP") == "None"]
        check(len(headless) == 1, f"{where}: StatefulSet serviceName is not a rendered headless Service")
        vcts = {v["metadata"]["name"]: v for v in sts["spec"].get("volumeClaimTemplates", [])}
        volumes, mounts, data_dir = check_pod(where, sts["spec"]["template"], merged, config, config_text, docs)
        data_mount = mounts.get(data_dir, {}).get("name")
        check(data_mount in vcts and data_mount not in volumes,
              f"{where}: the data directory is not on the StatefulSet's PersistentVolumeClaim")
        if data_mount in vcts:
            req = vcts[data_mount]["spec"]["resources"]["requests"]["storage"]
            check(req == merged["persistence"]["size"], f"{where}: PVC size {req}")
        check(not by_kind(docs, "HorizontalPodAutoscaler") and not by_kind(docs, "ScaledObject"),
              f"{where}: embedded mode autoscales")
    else:
        check(not by_kind(docs, "StatefulSet") and not by_kind(docs, "PersistentVolumeClaim"),
              f"{where}: broker mode renders a StatefulSet or PVC")
        dep = one(docs, "Deployment", where)
        if not dep:
            return None
        volumes, mounts, data_dir = check_pod(where, dep["spec"]["template"], merged, config, config_text, docs)
        check("emptyDir" in volumes.get(mounts.get(data_dir, {}).get("name"), {}),
              f"{where}: broker mode data directory is not an emptyDir")
        for route in config.get("routes", []):
            for ref in route.get("from", []) + route.get("to", []) + [route.get("dead_letter", "")]:
                check(not ref.startswith("topic:"), f"{where}: broker route {route['name']} uses {ref}")
        check(not config["hub"].get("dead_letter", "topic:").startswith("topic:"),
              f"{where}: broker mode dead letters go to the local log")
        hpas, scaled = by_kind(docs, "HorizontalPodAutoscaler"), by_kind(docs, "ScaledObject")
        if merged["autoscaling"]["enabled"]:
            check(len(hpas) == 1 and hpas[0]["spec"]["scaleTargetRef"] == {
                "apiVersion": "apps/v1", "kind": "Deployment", "name": dep["metadata"]["name"]},
                f"{where}: the HPA does not scale the Deployment")
            check("replicas" not in dep["spec"], f"{where}: Deployment sets replicas under an HPA")
        elif merged["keda"]["enabled"]:
            check(not hpas, f"{where}: an HPA beside KEDA's")
            if check(len(scaled) == 1, f"{where}: no ScaledObject"):
                so = scaled[0]["spec"]
                check(so["scaleTargetRef"]["name"] == dep["metadata"]["name"], f"{where}: ScaledObject target")
                types = {t["type"] for t in so["triggers"]}
                check(types and types <= {"redis-streams", "rabbitmq"}, f"{where}: ScaledObject triggers {types}")
                auths = by_kind(docs, "TriggerAuthentication")
                for t in so["triggers"]:
                    ref = t.get("authenticationRef", {}).get("name")
                    check(ref is None or any(a["metadata"]["name"] == ref for a in auths),
                          f"{where}: trigger {t['type']} refers to a missing TriggerAuthentication")
            check("replicas" not in dep["spec"], f"{where}: Deployment sets replicas under KEDA")
        else:
            check(dep["spec"]["replicas"] == merged["replicaCount"], f"{where}: Deployment replicas")

    sms = by_kind(docs, "ServiceMonitor")
    if check(len(sms) == int(merged["serviceMonitor"]["enabled"]), f"{where}: ServiceMonitor count"):
        for sm in sms:
            ep = sm["spec"]["endpoints"][0]
            check(ep["port"] == "http" and ep["path"] == "/metrics", f"{where}: ServiceMonitor endpoint {ep}")
            picked = [s["metadata"]["name"] for s in by_kind(docs, "Service")
                      if selects(sm["spec"]["selector"], s["metadata"].get("labels", {}))]
            check(len(picked) == 1, f"{where}: the ServiceMonitor selects {picked}: each pod must be scraped once")
    nps = by_kind(docs, "NetworkPolicy")
    if check(len(nps) == int(merged["networkPolicy"]["enabled"]), f"{where}: NetworkPolicy count"):
        for np in nps:
            check(any(p.get("port") == "http" for rule in np["spec"]["ingress"] for p in rule.get("ports", [])),
                  f"{where}: NetworkPolicy does not admit the http port")

    env = {}
    workload = (by_kind(docs, "StatefulSet") + by_kind(docs, "Deployment"))[0]
    for e in workload["spec"]["template"]["spec"]["containers"][0].get("env", []):
        env[e["name"]] = "secret" if "secretKeyRef" in e.get("valueFrom", {}) else "plain"
    return {"config_text": config_text, "env": env}


def check_lint(chart_dir, set_name, values):
    report = helm.lint(chart_dir, values, strict=True, namespace=NAMESPACE)
    for m in report.get("messages", []):
        check(m["severity"] < 2, f"[{set_name}] helm lint --strict: {m['path']}: {m['error']}")
    for e in report.get("errors", []):
        failures.append(f"[{set_name}] helm lint --strict: {e}")


def expect_refused(chart, values, needle, what):
    """The schema or the templates refuse `values` with a message containing `needle`."""
    try:
        chart.render(values=values, name=RELEASE, namespace=NAMESPACE)
    except (helm.HelmValuesError, helm.HelmRenderError) as e:
        check(needle in str(e), f"refusal of {what} does not say {needle!r}: {e}")
        return
    failures.append(f"the chart accepted {what}: {values}")


def main():
    chart_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    sets = {"default": {}}
    for path in sorted(glob.glob(os.path.join(chart_dir, "ci", "*values*.yaml"))):
        with open(path) as f:
            sets[os.path.basename(path).removesuffix(".yaml")] = yaml.safe_load(f) or {}
    check(len(sets) >= 3, f"expected value sets for both shapes under {chart_dir}/ci, found {sorted(sets)}")
    summary = {}
    with helm.Chart.load(chart_dir) as chart:
        check({chart.merge_values(v)["mode"] for v in sets.values()} == {"embedded", "broker"},
              "the value sets do not cover both shapes")
        for name, values in sets.items():
            check_lint(chart_dir, name, values)
            try:
                chart.validate_schema(values)
            except helm.HelmValuesError as e:
                failures.append(f"[{name}] values.schema.json refuses the value set: {e}")
                continue
            result = check_set(chart, name, values)
            if result:
                path = os.path.join(out_dir, f"{name}.toml")
                with open(path, "w") as f:
                    f.write(result["config_text"])
                summary[name] = {"config": path, "env": result["env"]}

        # values.schema.json and the templates refuse what cannot work
        for bad, needle, what in [
            ({"replicaCount": 1.5}, "replicaCount", "a fractional replicaCount"),
            ({"replicaCount": "2"}, "replicaCount", "a string replicaCount"),
            ({"mode": "cluster"}, "mode", "an unknown mode"),
            ({"config": {"hub": {"listen": "127.0.0.1:8080"}}}, "listen", "config.hub.listen (the chart owns it)"),
            ({"autoscaling": {"enabled": True}}, "autoscaling", "an HPA on the embedded StatefulSet"),
            ({"auth": {"anonymous": False, "tokens": []}}, "tokens", "no tokens and no anonymous access"),
            ({"image": {"digest": "latest"}}, "digest", "a malformed image digest"),
            ({"mode": "broker", "config": {"hub": {"dead_letter": "dl"},
              "routes": [{"name": "r", "from": ["topic:in"], "to": ["dl"]}]}},
             "embedded-log topic", "a broker-mode route reading the local log"),
            ({"mode": "broker"}, "dead_letter", "broker mode with dead letters in the local log"),
            ({"mode": "broker", "config": {"hub": {"dead_letter": "dl"}}, "autoscaling": {"enabled": True},
              "keda": {"enabled": True, "triggers": [{"type": "rabbitmq", "metadata": {}}]}},
             "enable one", "an HPA and KEDA at once"),
            ({"plugins": {"source": "configMap", "configMap": {"files": {"einvoice.wasm": "A" * 1_700_000}}}},
             "1 MiB", "a 1.25 MB plugin in a ConfigMap"),
        ]:
            expect_refused(chart, bad, needle, what)

    print(json.dumps({"sets": summary, "failures": failures}, indent=1))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
