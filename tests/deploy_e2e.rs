//! deploy/ against the real binary: every Kubernetes manifest parses into objects that
//! name themselves and agree with each other (the worker asks for a GPU and is given more
//! time than its drain, the coordinator's state dir is its volume, workers reach the
//! Service, every Secret is created in the README); the Slurm script parses under bash
//! and is signalled before its drain would end; and every `gptsweep <verb> --flag` they use
//! is in `gptsweep <verb> --help`; every manifest validates, strictly (no unknown field),
//! against Kubernetes' own OpenAPI schema (`kubernetes-validate`, Python). Nothing here
//! needs a cluster.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The worker's `--drain-timeout` when a manifest does not give it (src/cli/worker.rs).
const DEFAULT_DRAIN_TIMEOUT_SECS: f64 = 60.0;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// One YAML document of a manifest file.
struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }

    /// Where this is: `file: Kind/name`.
    fn place(&self) -> String {
        format!("{}: {}/{}", self.file, self.kind(), self.name())
    }

    /// The pod template's spec of a workload.
    fn pod_spec(&self) -> Option<&Value> {
        let spec = &self.value["spec"];
        match self.kind() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
                Some(&spec["template"]["spec"])
            }
            "CronJob" => Some(&spec["jobTemplate"]["spec"]["template"]["spec"]),
            "Pod" => Some(spec),
            _ => None,
        }
    }

    /// Its containers (init containers too).
    fn containers(&self) -> Vec<&Value> {
        let Some(pod) = self.pod_spec() else {
            return Vec::new();
        };
        ["initContainers", "containers"]
            .iter()
            .filter_map(|k| pod[*k].as_array())
            .flatten()
            .collect()
    }
}

/// Every document of every deploy/kubernetes/*.yaml, by file name.
fn manifests() -> Vec<Doc> {
    let dir = deploy_dir().join("kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    let mut docs = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let values: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
        assert!(!values.is_empty(), "{file}: no document");
        docs.extend(values.into_iter().map(|value| Doc {
            file: file.clone(),
            value,
        }));
    }
    docs
}

/// One `gptsweep <verb> ...` found in deploy/.
#[derive(Debug)]
struct Invocation {
    /// Where it was found.
    place: String,
    /// The word before the binary (`exec` in a script that hands its process over).
    before: Option<String>,
    verb: String,
    /// What follows the verb, as words.
    args: Vec<String>,
}

impl Invocation {
    /// The `--flags` it gives (without `=value`).
    fn flags(&self) -> Vec<&str> {
        self.args
            .iter()
            .filter(|a| a.starts_with("--"))
            .map(|a| a.split('=').next().unwrap())
            .collect()
    }

    /// The value of `flag` (`--flag=value` or `--flag value`), quotes removed.
    fn value(&self, flag: &str) -> Option<String> {
        let unquote = |s: &str| s.trim_matches(|c| c == '"' || c == '\'').to_string();
        self.args.iter().enumerate().find_map(|(i, a)| {
            if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
                Some(unquote(v))
            } else if a == flag {
                self.args.get(i + 1).map(|v| unquote(v))
            } else {
                None
            }
        })
    }

    /// The worker's drain timeout, seconds.
    fn drain_timeout(&self) -> f64 {
        self.value("--drain-timeout")
            .map_or(DEFAULT_DRAIN_TIMEOUT_SECS, |v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{}: --drain-timeout {v}", self.place))
            })
    }
}

/// Whether `word` is the gptsweep binary: `gptsweep`, a path to it, or the Slurm script's
/// `$GPTSWEEP_BIN`.
fn is_binary(word: &str) -> bool {
    let w = word.trim_matches(|c| c == '"' || c == '\'');
    w == "gptsweep" || w.ends_with("/gptsweep") || w == "$GPTSWEEP_BIN" || w == "${GPTSWEEP_BIN}"
}

