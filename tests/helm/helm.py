"""Helm 4 as the reference for the differential tests: renders charts and probes functions with
Helm's own engine (helm-python-sdk), and answers in JSON on stdout.

  helm.py render CHART_DIR RELEASE NAMESPACE [VALUES_YAML]
      {"manifest": "...", "templates": {path: text}}  or  {"error": "..."}
      `manifest` is what `helm template` prints for the chart's non-hook documents (a client-side
      dry-run install with in-memory storage); `templates` is each template's rendered text.
  helm.py functions NAMES_FILE
      {"defined": [names Helm 4's engine accepts in a template]}
  helm.py probe CASES_JSON_FILE
      [{"output": "...", "error": "..."}] for cases [{"name", "template", "values"}]: each
      template is rendered by Helm 4's engine with `.` bound to the case's values (the template
      is a chart's `templates/_case.tpl`, run by `{{ template "probe/templates/_case.tpl" .Values
      }}`); output is the chart's rendered text, error Helm's message.
  helm.py strvals CASES_JSON_FILE
      [{"values": {...}} or {"error": "..."}] for cases [{"kind": "set"|"set-string", "expr"}]:
      each expression parsed by Helm's `strvals` into an empty map, as one `--set` reads it.
  helm.py package CHART_DIR DEST_DIR        {"archive": path}
  helm.py push ARCHIVE oci://HOST/PATH       {} (plain HTTP: the test registries are local)
  helm.py pull oci://HOST/PATH VERSION DEST_DIR  {"archive": path} (`helm pull`, plain HTTP)
  helm.py index DIR                          {} (writes DIR/index.yaml, `helm repo index`)
  helm.py dependency-update CHART_DIR        {} (`helm dependency update`)
  helm.py dependency-list CHART_DIR          {"dependencies": [{name, version, repository, status}]}

Releases in a cluster (run as `helm`, the venv's python under that name, so that server-side
apply uses the Helm CLI's field manager):
  helm.py install KUBECONFIG NAMESPACE CHART_DIR RELEASE [VALUES_JSON]   {revision, status}
  helm.py upgrade KUBECONFIG NAMESPACE CHART_DIR RELEASE [VALUES_JSON]   {revision, status}
      (HELM_WAIT=watcher and HELM_TIMEOUT=SECONDS make them wait, as `--wait=watcher`)
  helm.py history KUBECONFIG NAMESPACE RELEASE    {"revisions": [{revision, status, ...}]}
  helm.py status KUBECONFIG NAMESPACE RELEASE     the release summary (`helm status`: notes, ...)
  helm.py rollback KUBECONFIG NAMESPACE RELEASE [REVISION]               {}
  helm.py uninstall KUBECONFIG NAMESPACE RELEASE  {}
"""

import json
import os
import sys
import tempfile

from helm_python.chart import Chart, values_from_yaml
from helm_python.config import Config


def render(chart_dir, release, namespace, values_file=None):
    values = {}
    if values_file:
        with open(values_file, encoding="utf-8") as f:
            values = values_from_yaml(f.read())
    try:
        with Chart.load(chart_dir) as chart:
            templates = chart.render(values, name=release, namespace=namespace)
        config = Config(storage_driver="memory", namespace=namespace)
        summary = config.install(chart_dir, release, values, dry_run="client", namespace=namespace)
        # A chart that renders no manifest (a library chart, or every template empty): Helm's
        # summary then has no `manifest`.
        return {"manifest": summary.get("manifest", ""), "templates": templates}
    except Exception as e:  # Helm's error, reported as data for the comparison
        return {"error": str(e)}


