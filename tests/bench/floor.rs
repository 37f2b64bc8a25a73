//! The floor the bench compares livechat-mcp with (issue 16): the least an MCP server built on
//! rmcp 3.11 can do for one call. One tool, `forward`, POSTs its arguments as JSON to the
//! upstream URL with reqwest and returns the answer's body as text: no policy, no audit, no
//! validation, no limiter.
//!
//! `cargo build --release --examples`, then
//! `floor --upstream URL` (MCP over stdio) or `floor --upstream URL --http 127.0.0.1:0`
//! (streamable HTTP on rmcp's own service and session manager, mounted on axum at `/mcp`; the
//! address it listens on is printed on stderr as `floor: serving MCP at http://ADDR/mcp`).
//!
//! Its HTTP configuration is the one livechat-mcp gives rmcp (JSON answers rather than SSE for
//! a lone result), so both are measured on the same transport.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
};

use anyhow::{Context as _, bail};
use axum::serve::ListenerExt as _;
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, ServiceExt as _,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
        Tool,
    },
    service::RequestContext,
    transport::{
        StreamableHttpServerConfig, StreamableHttpService,
        streamable_http_server::session::local::LocalSessionManager,
    },
};
use serde_json::json;

#[derive(Clone)]
struct Floor {
    upstream: Arc<str>,
    tool: Arc<[Tool; 1]>,
    /// Built at the first call, as a minimal proxy would (TLS set-up is not needed to answer
    /// `tools/list`).
    http: Arc<OnceLock<reqwest::Client>>,
}

impl Floor {
    fn new(upstream: String) -> Floor {
        let schema: JsonObject = json!({"type": "object", "additionalProperties": true})
            .as_object()
            .cloned()
            .unwrap_or_default();
        Floor {
            upstream: upstream.into(),
            tool: Arc::new([Tool::new(
                "forward",
                "POST the arguments to the upstream and return its answer.",
                schema,
            )]),
            http: Arc::new(OnceLock::new()),
        }
    }

    async fn forward(&self, arguments: JsonObject) -> CallToolResult {
        let http = self.http.get_or_init(reqwest::Client::new);
        let sent = async {
            let response = http
                .post(&*self.upstream)
                .json(&arguments)
                .send()
                .await?
                .error_for_status()?;
            response.text().await
        };
        match sent.await {
            Ok(body) => CallToolResult::success(vec![ContentBlock::text(body)]),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e.to_string())]),
        }
    }
}

impl ServerHandler for Floor {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("floor", "0"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tool.to_vec()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if request.name != "forward" {
            return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "no tool `{}`",
                request.name
            ))])
            .into());
        }
        Ok(self
            .forward(request.arguments.unwrap_or_default())
            .await
            .into())
    }
}

struct Args {
    upstream: String,
    http: Option<SocketAddr>,
}

fn args() -> anyhow::Result<Args> {
    let mut upstream = None;
    let mut http = None;
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = || given.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--upstream" => upstream = Some(value()?),
            "--http" => http = Some(value()?.parse().context("--http ADDR, e.g. 127.0.0.1:0")?),
            other => bail!("unknown argument `{other}`: floor --upstream URL [--http ADDR]"),
        }
    }
    Ok(Args {
        upstream: upstream.context("--upstream URL is required")?,
        http,
    })
}

async fn serve_http(floor: Floor, addr: SocketAddr) -> anyhow::Result<()> {
    let config = StreamableHttpServerConfig::default().with_json_response(true);
    let service = StreamableHttpService::new(
        move || Ok(floor.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let app = axum::Router::new().route_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "floor: serving MCP at http://{}/mcp",
        listener.local_addr()?
    );
    // Without TCP_NODELAY an answer written in two parts waits for the client's delayed ACK
    // (40 ms); livechat-mcp sets it too.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let floor = Floor::new(args.upstream);
    match args.http {
        Some(addr) => serve_http(floor, addr).await,
        None => {
            let running = floor
                .serve(rmcp::transport::stdio_pipes())
                .await
                .context("the MCP session did not start")?;
            running.waiting().await?;
            Ok(())
        }
    }
}