/// The invocations in a command line split into `words`: the binary, then a verb (a bare
/// lowercase word), then everything up to the end or a shell operator.
fn invocations(words: &[String], place: &str) -> Vec<Invocation> {
    let mut found = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let Some(verb) = words.get(i + 1) else { break };
        if !is_binary(w) || !verb.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            continue;
        }
        if verb.starts_with('-') || verb.is_empty() {
            continue;
        }
        let args = words[i + 2..]
            .iter()
            .take_while(|a| !matches!(a.as_str(), ";" | "&&" | "||" | "|" | "&"))
            .cloned()
            .collect();
        found.push(Invocation {
            place: place.to_string(),
            before: i.checked_sub(1).map(|b| words[b].clone()),
            verb: verb.clone(),
            args,
        });
    }
    found
}

/// The invocations in the manifests' containers, with the document each is in.
fn manifest_invocations(docs: &[Doc]) -> Vec<(usize, Invocation)> {
    let mut found = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        for c in doc.containers() {
            let words: Vec<String> = ["command", "args"]
                .iter()
                .filter_map(|k| c[*k].as_array())
                .flatten()
                .map(|v| {
                    v.as_str()
                        .expect("command and args are strings")
                        .to_string()
                })
                .collect();
            let place = format!("{} container {}", doc.place(), c["name"]);
            found.extend(invocations(&words, &place).into_iter().map(|v| (i, v)));
        }
    }
    found
}

/// Shell words of `line`: split at blanks outside quotes and `$(...)`.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word) = (Vec::new(), String::new());
    let (mut quote, mut depth) = (None::<char>, 0usize);
    let mut prev = ' ';
    for c in line.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '(') if prev == '$' => depth += 1,
            (None, ')') if depth > 0 => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && quote.is_none() && depth == 0 {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        } else {
            word.push(c);
        }
        prev = c;
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The Slurm scripts, by file name.
fn sbatch_scripts() -> Vec<(String, String)> {
    let dir = deploy_dir().join("slurm");
    let mut scripts: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sbatch"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty(), "no .sbatch in {}", dir.display());
    scripts
}

/// The invocations in a shell script: its commands (comments dropped, `\` continuations
/// joined), each split into words.
fn script_invocations(file: &str, text: &str) -> Vec<Invocation> {
    let mut found = Vec::new();
    let mut command = String::new();
    for (n, line) in text.lines().enumerate() {
        if command.is_empty() && line.trim_start().starts_with('#') {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => command.push_str(part),
            None => {
                command.push_str(line);
                let place = format!("{file}:{}", n + 1);
                found.extend(invocations(&shell_words(&command), &place));
                command.clear();
            }
        }
    }
    found
}

/// `#SBATCH --signal=[B:]TERM@SECS`: the seconds, and whether `B:` (the batch shell) is set.
fn sbatch_term_signal(text: &str) -> Option<(f64, bool)> {
    text.lines().find_map(|l| {
        let spec = l
            .strip_prefix("#SBATCH")?
            .trim()
            .strip_prefix("--signal=")?;
        let (targets, rest) = spec.split_once(':').unwrap_or(("", spec));
        let (signal, secs) = rest.split_once('@')?;
        if !matches!(signal, "TERM" | "SIGTERM" | "15") {
            return None;
        }
        Some((secs.trim().parse().ok()?, targets.contains('B')))
    })
}

/// The Service ports (name and number) by Service name.
fn services(docs: &[Doc]) -> BTreeMap<String, Vec<(String, u64)>> {
    docs.iter()
        .filter(|d| d.kind() == "Service")
        .map(|d| {
            let ports = d.value["spec"]["ports"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: no ports", d.place()))
                .iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or("").to_string(),
                        p["port"].as_u64().expect("a port number"),
                    )
                })
                .collect();
            (d.name().to_string(), ports)
        })
        .collect()
}

