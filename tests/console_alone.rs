//! `livechat-mcp console --listen ADDR` on its own, beside a `serve --http` that shares its
//! policy file and audit store: a grant saved in the console reaches the server's open MCP
//! session through the file, and both processes' rows land in the one trail.

mod http_support;

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use http_support::{McpClient, ServerProcess, TempDir, audit_rows, policy};
use livechat_mcp::policy::key_sha256;

const ADMIN_KEY: &str = "lcmcp_console-alone-admin-key";

/// The console process, with the address it printed.
struct ConsoleProcess {
    child: Child,
    base: String,
}

impl Drop for ConsoleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn console(policy: &str, audit: &str) -> ConsoleProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .args(["--policy", policy, "--audit", audit])
        .args(["console", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the console");
    let (found, address) = mpsc::channel();
    let lines = BufReader::new(child.stderr.take().expect("stderr"));
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            if let Some(rest) = line.split("the console at http://").nth(1)
                && let Some(addr) = rest.split("/console").next()
            {
                let _ = found.send(addr.to_string());
            }
        }
    });
    let addr = address
        .recv_timeout(Duration::from_secs(30))
        .expect("the console printed its address");
    ConsoleProcess {
        child,
        base: format!("http://{addr}"),
    }
}

fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

#[tokio::test]
async fn a_grant_saved_in_the_console_alone_reaches_a_running_server() {
    let dir = TempDir::new("console-alone");
    let (agents, keys) = policy(&[("ops", r#"{ chats = "read" }"#)]);
    let text = format!(
        "# shared by the server and the console\n{agents}[admin]\nkey_sha256 = \"{}\"\n",
        key_sha256(ADMIN_KEY)
    );
    let path = dir.join("team.toml");
    std::fs::write(&path, &text).expect("policy");
    let audit = dir.join("audit.db");
    let (path_s, audit_s) = (
        path.to_str().expect("utf-8"),
        audit.to_str().expect("utf-8"),
    );
    let mut server =
        ServerProcess::spawn(&["--sandbox", "--policy", path_s, "--audit", audit_s], &[]);
    let ops = McpClient::connect(&server.base, &keys[0]).await;
    assert!(!ops.tools().await.contains(&"get_customer".to_string()));

    let console = console(path_s, audit_s);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed = http
        .post(format!("{}/console/sign-in", console.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("key", ADMIN_KEY)]))
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed.status(), 303);
    let cookie = signed
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();
    let grid = http
        .get(format!("{}/console", console.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("grid")
        .text()
        .await
        .expect("html");
    let csrf = grid
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token")
        .to_string();
    let saved = http
        .post(format!("{}/console/access", console.base))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf", csrf.as_str()),
            ("level.ops.customers", "read"),
            ("was.ops.customers", "off"),
        ]))
        .send()
        .await
        .expect("save");
    assert_eq!(saved.status(), 303, "{:?}", saved.text().await);
    let file = std::fs::read_to_string(&path).expect("saved file");
    assert!(
        file.starts_with("# shared by the server and the console"),
        "{file}"
    );

    // The server sees the file change and applies it to the session it already has.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ops.tools().await.contains(&"get_customer".to_string()) {
        assert!(
            Instant::now() < deadline,
            "the server never applied the grant"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The console's row and the server's row, in one trail.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let sentences: Vec<String> = audit_rows(&audit)
            .await
            .into_iter()
            .map(|e| e.summary)
            .collect();
        let console_row = sentences
            .iter()
            .any(|s| s == "admin set customers to read for ops");
        let file_row = sentences
            .iter()
            .any(|s| s == "file:team.toml set customers to read for ops");
        if console_row && file_row {
            break;
        }
        assert!(Instant::now() < deadline, "rows: {sentences:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server.terminate().success());
}