def functions(names_file):
    with open(names_file, encoding="utf-8") as f:
        names = f.read().split()
    defined = []
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "templates"))
        with open(os.path.join(d, "Chart.yaml"), "w") as f:
            f.write("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
        for name in names:
            with open(os.path.join(d, "templates", "t.yaml"), "w") as f:
                f.write("{{ if false }}{{ %s }}{{ end }}" % name)
            try:
                with Chart.load(d) as chart:
                    chart.render({}, name="probe")
                defined.append(name)
            except Exception:
                pass
    return {"defined": defined}


def probe(cases_file):
    with open(cases_file, encoding="utf-8") as f:
        cases = json.load(f)
    results = []
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "templates"))
        with open(os.path.join(d, "Chart.yaml"), "w") as f:
            f.write("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
        with open(os.path.join(d, "templates", "case.yaml"), "w") as f:
            f.write('{{ template "probe/templates/_case.tpl" .Values }}')
        for case in cases:
            with open(os.path.join(d, "templates", "_case.tpl"), "w", encoding="utf-8") as f:
                f.write(case["template"])
            try:
                with Chart.load(d) as chart:
                    out = chart.render(case.get("values") or {}, name="probe")
                results.append({"output": out.get("probe/templates/case.yaml", ""), "error": ""})
            except Exception as e:  # Helm's error, reported as data for the comparison
                results.append({"output": "", "error": str(e)})
    return results


def strvals(cases_file):
    import helm_python

    with open(cases_file, encoding="utf-8") as f:
        cases = json.load(f)
    parse = {
        "set": helm_python.parse_set_string,
        "set-string": helm_python.parse_set_string_values,
    }
    out = []
    for case in cases:
        try:
            out.append({"values": parse[case["kind"]](case["expr"])})
        except Exception as e:  # Helm's error, reported as data for the comparison
            out.append({"error": str(e)})
    return out


def package(chart_dir, dest):
    from helm_python.chart import package as helm_package

    return {"archive": helm_package(chart_dir, destination=dest)}


def push(archive, remote):
    from helm_python import registry

    registry.push(archive, remote, plain_http=True)
    return {}


def pull(remote, version, dest):
    from helm_python import registry

    registry.pull(remote, version=version, destination=dest, plain_http=True)
    archives = [f for f in os.listdir(dest) if f.endswith(".tgz")]
    return {"archive": os.path.join(dest, archives[0]) if len(archives) == 1 else None}


def index(directory):
    from helm_python import registry

    registry.repo_index_generate(directory)
    return {}


def dependency_update(chart_dir):
    from helm_python import registry

    registry.dependency_update(chart_dir, plain_http=True)
    return {}


def dependency_list(chart_dir):
    from helm_python.chart import dependency_list as helm_dependency_list

    return {"dependencies": helm_dependency_list(chart_dir)}


def _config(kubeconfig, namespace):
    return Config(kubeconfig_path=kubeconfig, namespace=namespace)


def _waiting():
    # HELM_WAIT (`watcher`, `legacy`) and HELM_TIMEOUT (seconds) for the benchmarks.
    wait = os.environ.get("HELM_WAIT") or None
    timeout = int(os.environ["HELM_TIMEOUT"]) if os.environ.get("HELM_TIMEOUT") else None
    return {"wait": wait, "timeout": timeout}


def install(kubeconfig, namespace, chart_dir, release, values="{}"):
    config = _config(kubeconfig, namespace)
    summary = config.install(
        chart_dir,
        release,
        json.loads(values),
        namespace=namespace,
        create_namespace=True,
        **_waiting(),
    )
    return {k: summary[k] for k in ("revision", "status")}


def upgrade(kubeconfig, namespace, chart_dir, release, values="{}"):
    config = _config(kubeconfig, namespace)
    summary = config.upgrade(
        chart_dir, release, json.loads(values), namespace=namespace, **_waiting()
    )
    return {k: summary[k] for k in ("revision", "status")}


def history(kubeconfig, namespace, release):
    return {"revisions": list(_config(kubeconfig, namespace).history(release))}


def status(kubeconfig, namespace, release):
    return dict(_config(kubeconfig, namespace).status(release))


def rollback(kubeconfig, namespace, release, revision=None):
    version = int(revision) if revision else None
    _config(kubeconfig, namespace).rollback(release, version=version)
    return {}


def uninstall(kubeconfig, namespace, release):
    _config(kubeconfig, namespace).uninstall(release)
    return {}


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    commands = {
        "render": render,
        "functions": functions,
        "probe": probe,
        "strvals": strvals,
        "package": package,
        "push": push,
        "pull": pull,
        "index": index,
        "dependency-update": dependency_update,
        "dependency-list": dependency_list,
        "install": install,
        "upgrade": upgrade,
        "history": history,
        "status": status,
        "rollback": rollback,
        "uninstall": uninstall,
    }
    result = commands[command](*args)
    json.dump(result, sys.stdout)