#[test]
fn every_manifest_validates_strictly_against_the_kubernetes_schema() {
    let Some(python) = common::python::python() else {
        return;
    };
    let dir = deploy_dir().join("kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        // kustomization.yaml is kustomize's, not an API object.
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let out = Command::new(python)
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--kubernetes-version",
            "1.30.0",
        ])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubernetes-validate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_manifest_parses_into_named_kubernetes_objects() {
    let docs = manifests();
    for d in &docs {
        assert!(
            d.value["apiVersion"]
                .as_str()
                .is_some_and(|v| !v.is_empty()),
            "{}: no apiVersion",
            d.file
        );
        assert!(!d.kind().is_empty(), "{}: no kind", d.file);
        // Namespace-agnostic: `kubectl apply -n` picks it.
        assert!(
            d.value["metadata"]["namespace"].is_null(),
            "{}: names a namespace",
            d.place()
        );
        if d.kind() == "Kustomization" {
            for r in d.value["resources"].as_array().expect("resources") {
                let r = r.as_str().unwrap();
                assert!(
                    deploy_dir().join("kubernetes").join(r).is_file(),
                    "{}: resource {r} is not a file here",
                    d.file
                );
            }
        } else {
            assert!(!d.name().is_empty(), "{}: no metadata.name", d.place());
        }
    }
    let kinds: Vec<&str> = docs.iter().map(Doc::kind).collect();
    for kind in ["Service", "StatefulSet", "Deployment", "Kustomization"] {
        assert!(kinds.contains(&kind), "no {kind} among {kinds:?}");
    }
}

#[test]
fn gpu_workers_ask_for_a_gpu_outlast_their_drain_and_reach_the_coordinator() {
    let docs = manifests();
    let services = services(&docs);
    let workers: Vec<_> = manifest_invocations(&docs)
        .into_iter()
        .filter(|(_, v)| v.verb == "worker")
        .collect();
    assert!(!workers.is_empty(), "no `gptsweep worker` in the manifests");
    for (i, w) in &workers {
        let doc = &docs[*i];
        let pod = doc.pod_spec().unwrap();
        let gpus = &doc.containers()[0]["resources"]["limits"]["nvidia.com/gpu"];
        let gpus = gpus
            .as_u64()
            .or_else(|| gpus.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0);
        assert!(gpus >= 1, "{}: no nvidia.com/gpu limit", w.place);
        let grace = pod["terminationGracePeriodSeconds"]
            .as_f64()
            .unwrap_or(30.0);
        assert!(
            grace > w.drain_timeout(),
            "{}: terminationGracePeriodSeconds {grace} must exceed --drain-timeout {}",
            w.place,
            w.drain_timeout()
        );
        // A worker that leaves when idle exits 0, which a Deployment restarts in a loop.
        if doc.kind() == "Deployment" {
            assert!(
                w.value("--idle-exit").is_none(),
                "{}: --idle-exit in a Deployment",
                w.place
            );
        }
        let url = w
            .value("--coordinator")
            .unwrap_or_else(|| panic!("{}: no --coordinator", w.place));
        let host_port = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .unwrap_or_else(|| panic!("{}: --coordinator {url}", w.place));
        let (host, port) = host_port.split_once(':').unwrap();
        let ports = services.get(host).unwrap_or_else(|| {
            panic!(
                "{}: --coordinator {url}: no Service {host} in the manifests",
                w.place
            )
        });
        assert!(
            ports.iter().any(|(_, p)| p.to_string() == port),
            "{}: --coordinator {url}: Service {host} has ports {ports:?}",
            w.place
        );
    }
}

