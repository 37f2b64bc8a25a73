//! The `livechat-mcp` binary: parse the command line and hand over to the library.

fn main() -> std::process::ExitCode {
    livechat_mcp::cli::main()
}
