//! MCP over stdio, one JSON-RPC message a line, with an answer for a line that is not JSON and
//! for a request whose id is already in flight.
//!
//! rmcp's line codec drops a line it cannot parse, so a client that sent a request with an id
//! would wait for ever; and two requests with one id cross inside rmcp. This module sits
//! between stdin/stdout and rmcp: lines that parse go on to rmcp unchanged; a line that does
//! not gets a JSON-RPC `-32700` answer, and one longer than rmcp reads (16 MiB) a `-32600`,
//! each with the request's id when one can be read from it; a request whose id awaits its
//! answer gets `-32600` and never reaches rmcp (see [`crate::request_ids`]). Only whole lines
//! reach stdout, so an error can never split one of rmcp's messages.

use std::sync::Arc;

use rmcp::model::{ClientJsonRpcMessage, JsonRpcMessage, RequestId};
use serde::{Deserialize, de::IgnoredAny};
use serde_json::{Value, json};
use tokio::{
    io::{
        AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader,
        DuplexStream,
    },
    sync::mpsc,
    task::JoinHandle,
};

use crate::request_ids::InFlight;

/// How much of a message the pipes to rmcp hold before the reader waits.
const PIPE_BYTES: usize = 1 << 20;

/// The transport for rmcp, and the tasks that feed it; await the tasks after the session ends
/// so the last answers are flushed.
pub struct GuardedStdio {
    pub transport: (DuplexStream, DuplexStream),
    pub tasks: (JoinHandle<()>, JoinHandle<()>),
}

/// Wraps the process's stdin and stdout.
pub fn guarded() -> GuardedStdio {
    let (input, output) = rmcp::transport::stdio_pipes();
    guard(input, output)
}

/// The longest line passed on to rmcp, its newline included: rmcp drops a longer one without
/// a word, so the guard answers it instead.
const MAX_LINE_BYTES: usize = rmcp::transport::async_rw::DEFAULT_MAX_LINE_LENGTH;

/// Wraps any line-based pair of streams (tests use in-memory pipes).
pub fn guard<R, W>(input: R, output: W) -> GuardedStdio
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    guard_lines_up_to(input, output, MAX_LINE_BYTES)
}

fn guard_lines_up_to<R, W>(input: R, output: W, max_line: usize) -> GuardedStdio
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (mut to_rmcp, rmcp_reads) = tokio::io::duplex(PIPE_BYTES);
    let (rmcp_writes, from_rmcp) = tokio::io::duplex(PIPE_BYTES);
    let (errors, mut error_lines) = mpsc::unbounded_channel::<String>();
    let in_flight = Arc::new(InFlight::<()>::default());
    let answered = in_flight.clone();
    let reader = tokio::spawn(async move {
        let mut input = BufReader::new(input);
        let mut buffer = Vec::new();
        // Lines are read as bytes: one that is not UTF-8 is not JSON either, and gets its
        // answer like any other (reading text would end the session at the first such byte).
        loop {
            let too_long = match read_line(&mut input, &mut buffer, max_line).await {
                Ok(Some(too_long)) => too_long,
                Ok(None) | Err(_) => break,
            };
            if too_long {
                tracing::warn!(max_line, "a line on stdin is too long");
                let text = String::from_utf8_lossy(&buffer);
                let _ = errors.send(error_answer(
                    &text,
                    -32600,
                    &format!("invalid request: the message is over {max_line} bytes"),
                ));
                continue;
            }
            let line = buffer.strip_suffix(b"\n").unwrap_or(&buffer);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = std::str::from_utf8(line).ok();
            if text.is_some_and(|text| text.trim().is_empty()) {
                continue;
            }
            if let Some(text) = text.filter(|text| serde_json::from_str::<Value>(text).is_ok()) {
                if let Err(refused) = admit(&in_flight, text) {
                    let _ = errors.send(refused);
                    continue;
                }
                let forwarded = async {
                    to_rmcp.write_all(line).await?;
                    to_rmcp.write_all(b"\n").await
                };
                if forwarded.await.is_err() {
                    break;
                }
            } else {
                tracing::warn!(bytes = line.len(), "a line on stdin is not JSON");
                let _ = errors.send(error_answer(
                    &String::from_utf8_lossy(line),
                    -32700,
                    "parse error: the message is not JSON",
                ));
            }
        }
        // Dropping the pipe ends rmcp's session, as the end of stdin would.
    });
    let writer = tokio::spawn(async move {
        let mut output = output;
        let mut answers = BufReader::new(from_rmcp).lines();
        let mut errors_open = true;
        loop {
            let line = tokio::select! {
                answer = answers.next_line() => match answer {
                    Ok(Some(line)) => {
                        // Released before it is written: the client cannot reuse the id
                        // before it has read the answer.
                        if let Some(id) = answered_id(&line) {
                            answered.release(&id);
                        }
                        line
                    }
                    _ => break,
                },
                error = error_lines.recv(), if errors_open => match error {
                    Some(line) => line,
                    None => {
                        errors_open = false;
                        continue;
                    }
                },
            };
            let written = async {
                output.write_all(line.as_bytes()).await?;
                output.write_all(b"\n").await?;
                output.flush().await
            };
            if written.await.is_err() {
                break;
            }
        }
    });
    GuardedStdio {
        transport: (rmcp_reads, rmcp_writes),
        tasks: (reader, writer),
    }
}

