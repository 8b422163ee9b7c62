#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# check_manifests.py K8SDIR - the deployment files under k8s/deploy parse
# as YAML (python3-yaml) and hold together: kinds and API versions, a
# DaemonSet whose selector matches its template, every volumeMount naming a
# volume, hugepages requests equal to limits, the plugin's flags ones it
# has (k8s/plugin/main.go) with its mounts where its flags point, and the
# example pod asking for the resource the plugin advertises, 32 units.
# No cluster and no schema validator in Debian's packages: this is what
# can be checked here. Exit 77 without python3-yaml.
import os
import re
import sys

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml missing (apt-get install python3-yaml)")
    sys.exit(77)

top = sys.argv[1]
deploy = os.path.join(top, "deploy")
errors = []


def check(ok, msg):
    if not ok:
        errors.append(msg)


def load(name):
    with open(os.path.join(deploy, name)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    check(docs, f"{name}: no documents")
    return docs


def flags_of(args):
    out = {}
    for a in args[1:]:
        check(a.startswith("--"), f"argument {a!r} is not --flag[=value]")
        k, _, v = a[2:].partition("=")
        out[k] = v
    return out


def check_pod_spec(where, spec):
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    names = set()
    for c in spec["containers"]:
        check(c.get("name") and c["name"] not in names, f"{where}: container name {c.get('name')!r}")
        names.add(c.get("name"))
        check(c.get("image"), f"{where}/{c['name']}: no image")
        for m in c.get("volumeMounts", []):
            check(m["name"] in vols, f"{where}/{c['name']}: mount of unknown volume {m['name']}")
            check(m["mountPath"].startswith("/"), f"{where}/{c['name']}: mountPath {m['mountPath']}")
        res = c.get("resources", {})
        req, lim = res.get("requests", {}), res.get("limits", {})
        for k in set(req) | set(lim):
            if k.startswith("hugepages-") or "/" in k:
                check(k in lim and req.get(k, lim[k]) == lim[k],
                      f"{where}/{c['name']}: {k} request and limit differ")
        if any(k.startswith("hugepages-") for k in lim):
            check("memory" in lim or "cpu" in lim, f"{where}/{c['name']}: hugepages without memory or cpu")
    return vols


# The plugin's flags, from its source.
with open(os.path.join(top, "plugin", "main.go")) as f:
    plugin_flags = set(re.findall(r'flag\.(?:String|Duration|Bool|Int)\("([a-z-]+)"', f.read()))
check({"plugin-dir", "contigd-socket", "resource", "unit"} <= plugin_flags,
      f"the plugin lacks contract flags: {sorted(plugin_flags)}")

ds = load("contig-daemonset.yaml")
check(len(ds) == 1 and ds[0]["kind"] == "DaemonSet" and ds[0]["apiVersion"] == "apps/v1",
      "contig-daemonset.yaml: one apps/v1 DaemonSet")
d = ds[0]
sel = d["spec"]["selector"]["matchLabels"]
labels = d["spec"]["template"]["metadata"]["labels"]
check(all(labels.get(k) == v for k, v in sel.items()), "DaemonSet selector does not match its template")
tspec = d["spec"]["template"]["spec"]
vols = check_pod_spec("DaemonSet", tspec)
check(tspec.get("hostPID") is True, "contigd needs hostPID (client pids in SO_PEERCRED)")
byname = {c["name"]: c for c in tspec["containers"]}
check({"contigd", "device-plugin"} <= set(byname), "DaemonSet: containers contigd and device-plugin")
plugin = byname["device-plugin"]
pf = flags_of(plugin["command"])
check(plugin["command"][0].endswith("/contig-device-plugin"), "device-plugin runs contig-device-plugin")
for k in pf:
    check(k in plugin_flags, f"device-plugin: unknown flag --{k}")
mounts = {m["mountPath"]: vols[m["name"]] for m in plugin.get("volumeMounts", []) if m["name"] in vols}
pdir = pf.get("plugin-dir", "/var/lib/kubelet/device-plugins")
check(pdir in mounts and mounts[pdir]["hostPath"]["path"] == pdir,
      f"--plugin-dir {pdir} is not the host's directory mounted at the same path")
sockdir = os.path.dirname(pf.get("contigd-socket", "/run/contigd/contigd.sock"))
check(sockdir in mounts and mounts[sockdir]["hostPath"]["path"] == sockdir,
      f"the socket directory {sockdir} must be the host's, at the same path (Allocate mounts it by name)")
cd = byname["contigd"]
cf = flags_of(cd["command"])
check(os.path.dirname(cf.get("socket", "")) == sockdir, "contigd's --socket is not where the plugin looks")
check(any(k.startswith("hugepages-") for k in cd.get("resources", {}).get("limits", {})),
      "contigd must request hugepages for its pool")
resource = pf.get("resource", "contig.io/dma-2Mi")
check(resource == "contig.io/dma-2Mi", f"resource {resource}")

pods = load("example-pod.yaml")
check(len(pods) == 1 and pods[0]["kind"] == "Pod" and pods[0]["apiVersion"] == "v1", "example-pod.yaml: one v1 Pod")
pspec = pods[0]["spec"]
check_pod_spec("Pod", pspec)
lim = pspec["containers"][0].get("resources", {}).get("limits", {})
check(lim.get(resource) == 32, f"the example pod asks for {lim.get(resource)!r} of {resource}, not 32")
check(not any(k.startswith("hugepages-") for k in lim), "the example pod needs no hugepages of its own")

for e in errors:
    print("FAIL:", e)
if errors:
    sys.exit(1)
print("k8s manifests: ok")
