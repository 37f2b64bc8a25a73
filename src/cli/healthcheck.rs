//! `healthcheck [URL]`: one `GET /healthz` over plain HTTP/1.1, exit 0 when it answers 200 and
//! 1 otherwise. The container image has no curl; its `HEALTHCHECK` runs this.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream, ToSocketAddrs as _},
    process::ExitCode,
    time::Duration,
};

/// How long connecting, sending and reading may each take.
const TIMEOUT: Duration = Duration::from_secs(3);
/// The most of the answer read: the status line is all that counts.
const MAX_ANSWER: u64 = 64 * 1024;

/// Where `healthcheck` asks without a URL: loopback, on the port `serve --http` listens on
/// (LIVECHAT_MCP_HTTP's when set, else 8000).
pub fn default_url() -> String {
    let port = std::env::var("LIVECHAT_MCP_HTTP")
        .ok()
        .and_then(|v| crate::http::parse_listen(&v).ok())
        .map_or(crate::http::DEFAULT_HTTP_PORT, |addr| addr.port());
    format!("http://127.0.0.1:{port}/healthz")
}

/// A URL `healthcheck` can ask: `http://HOST[:PORT][/PATH]`.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    path: String,
}

fn parse(url: &str) -> Result<Target, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("`{url}` is not an http:// URL: the health check speaks plain HTTP to the server's own port")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/healthz"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("`{url}` has no host (or has credentials in it)"));
    }
    // `[::1]:8000` or `host:8000`; no port means 80.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (inside, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("`{url}` has an unclosed `[`"))?;
            (format!("[{inside}]"), after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), Some(port)),
            None => (authority.to_string(), None),
        },
    };
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("`{url}` has a bad port"))?,
    };
    Ok(Target {
        host,
        port,
        path: path.to_string(),
    })
}

/// Asks once; `Ok` when the answer's status is 200, else why not.
fn check(target: &Target) -> Result<(), String> {
    let bare = target.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (bare, target.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
        .collect();
    let mut last = format!("no address for {}", target.host);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(stream) => return ask(stream, target),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

fn ask(mut stream: TcpStream, target: &Target) -> Result<(), String> {
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: livechat-mcp-healthcheck\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        target.path, target.host, target.port
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut answer = Vec::new();
    let read = stream.take(MAX_ANSWER).read_to_end(&mut answer);
    if answer.is_empty() {
        return Err(match read {
            Err(e) => format!("no answer: {e}"),
            Ok(_) => "the connection closed without an answer".to_string(),
        });
    }
    let text = String::from_utf8_lossy(&answer);
    let status_line = text.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(v), Some("200")) if v.starts_with("HTTP/1.") => Ok(()),
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => {
            let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b.trim());
            Err(format!(
                "answered {code}: {}",
                body.chars().take(300).collect::<String>()
            ))
        }
        _ => Err(format!(
            "not an HTTP/1.1 answer: {}",
            status_line.chars().take(80).collect::<String>()
        )),
    }
}

/// `healthcheck [URL]`: prints `ok` and exits 0, or says why on stderr and exits 1 (2 for a
/// URL it cannot use).
pub fn run(url: Option<&str>) -> ExitCode {
    let url = url.map_or_else(default_url, str::to_string);
    let target = match parse(&url) {
        Ok(target) => target,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(2);
        }
    };
    match check(&target) {
        Ok(()) => {
            super::emit("ok\n");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("livechat-mcp: unhealthy: {url}: {why}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(host: &str, port: u16, path: &str) -> Target {
        Target {
            host: host.into(),
            port,
            path: path.into(),
        }
    }

    #[test]
    fn urls_are_read_with_their_defaults() {
        assert_eq!(
            parse("http://127.0.0.1:8000/healthz"),
            Ok(t("127.0.0.1", 8000, "/healthz"))
        );
        assert_eq!(
            parse("http://localhost"),
            Ok(t("localhost", 80, "/healthz"))
        );
        assert_eq!(parse("http://[::1]:9/x"), Ok(t("[::1]", 9, "/x")));
        assert_eq!(parse("http://[::1]/x"), Ok(t("[::1]", 80, "/x")));
        assert!(parse("https://127.0.0.1/healthz").is_err());
        assert!(parse("http://u:p@127.0.0.1/").is_err());
        assert!(parse("http://127.0.0.1:x/").is_err());
    }
}