#[test]
fn the_coordinator_keeps_its_state_dir_on_its_volume_and_listens_where_its_service_points() {
    let docs = manifests();
    let coordinators: Vec<_> = manifest_invocations(&docs)
        .into_iter()
        .filter(|(_, v)| v.verb == "coordinator")
        .collect();
    assert!(
        !coordinators.is_empty(),
        "no `gptsweep coordinator` in the manifests"
    );
    for (i, c) in &coordinators {
        let doc = &docs[*i];
        assert_eq!(doc.kind(), "StatefulSet", "{}", c.place);
        assert_eq!(doc.value["spec"]["replicas"], 1, "{}", c.place);
        let state_dir = c
            .value("--state-dir")
            .unwrap_or_else(|| panic!("{}: no --state-dir", c.place));
        let claims: Vec<&str> = doc.value["spec"]["volumeClaimTemplates"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["metadata"]["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let container = doc
            .containers()
            .into_iter()
            .find(|k| {
                k["args"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some("coordinator")))
            })
            .unwrap();
        let mounted = container["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| {
                m["mountPath"].as_str() == Some(state_dir.as_str())
                    && m["subPath"].is_null()
                    && m["name"].as_str().is_some_and(|n| claims.contains(&n))
            });
        assert!(
            mounted,
            "{}: no volume claim {claims:?} is mounted at --state-dir {state_dir}",
            c.place
        );
        // The port it listens on is the one its Service sends to.
        let listen = c.value("--listen").expect("--listen");
        let port: u64 = listen.rsplit(':').next().unwrap().parse().unwrap();
        let named: Vec<String> = container["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["containerPort"].as_u64() == Some(port))
            .filter_map(|p| p["name"].as_str().map(String::from))
            .collect();
        let labels = &doc.value["spec"]["template"]["metadata"]["labels"];
        let service = docs
            .iter()
            .find(|s| {
                s.file == doc.file
                    && s.kind() == "Service"
                    && s.value["spec"]["selector"]
                        .as_object()
                        .is_some_and(|sel| sel.iter().all(|(k, v)| &labels[k] == v))
            })
            .unwrap_or_else(|| panic!("{}: no Service in its file selects it", c.place));
        let targets_it = service.value["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| {
                let t = &p["targetPort"];
                t.as_u64() == Some(port) || t.as_str().is_some_and(|n| named.iter().any(|m| m == n))
            });
        assert!(
            targets_it,
            "{}: Service {} does not send to port {port}",
            c.place,
            service.name()
        );
    }
}

#[test]
fn every_secret_the_manifests_use_is_made_in_the_readme() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    fn secrets(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(s)) = m.get("secretName") {
                    out.push(s.clone());
                }
                if let Some(Value::String(s)) = m.get("secretKeyRef").map(|r| &r["name"]) {
                    out.push(s.clone());
                }
                m.values().for_each(|x| secrets(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| secrets(x, out)),
            _ => {}
        }
    }
    let mut used = Vec::new();
    for d in manifests() {
        secrets(&d.value, &mut used);
    }
    used.sort();
    used.dedup();
    assert!(!used.is_empty(), "the manifests use no Secret");
    for s in used {
        assert!(
            readme.contains(&format!("create secret generic {s} "))
                || readme.contains(&format!("create secret tls {s} ")),
            "README.md never makes the Secret {s} (kubectl create secret generic {s} ...)"
        );
    }
}

