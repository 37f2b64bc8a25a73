//! HTTPS to LiveChat with the system's root certificates, read at the first handshake (issue
//! 16): the built binary calls a local HTTPS server whose certificate a test CA signed, with
//! that CA as the system's roots (`SSL_CERT_FILE`, which the platform verifier reads on
//! Linux), and is refused by one whose certificate no trusted CA signed. The certificates
//! are made with the `openssl` command; the servers are Python's `http.server` over `ssl`.

mod common;

use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use common::TempDir;
use serde_json::Value;

/// Runs `openssl` in `dir` with `args`, split at spaces.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian's openssl package)");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a certificate for localhost it signed (`good`), and a self-signed one (`rogue`)
/// that no trusted CA issued.
fn certificates(dir: &Path) {
    const KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2";
    openssl(
        dir,
        &format!(
            "req -x509 {KEY} -keyout ca.key -out ca.pem -subj /CN=livechat-mcp-test-CA \
             -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
        ),
    );
    openssl(
        dir,
        &format!("req {KEY} -keyout good.key -out good.csr -subj /CN=localhost"),
    );
    std::fs::write(
        dir.join("good.ext"),
        "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext file");
    openssl(
        dir,
        "x509 -req -in good.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out good.pem -days 2 \
         -extfile good.ext",
    );
    openssl(
        dir,
        &format!(
            "req -x509 {KEY} -keyout rogue.key -out rogue.pem -subj /CN=localhost \
             -addext subjectAltName=DNS:localhost -addext basicConstraints=critical,CA:FALSE"
        ),
    );
}

/// Answers `GET /v2/info` with a token that reads chats, and any POST with an empty chat list.
const SERVER: &str = r#"
import json, ssl, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
INFO = json.dumps({"account_id": "a", "scope": "chats--all:ro,chats--access:ro"}).encode()
LIST = json.dumps({"chats_summary": [], "found_chats": 0, "previous_page_id": None}).encode()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, body):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self): self.send(INFO)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send(LIST)
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_port, flush=True)
server.serve_forever()
"#;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An HTTPS server presenting `name`.pem; returns it and its base URL.
fn serve(dir: &Path, name: &str) -> (Server, String) {
    let mut child = Command::new("python3")
        .args(["-c", SERVER])
        .arg(dir.join(format!("{name}.pem")))
        .arg(dir.join(format!("{name}.key")))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut port = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut port)
        .expect("the server's port");
    let url = format!("https://localhost:{}", port.trim());
    (Server(child), url)
}

/// `livechat-mcp call list_chats` against `url`, trusting only the test CA.
fn call(dir: &Path, url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("LIVECHAT_MCP_AUDIT", "off")
        .env("SSL_CERT_FILE", dir.join("ca.pem"))
        .env("LIVECHAT_API_URL", url)
        .env("LIVECHAT_ACCOUNTS_URL", url)
        .env("LIVECHAT_ACCESS_TOKEN", "tls-test-token-0123456789")
        .args(["call", "list_chats", r#"{"limit": 1}"#])
        .output()
        .expect("run")
}

#[test]
fn https_uses_the_systems_roots_and_refuses_an_unknown_issuer() {
    let dir = TempDir::new("tls");
    certificates(dir.path());

    let (_good, good_url) = serve(dir.path(), "good");
    let ok = call(dir.path(), &good_url);
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert_eq!(ok.status.code(), Some(0), "{stderr}");
    let printed: Value = serde_json::from_slice(&ok.stdout).expect("the result JSON");
    assert_eq!(printed["found_chats"], 0);
    // The scopes were read over HTTPS too: no note that they could not be.
    assert!(!stderr.contains("scopes"), "{stderr}");

    let (_rogue, rogue_url) = serve(dir.path(), "rogue");
    let refused = call(dir.path(), &rogue_url);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(refused.stdout.is_empty());
    assert!(
        stderr.contains("TLS certificate was refused") && stderr.contains("UnknownIssuer"),
        "the refusal names the certificate and why: {stderr}"
    );
    // Not retried: one handshake for the scopes and one for the call, each refused once (the
    // verifier logs each refusal).
    assert_eq!(
        stderr.matches("failed to verify TLS certificate").count(),
        2,
        "{stderr}"
    );
    assert!(!stderr.contains("tls-test-token"), "{stderr}");
}