/// Lets a line through to rmcp, or returns the answer that refuses it: a request whose id is
/// already in flight. A `notifications/cancelled` releases the id it names, as rmcp will not
/// answer it. Lines rmcp will not read as a message pass unrecorded; rmcp answers them.
fn admit(in_flight: &InFlight, line: &str) -> Result<(), String> {
    let Ok(message) = serde_json::from_str::<ClientJsonRpcMessage>(line) else {
        return Ok(());
    };
    if let JsonRpcMessage::Request(request) = &message {
        if let Err(refused) = in_flight.claim(&request.id, ()) {
            tracing::warn!(id = %request.id, "a request on stdin reuses an id in flight");
            return Err(serde_json::to_string(&refused.1).unwrap_or_default());
        }
    } else {
        in_flight.cancelled(&message);
    }
    Ok(())
}

/// The id of the request an outgoing line answers, read without decoding the whole result.
fn answered_id(line: &str) -> Option<RequestId> {
    #[derive(Deserialize)]
    struct Envelope {
        id: Option<RequestId>,
        method: Option<IgnoredAny>,
        result: Option<IgnoredAny>,
        error: Option<IgnoredAny>,
    }
    let envelope: Envelope = serde_json::from_str(line).ok()?;
    let answers =
        envelope.method.is_none() && (envelope.result.is_some() || envelope.error.is_some());
    envelope.id.filter(|_| answers)
}

/// Reads one line, its newline included, into `buffer`, keeping at most `max` bytes: the rest
/// of a longer line is read and dropped, so it is never held whole. `None` at the end of the
/// input; otherwise whether the line was too long.
async fn read_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    buffer: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    buffer.clear();
    let mut too_long = false;
    loop {
        let available = input.fill_buf().await?;
        if available.is_empty() {
            return Ok((!buffer.is_empty() || too_long).then_some(too_long));
        }
        let newline = available.iter().position(|b| *b == b'\n');
        let take = newline.map_or(available.len(), |i| i + 1);
        if !too_long {
            // Of a line too long, the start is kept: it may hold the id.
            let room = max.saturating_sub(buffer.len());
            too_long = take > room;
            buffer.extend_from_slice(&available[..take.min(room)]);
        }
        input.consume(take);
        if newline.is_some() {
            return Ok(Some(too_long));
        }
    }
}