#[test]
fn the_slurm_script_parses_and_is_signalled_before_its_drain_would_end() {
    for (file, text) in sbatch_scripts() {
        let path = deploy_dir().join("slurm").join(&file);
        let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "bash -n {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("set -euo pipefail"),
            "{file}: no set -euo pipefail"
        );
        let workers: Vec<_> = script_invocations(&file, &text)
            .into_iter()
            .filter(|v| v.verb == "worker")
            .collect();
        assert_eq!(workers.len(), 1, "{file}: one `gptsweep worker`");
        let w = &workers[0];
        let (lead, batch) = sbatch_term_signal(&text)
            .unwrap_or_else(|| panic!("{file}: no #SBATCH --signal=B:TERM@SECS"));
        assert!(
            batch,
            "{file}: --signal without B: never reaches the batch shell"
        );
        assert!(
            lead > w.drain_timeout(),
            "{file}: SIGTERM {lead} s before the end must exceed --drain-timeout {}",
            w.drain_timeout()
        );
        assert!(
            w.value("--idle-exit").is_some(),
            "{}: array tasks must end when idle",
            w.place
        );
        // The worker is the batch shell's process, so B:TERM reaches it.
        assert_eq!(
            w.before.as_deref(),
            Some("exec"),
            "{}: the worker must be exec'd",
            w.place
        );
        if Command::new("shellcheck").arg("--version").output().is_ok() {
            let out = Command::new("shellcheck").arg(&path).output().unwrap();
            assert!(
                out.status.success(),
                "shellcheck {file}:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

#[test]
fn every_gptsweep_flag_deploy_uses_is_in_its_help() {
    let docs = manifests();
    let mut all: Vec<Invocation> = manifest_invocations(&docs)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    for (file, text) in sbatch_scripts() {
        all.extend(script_invocations(&file, &text));
    }
    let verbs: Vec<&str> = all.iter().map(|v| v.verb.as_str()).collect();
    assert!(
        verbs.contains(&"worker") && verbs.contains(&"coordinator"),
        "found only {verbs:?}"
    );
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    for inv in &all {
        let help = helps.entry(inv.verb.clone()).or_insert_with(|| {
            let out = Command::new(common::bin())
                .args([inv.verb.as_str(), "--help"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: `gptsweep {} --help` fails: {}",
                inv.place,
                inv.verb,
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        });
        let flags = inv.flags();
        assert!(!flags.is_empty(), "{}: no flags read", inv.place);
        for flag in flags {
            let listed = help.match_indices(flag).any(|(at, _)| {
                !help[at + flag.len()..]
                    .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
            });
            assert!(
                listed,
                "{}: `gptsweep {} {flag}`: no such flag in `gptsweep {} --help`",
                inv.place, inv.verb, inv.verb
            );
        }
    }
}

#[test]
fn shell_words_and_invocations_are_read_like_a_shell() {
    let words =
        shell_words(r#"exec "$GPTSWEEP_BIN" worker --name "a $(hostname -s)" --poll 5 && echo"#);
    assert_eq!(
        words,
        [
            "exec",
            "\"$GPTSWEEP_BIN\"",
            "worker",
            "--name",
            "\"a $(hostname -s)\"",
            "--poll",
            "5",
            "&&",
            "echo"
        ]
    );
    let found = invocations(&words, "here");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].verb, "worker");
    assert_eq!(found[0].flags(), ["--name", "--poll"]);
    assert_eq!(found[0].value("--poll").as_deref(), Some("5"));
    // Mentions of the binary that run nothing are no invocation.
    assert!(
        invocations(
            &shell_words(r#"command -v "$GPTSWEEP_BIN" >/dev/null"#),
            "x"
        )
        .is_empty()
    );
    assert_eq!(
        sbatch_term_signal("#SBATCH --signal=B:TERM@120\n"),
        Some((120.0, true))
    );
    assert_eq!(
        sbatch_term_signal("#SBATCH --signal=TERM@60"),
        Some((60.0, false))
    );
    assert_eq!(sbatch_term_signal("#SBATCH --signal=B:USR1@60"), None);
}

#[test]
fn every_gptsweep_environment_variable_deploy_sets_is_read_by_the_binary() {
    let mut help = String::new();
    for verb in ["coordinator", "worker"] {
        let out = Command::new(common::bin())
            .args([verb, "--help"])
            .output()
            .unwrap();
        help.push_str(&String::from_utf8(out.stdout).unwrap());
    }
    let mut seen = 0;
    for entry in std::fs::read_dir(deploy_dir().join("kubernetes")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let Some(name) = line.trim().strip_prefix("- name: GPTSWEEP_") else {
                continue;
            };
            let var = format!("GPTSWEEP_{}", name.trim());
            seen += 1;
            assert!(
                help.contains(&format!("[env: {var}=")),
                "{}: sets {var}, which no flag of `gptsweep coordinator|worker --help` reads",
                path.display()
            );
        }
    }
    assert!(seen > 0, "deploy/kubernetes sets no GPTSWEEP_ variable");
}
