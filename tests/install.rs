//! One step to install (issue 16): the Claude Desktop bundle, the MCP registry's `server.json`,
//! the container image, `mcp.json` and the README's set-up — each checked against what the
//! binary really does, with no network and no docker daemon.
//!
//! The schemas are vendored in tests/fixtures/schemas (sources in its README.md).

mod common;

use std::{
    collections::BTreeMap,
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use clap::CommandFactory as _;
use common::TempDir;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json_file(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("LIVECHAT_MCP_AUDIT", "off");
    cmd
}

/// The errors of `instance` against the vendored schema `schema`, one line each.
fn schema_errors(schema: &str, instance: &Value) -> Vec<String> {
    let schema = json_file(&format!("tests/fixtures/schemas/{schema}"));
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

const MCPB_SCHEMA: &str = "mcpb-manifest-v0.3.schema.json";
const SERVER_SCHEMA: &str = "server-2025-12-11.schema.json";

/// Cargo.toml's `version` and `rust-version`.
fn cargo_field(name: &str) -> String {
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml");
    manifest["package"][name]
        .as_str()
        .unwrap_or_else(|| panic!("package.{name}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// The manifest and server.json against their schemas

#[test]
fn the_mcpb_manifest_is_valid_and_asks_for_the_four_settings() {
    let manifest = json_file("mcpb/manifest.json");
    let errors = schema_errors(MCPB_SCHEMA, &manifest);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(manifest["manifest_version"], "0.3");
    assert_eq!(manifest["version"], cargo_field("version"));
    assert_eq!(manifest["server"]["type"], "binary");
    let config = &manifest["user_config"];
    for secret in ["pat", "account_id"] {
        assert_eq!(config[secret]["sensitive"], true, "{secret}");
        assert_eq!(config[secret]["required"], true, "{secret}");
    }
    assert_eq!(config["api_version"]["default"], "3.6");
    assert_eq!(config["access"]["default"], "read");
    for (key, values) in [
        ("api_version", &["3.5", "3.6"][..]),
        ("access", &["read", "full"][..]),
    ] {
        let said = config[key]["description"].as_str().expect("description");
        for value in values {
            assert!(said.contains(value), "{key} does not name {value}: {said}");
        }
    }
    // Every user setting reaches the server, and only through its environment.
    let env = manifest["server"]["mcp_config"]["env"]
        .as_object()
        .expect("env");
    for key in config.as_object().expect("user_config").keys() {
        let placeholder = format!("${{user_config.{key}}}");
        assert!(
            env.values().any(|v| v == &json!(placeholder)),
            "{key} is asked for but never passed"
        );
    }
    assert_eq!(manifest["server"]["mcp_config"]["args"], json!(["serve"]));
}

#[test]
fn the_schema_check_is_not_vacuous() {
    let mut manifest = json_file("mcpb/manifest.json");
    manifest["user_config"]["pat"]["sensitive"] = json!("yes");
    assert!(!schema_errors(MCPB_SCHEMA, &manifest).is_empty());
    let mut server = json_file("server.json");
    server["name"] = json!("no slash");
    assert!(!schema_errors(SERVER_SCHEMA, &server).is_empty());
}

#[test]
fn server_json_is_valid_and_names_the_package_and_its_secrets() {
    let server = json_file("server.json");
    let errors = schema_errors(SERVER_SCHEMA, &server);
    assert!(errors.is_empty(), "{errors:#?}");
    let schema = json_file(&format!("tests/fixtures/schemas/{SERVER_SCHEMA}"));
    assert_eq!(server["$schema"], schema["$id"]);
    assert_eq!(server["version"], cargo_field("version"));
    let package = &server["packages"][0];
    assert_eq!(package["registryType"], "oci");
    assert!(
        package["identifier"]
            .as_str()
            .expect("identifier")
            .ends_with(&format!(":{}", cargo_field("version"))),
        "the image tag is the crate's version: {package}"
    );
    let vars: BTreeMap<&str, &Value> = package["environmentVariables"]
        .as_array()
        .expect("environmentVariables")
        .iter()
        .map(|v| (v["name"].as_str().expect("name"), v))
        .collect();
    for secret in ["LIVECHAT_PAT", "LIVECHAT_ACCOUNT_ID"] {
        assert_eq!(vars[secret]["isSecret"], true, "{secret}");
        assert_eq!(vars[secret]["isRequired"], true, "{secret}");
    }
    assert_eq!(
        vars["LIVECHAT_API_VERSION"]["choices"],
        json!(["3.5", "3.6"])
    );
    assert_eq!(
        vars["LIVECHAT_MCP_ACCESS"]["choices"],
        json!(["read", "full"])
    );
    assert_eq!(vars["LIVECHAT_MCP_ACCESS"]["default"], "read");
    // Every choice and default is a value the binary takes, and a wrong one is refused.
    for (name, var) in &vars {
        let mut values: Vec<&str> = var["choices"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        values.extend(var["default"].as_str());
        for value in values {
            let output = binary()
                .env(name, value)
                .args(["--sandbox", "tools"])
                .output()
                .expect("run");
            assert!(
                output.status.success(),
                "{name}={value}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        if var["choices"].is_array() {
            let output = binary()
                .env(name, "nonsense")
                .args(["--sandbox", "tools"])
                .output()
                .expect("run");
            assert_eq!(output.status.code(), Some(2), "{name}=nonsense is taken");
        }
    }
    // The registry checks an OCI image's label against the server's name.
    let label = format!(
        "LABEL io.modelcontextprotocol.server.name=\"{}\"",
        server["name"].as_str().expect("name")
    );
    assert!(
        read("Dockerfile").contains(&label),
        "the Dockerfile needs {label}"
    );
}

// ---------------------------------------------------------------------------------------------
// The environment variables they name are ones the binary reads

/// Every environment variable the command line reads: clap's `env` names, and the
/// credentials, which `config::Credentials::from_env` reads itself.
fn variables_the_binary_reads() -> Vec<String> {
    fn walk(cmd: &clap::Command, into: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            if let Some(name) = arg.get_env() {
                into.push(name.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, into);
        }
    }
    let mut names = Vec::new();
    walk(&livechat_mcp::cli::Cli::command(), &mut names);
    for credential in [
        "LIVECHAT_ACCESS_TOKEN",
        "LIVECHAT_PAT",
        "LIVECHAT_ACCOUNT_ID",
    ] {
        assert!(
            livechat_mcp::config::MISSING_CREDENTIALS.contains(credential),
            "{credential}"
        );
        names.push(credential.to_string());
    }
    names
}

/// The environment a client would give the server: `env` with `${…}` replaced from `values`.
fn expand(
    env: &serde_json::Map<String, Value>,
    values: &BTreeMap<&str, &str>,
) -> Vec<(String, String)> {
    env.iter()
        .map(|(name, value)| {
            let mut text = value.as_str().expect("string").to_string();
            for (key, with) in values {
                text = text.replace(&format!("${{{key}}}"), with);
            }
            assert!(!text.contains("${"), "{name}: {text} was not expanded");
            (name.clone(), text)
        })
        .collect()
}

/// Runs `call TOOL {}` with `env` against a stand-in LiveChat; returns the exit code and the
/// requests it got, each as (path, Authorization).
async fn call_with(env: &[(String, String)], tool: &str) -> (Option<i32>, Vec<(String, String)>) {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&mock)
        .await;
    let mut cmd = binary();
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("LIVECHAT_API_URL", mock.uri())
        // Nothing listens there: the scope lookup fails at once and hides nothing.
        .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
        .env("LIVECHAT_MCP_RETRY_BUDGET_SECS", "0")
        .args(["call", tool, "{}"]);
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join");
    let requests = mock
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let auth = r
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            (r.url.path().to_string(), auth)
        })
        .collect();
    (output.status.code(), requests)
}

fn basic(account: &str, pat: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{account}:{pat}"))
    )
}

#[tokio::test]
async fn the_manifest_settings_reach_the_server_as_its_own_variables() {
    let manifest = json_file("mcpb/manifest.json");
    let env = manifest["server"]["mcp_config"]["env"]
        .as_object()
        .expect("env")
        .clone();
    let known = variables_the_binary_reads();
    for name in env.keys() {
        assert!(known.contains(name), "the binary never reads {name}");
    }
    let defaults = |key: &str| {
        manifest["user_config"][key]["default"]
            .as_str()
            .expect("default")
            .to_string()
    };
    let (version, access) = (defaults("api_version"), defaults("access"));
    let values = BTreeMap::from([
        ("user_config.pat", "pat-from-desktop"),
        ("user_config.account_id", "account-7"),
        ("user_config.api_version", version.as_str()),
        ("user_config.access", access.as_str()),
    ]);
    let (code, requests) = call_with(&expand(&env, &values), "list_agents").await;
    assert_eq!(code, Some(0), "{requests:?}");
    assert_eq!(
        requests,
        vec![(
            "/v3.6/configuration/action/list_agents".to_string(),
            basic("account-7", "pat-from-desktop")
        )]
    );
    // `read`, the default, refuses a write before anything is sent; 3.5 is heard.
    let (code, requests) = call_with(&expand(&env, &values), "create_group").await;
    assert_eq!(code, Some(1));
    assert!(requests.is_empty(), "{requests:?}");
    let mut older = values.clone();
    older.insert("user_config.api_version", "3.5");
    let (_, requests) = call_with(&expand(&env, &older), "list_agents").await;
    assert_eq!(requests[0].0, "/v3.5/configuration/action/list_agents");
}

#[tokio::test]
async fn mcp_json_and_server_json_name_variables_the_binary_reads() {
    let known = variables_the_binary_reads();
    let server = json_file("server.json");
    for var in server["packages"][0]["environmentVariables"]
        .as_array()
        .expect("environmentVariables")
    {
        let name = var["name"].as_str().expect("name");
        assert!(
            known.iter().any(|k| k == name),
            "the binary never reads {name}"
        );
    }
    let config = json_file("mcp.json");
    for (entry, server) in config["mcpServers"].as_object().expect("mcpServers") {
        for name in server["env"].as_object().expect("env").keys() {
            assert!(
                known.contains(name),
                "{entry}: the binary never reads {name}"
            );
        }
    }
    // The main entry is the PAT one, with `read`; run it as a client that expands `${VAR}`.
    let main = config["mcpServers"]["livechat"]["env"]
        .as_object()
        .expect("env")
        .clone();
    assert_eq!(main["LIVECHAT_MCP_ACCESS"], "read");
    assert!(!main.contains_key("LIVECHAT_ACCESS_TOKEN"));
    let values = BTreeMap::from([("LIVECHAT_PAT", "pat-9"), ("LIVECHAT_ACCOUNT_ID", "acc-9")]);
    let (code, requests) = call_with(&expand(&main, &values), "list_agents").await;
    assert_eq!(code, Some(0));
    assert_eq!(requests[0].1, basic("acc-9", "pat-9"));
}

// ---------------------------------------------------------------------------------------------
// The bundle, built and read back by another zip reader

fn python() -> String {
    std::env::var("LIVECHAT_MCP_E2E_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Reads the archive with Python's zipfile: checks every CRC, lists the entries with their
/// modes, extracts them under `into`.
fn read_back(archive: &Path, into: &Path) -> Value {
    const SCRIPT: &str = r#"
import hashlib, json, os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
entries = []
for info in z.infolist():
    data = z.read(info)
    path = os.path.join(sys.argv[2], info.filename)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    mode = (info.external_attr >> 16) & 0o777
    os.chmod(path, mode)
    entries.append({"name": info.filename, "mode": mode, "size": info.file_size,
                    "stored": info.compress_type == zipfile.ZIP_STORED,
                    "sha256": hashlib.sha256(data).hexdigest()})
print(json.dumps({"bad": bad, "entries": entries}))
"#;
    let output = Command::new(python())
        .args(["-c", SCRIPT])
        .arg(archive)
        .arg(into)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn bundle_builds_an_mcpb_that_a_zip_reader_opens_and_whose_server_runs() {
    let dir = TempDir::new("bundle");
    let out = dir.join("livechat-mcp.mcpb");
    let built = binary()
        .args(["bundle", "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(built.stdout.is_empty(), "nothing on stdout");

    let unpacked = dir.join("unpacked");
    let listing = read_back(&out, &unpacked);
    assert_eq!(listing["bad"], Value::Null, "a CRC is wrong: {listing}");
    let entries = listing["entries"].as_array().expect("entries");
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["manifest.json", "server/livechat-mcp"]);
    let program = std::fs::read(env!("CARGO_BIN_EXE_livechat-mcp")).expect("the binary");
    assert_eq!(entries[1]["sha256"], sha256_hex(&program));
    assert_eq!(entries[1]["mode"], 0o755);
    assert!(entries.iter().all(|e| e["stored"] == true));

    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(unpacked.join("manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    let errors = schema_errors(MCPB_SCHEMA, &manifest);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(manifest["compatibility"]["platforms"], json!(["linux"]));
    assert_eq!(
        manifest["user_config"],
        json_file("mcpb/manifest.json")["user_config"]
    );

    // The host runs `mcp_config.command` with `${__dirname}` set to where it unpacked.
    let command = manifest["server"]["mcp_config"]["command"]
        .as_str()
        .expect("command")
        .replace("${__dirname}", unpacked.to_str().expect("path"));
    assert!(
        unpacked
            .join(manifest["server"]["entry_point"].as_str().expect("entry"))
            .is_file()
    );
    let version = Command::new(&command)
        .arg("--version")
        .output()
        .expect("runs");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("livechat-mcp {}", cargo_field("version"))
    );
}

#[test]
fn bundle_says_what_is_wrong_with_a_missing_binary() {
    let dir = TempDir::new("bundle-missing");
    let out = dir.join("x.mcpb");
    let built = binary()
        .args(["bundle", "--binary", "/no/such/binary", "--out"])
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(built.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&built.stderr).contains("/no/such/binary"));
    assert!(!out.exists());
}

// ---------------------------------------------------------------------------------------------
// The health check, against a real `serve --http` and a closed port

/// A running `serve --http` on the sandbox; killed on drop.
struct Running {
    child: std::process::Child,
    addr: String,
    _dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn policy_file(dir: &TempDir) -> PathBuf {
    let key = livechat_mcp::http::new_key();
    let path = dir.join("policy.toml");
    std::fs::write(
        &path,
        format!(
            "[agents.ops]\naccess = {{ \"*\" = \"read\" }}\nkey_sha256 = \"{}\"\n",
            livechat_mcp::policy::key_sha256(&key)
        ),
    )
    .expect("write");
    path
}

fn serve_http(envs: &[(&str, &str)], args: &[&str]) -> Running {
    let dir = TempDir::new("healthz");
    let policy = policy_file(&dir);
    let mut child = binary()
        .envs(envs.iter().copied())
        .args(["--sandbox", "--policy"])
        .arg(&policy)
        .args(["serve", "--http"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = String::new();
    let mut addr = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("stderr line");
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.split_once("serving MCP at http://").map(|(_, r)| r) {
            addr = rest.split_once("/mcp").map(|(a, _)| a.to_string());
            break;
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("the server did not start:\n{seen}"));
    Running {
        child,
        addr,
        _dir: dir,
    }
}

fn healthcheck(args: &[&str]) -> (Option<i32>, String, String) {
    let output = binary()
        .arg("healthcheck")
        .args(args)
        .output()
        .expect("run");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn healthcheck_passes_on_a_serving_server_and_fails_on_a_closed_port() {
    let server = serve_http(&[], &["127.0.0.1:0"]);
    let url = format!("http://{}/healthz", server.addr);
    let (code, stdout, stderr) = healthcheck(&[&url]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "ok\n");

    // The port from LIVECHAT_MCP_HTTP when no URL is given, as in the image.
    let port = server.addr.rsplit_once(':').expect("port").1;
    let output = binary()
        .env("LIVECHAT_MCP_HTTP", format!("0.0.0.0:{port}"))
        .arg("healthcheck")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    drop(server);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let (code, stdout, stderr) = healthcheck(&[&format!("http://127.0.0.1:{port}/healthz")]);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("unhealthy") && stderr.contains("cannot connect"),
        "{stderr}"
    );

    // A 404 is not healthy either.
    let server = serve_http(&[], &["127.0.0.1:0"]);
    let (code, _, stderr) = healthcheck(&[&format!("http://{}/no-such-page", server.addr)]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("answered 404"), "{stderr}");

    let (code, _, stderr) = healthcheck(&["https://127.0.0.1/healthz"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not an http:// URL"), "{stderr}");
}

#[test]
fn in_the_container_http_alone_binds_every_interface_and_still_needs_a_public_host() {
    let container = [("LIVECHAT_MCP_IN_CONTAINER", "1")];
    let dir = TempDir::new("container");
    let policy = policy_file(&dir);
    let output = binary()
        .envs(container)
        .args(["--sandbox", "--policy"])
        .arg(&policy)
        .args(["serve", "--http"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("listening on 0.0.0.0:8000 in the container")
            && stderr.contains("--allowed-host"),
        "{stderr}"
    );

    // With a public host it serves, on every interface, and loopback's health check passes.
    let server = serve_http(
        &container,
        &["0.0.0.0:0", "--allowed-host", "mcp.example.com"],
    );
    assert!(server.addr.starts_with("0.0.0.0:"), "{}", server.addr);
    let port = server.addr.rsplit_once(':').expect("port").1;
    let (code, _, stderr) = healthcheck(&[&format!("http://127.0.0.1:{port}/healthz")]);
    assert_eq!(code, Some(0), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile, read (there is no docker daemon here)

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let text = read("Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        current.push_str(trimmed.trim_end_matches('\\'));
        current.push(' ');
        if !trimmed.ends_with('\\') {
            let (op, rest) = current
                .trim()
                .split_once(' ')
                .unwrap_or((current.trim(), ""));
            out.push((op.to_uppercase(), rest.trim().to_string()));
            current.clear();
        }
    }
    out
}

#[test]
fn the_dockerfile_builds_static_on_pinned_bases_and_runs_unprivileged_with_a_health_check() {
    let steps = dockerfile();
    let froms: Vec<&str> = steps
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, rest)| rest.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(
        froms.len(),
        2,
        "a build stage and a runtime stage: {froms:?}"
    );
    for image in &froms {
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest" && !tag.contains('/'),
            "{image}: pin the base image"
        );
    }
    let rust = cargo_field("rust-version");
    assert!(
        froms[0].starts_with(&format!("docker.io/library/rust:{rust}"))
            && froms[0].contains("alpine"),
        "the build stage is rust:{rust} on Alpine (musl): {}",
        froms[0]
    );
    assert!(
        froms[1].starts_with("gcr.io/distroless/static") || froms[1] == "scratch",
        "a minimal runtime base: {}",
        froms[1]
    );

    // After the last FROM: a non-root user, the health check by the binary, no shell form.
    let last_from = steps
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .expect("FROM");
    let runtime = &steps[last_from..];
    let find = |op: &str| {
        runtime
            .iter()
            .find(|(o, _)| o == op)
            .map(|(_, rest)| rest.as_str())
            .unwrap_or_else(|| panic!("no {op} in the runtime stage"))
    };
    let user = find("USER");
    let uid = user.split(':').next().unwrap_or("");
    assert!(!matches!(uid, "" | "0" | "root"), "USER {user}");
    assert_eq!(
        find("HEALTHCHECK").split_once("CMD").map(|(_, c)| c.trim()),
        Some(r#"["/livechat-mcp", "healthcheck"]"#)
    );
    assert_eq!(find("ENTRYPOINT"), r#"["/livechat-mcp"]"#);
    assert_eq!(find("CMD"), r#"["serve", "--http"]"#);
    assert!(find("ENV").contains("LIVECHAT_MCP_IN_CONTAINER=1"));

    // Nothing fetched but the registries' own packages: no curl|sh, no wget, no ADD of a URL.
    for (op, rest) in &steps {
        let lower = rest.to_lowercase();
        assert!(
            !lower.contains("curl") && !lower.contains("wget") && !lower.contains("| sh"),
            "{op} {rest}"
        );
        assert!(!(op == "ADD" && lower.contains("://")), "{op} {rest}");
    }
    let build = steps
        .iter()
        .find(|(op, rest)| op == "RUN" && rest.contains("cargo build"))
        .expect("a cargo build");
    assert!(
        build.1.contains("--locked") && build.1.contains("--release"),
        "{}",
        build.1
    );

    let ignore = read(".dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "target"),
        "the build context skips target/"
    );
}

// ---------------------------------------------------------------------------------------------
// The README

const SCOPES_START: &str = "<!-- scopes table: `livechat-mcp tools --scopes` -->";
const SCOPES_END: &str = "<!-- end of scopes table -->";

#[test]
fn the_readme_scopes_table_is_the_commands_output() {
    let output = binary().args(["tools", "--scopes"]).output().expect("run");
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).expect("UTF-8");
    for area in livechat_mcp::tools::Area::ALL {
        assert!(table.contains(&format!("| {} |", area.as_str())));
    }
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let (Some(start), Some(end)) = (readme.find(SCOPES_START), readme.find(SCOPES_END)) else {
        panic!("README.md needs {SCOPES_START:?} and {SCOPES_END:?} around the scopes table");
    };
    let current = &readme[start + SCOPES_START.len()..end];
    let expected = format!("\n{table}");
    if current != expected && std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let updated = format!(
            "{}{expected}{}",
            &readme[..start + SCOPES_START.len()],
            &readme[end..]
        );
        std::fs::write(&path, updated).expect("write README.md");
        return;
    }
    assert_eq!(
        current, expected,
        "README.md's scopes table drifted from the tools. Refresh with `UPDATE_SNAPSHOTS=1 cargo test --test install`."
    );
}

#[test]
fn the_readme_install_section_matches_the_crate() {
    let readme = read("README.md");
    let rust = cargo_field("rust-version");
    for needle in [
        "cargo install --locked --path .".to_string(),
        format!("Rust {rust}"),
        "livechat-mcp bundle --out".to_string(),
        "serve --http 0.0.0.0:8000 --allowed-host".to_string(),
        "server.json".to_string(),
        "8 hours".to_string(),
        "Tools > Personal Access Tokens".to_string(),
    ] {
        assert!(
            readme.contains(&needle),
            "README.md does not say {needle:?}"
        );
    }
    // The Claude Desktop configs in the README are mcp.json's main entry with the values in.
    let main = &json_file("mcp.json")["mcpServers"]["livechat"];
    for os in ["macOS", "Windows", "Linux"] {
        assert!(readme.contains(&format!("**{os}**")), "{os}");
    }
    assert_eq!(main["env"]["LIVECHAT_MCP_ACCESS"], "read");
}