/// The error answer to a line rmcp would drop without one: `-32700` when it is not JSON,
/// `-32600` when it is too long. The id is read from the line when it plainly holds one
/// (`"id": 7` or `"id": "a"`), so the client can match the answer; otherwise `null`, as
/// JSON-RPC says.
fn error_answer(line: &str, code: i64, message: &str) -> String {
    json!({
        "jsonrpc": "2.0",
        "id": id_in(line),
        "error": {"code": code, "message": message}
    })
    .to_string()
}

fn id_in(line: &str) -> Value {
    let Some(at) = line.find("\"id\"") else {
        return Value::Null;
    };
    let rest = line[at + 4..].trim_start();
    let Some(rest) = rest.strip_prefix(':') else {
        return Value::Null;
    };
    let rest = rest.trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        return match quoted.find('"') {
            Some(end) if end <= 128 && !quoted[..end].contains('\\') => {
                Value::String(quoted[..end].to_string())
            }
            _ => Value::Null,
        };
    }
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .take(20)
        .collect();
    digits
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_read_when_the_line_plainly_holds_one() {
        assert_eq!(
            id_in(r#"{"jsonrpc":"2.0","id":7,"method":"x" oops"#),
            json!(7)
        );
        assert_eq!(id_in(r#"{"id": "a-1", "method": oops"#), json!("a-1"));
        assert_eq!(id_in("not json at all"), Value::Null);
        assert_eq!(id_in(r#"{"id": {"#), Value::Null);
        let answer: Value =
            serde_json::from_str(&error_answer("{\"id\":3,", -32700, "parse error")).unwrap();
        assert_eq!(answer["error"]["code"], -32700);
        assert_eq!(answer["id"], 3);
    }

    #[tokio::test]
    async fn a_line_that_is_not_utf8_is_answered_and_the_session_goes_on() {
        // Found by tests/fuzz.rs: a lone 0x80 byte ended the reader, so every later request
        // went unanswered.
        let (mut client_in, server_in) = tokio::io::duplex(4096);
        let (server_out, client_out) = tokio::io::duplex(4096);
        let guarded = guard(server_in, server_out);
        let (mut rmcp_in, _rmcp_out) = guarded.transport;
        client_in
            .write_all(b"\x80\r\n{\"id\":4,\"x\":\"\xff\"}\n{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}\n")
            .await
            .unwrap();
        let mut forwarded = BufReader::new(&mut rmcp_in).lines();
        assert_eq!(
            forwarded.next_line().await.unwrap().as_deref(),
            Some("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}")
        );
        let mut out = BufReader::new(client_out).lines();
        for id in [Value::Null, json!(4)] {
            let answer: Value =
                serde_json::from_str(&out.next_line().await.unwrap().unwrap()).unwrap();
            assert_eq!(answer["error"]["code"], -32700);
            assert_eq!(answer["id"], id);
        }
    }

    #[tokio::test]
    async fn a_line_too_long_for_rmcp_is_answered_not_dropped() {
        // rmcp drops a line over its limit without an answer; the guard answers it, holding
        // no more of it than the limit, and the next line still passes.
        let (mut client_in, server_in) = tokio::io::duplex(4096);
        let (server_out, client_out) = tokio::io::duplex(4096);
        let guarded = guard_lines_up_to(server_in, server_out, 64);
        let (mut rmcp_in, _rmcp_out) = guarded.transport;
        let long = format!(
            "{{\"id\":9,\"method\":\"ping\",\"pad\":\"{}\"}}\n",
            "x".repeat(500)
        );
        let fits = "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}\n";
        assert_eq!(fits.len(), 41);
        client_in.write_all(long.as_bytes()).await.unwrap();
        client_in.write_all(fits.as_bytes()).await.unwrap();
        let mut forwarded = BufReader::new(&mut rmcp_in).lines();
        assert_eq!(
            forwarded.next_line().await.unwrap().as_deref(),
            Some(fits.trim_end())
        );
        let mut out = BufReader::new(client_out).lines();
        let answer: Value = serde_json::from_str(&out.next_line().await.unwrap().unwrap()).unwrap();
        assert_eq!(answer["error"]["code"], -32600);
        assert_eq!(answer["id"], 9);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("over 64 bytes")
        );
    }

    #[tokio::test]
    async fn a_line_that_is_not_json_is_answered_and_the_rest_pass() {
        let (mut client_in, server_in) = tokio::io::duplex(4096);
        let (server_out, client_out) = tokio::io::duplex(4096);
        let guarded = guard(server_in, server_out);
        let (mut rmcp_in, mut rmcp_out) = guarded.transport;
        client_in
            .write_all(b"{\"id\":5,\"method\":\"ping\" broken\n{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}\n")
            .await
            .unwrap();
        // The valid line reaches rmcp's side unchanged.
        let mut forwarded = BufReader::new(&mut rmcp_in).lines();
        assert_eq!(
            forwarded.next_line().await.unwrap().as_deref(),
            Some("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}")
        );
        // rmcp's answer and the parse error both come out as whole lines.
        rmcp_out
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}\n")
            .await
            .unwrap();
        let mut out = BufReader::new(client_out).lines();
        let mut seen = [
            out.next_line().await.unwrap().unwrap(),
            out.next_line().await.unwrap().unwrap(),
        ];
        seen.sort();
        let first: Value = serde_json::from_str(&seen[0]).unwrap();
        let second: Value = serde_json::from_str(&seen[1]).unwrap();
        let (error, result) = if first.get("error").is_some() {
            (first, second)
        } else {
            (second, first)
        };
        assert_eq!(error["error"]["code"], -32700);
        assert_eq!(error["id"], 5);
        assert_eq!(result["id"], 6);
    }

    #[tokio::test]
    async fn a_request_reusing_an_id_in_flight_is_refused_until_the_first_is_answered() {
        let (mut client_in, server_in) = tokio::io::duplex(4096);
        let (server_out, client_out) = tokio::io::duplex(4096);
        let guarded = guard(server_in, server_out);
        let (rmcp_in, mut rmcp_out) = guarded.transport;
        let call = |text: &str| {
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{{\"name\":\"x\",\"arguments\":{{\"text\":\"{text}\"}}}}}}\n"
            )
        };
        client_in.write_all(call("first").as_bytes()).await.unwrap();
        client_in
            .write_all(call("second").as_bytes())
            .await
            .unwrap();
        let mut forwarded = BufReader::new(rmcp_in).lines();
        let mut out = BufReader::new(client_out).lines();
        // Only the first reaches rmcp; the second is answered at once.
        let first = forwarded.next_line().await.unwrap().unwrap();
        assert!(first.contains("first"), "{first}");
        let refused: Value =
            serde_json::from_str(&out.next_line().await.unwrap().unwrap()).unwrap();
        assert_eq!(refused["id"], 7);
        assert_eq!(refused["error"]["code"], -32600);
        // The first's answer goes out and frees the id.
        rmcp_out
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":[]}}\n")
            .await
            .unwrap();
        let answer: Value = serde_json::from_str(&out.next_line().await.unwrap().unwrap()).unwrap();
        assert_eq!(answer["id"], 7);
        assert!(answer.get("result").is_some(), "{answer}");
        client_in.write_all(call("third").as_bytes()).await.unwrap();
        let third = forwarded.next_line().await.unwrap().unwrap();
        assert!(third.contains("third"), "{third}");
    }

    #[test]
    fn an_answer_is_told_from_a_request_without_decoding_its_result() {
        assert_eq!(
            answered_id(r#"{"jsonrpc":"2.0","id":"a","result":{"big":[1,2,3]}}"#),
            Some(RequestId::String("a".into()))
        );
        assert_eq!(
            answered_id(r#"{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x"}}"#),
            Some(RequestId::Number(3))
        );
        // A request from the server to the client answers nothing.
        assert_eq!(
            answered_id(r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#),
            None
        );
        assert_eq!(
            answered_id(r#"{"jsonrpc":"2.0","method":"notifications/x"}"#),
            None
        );
    }
}
