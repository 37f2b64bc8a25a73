//! Reading a `multipart/form-data` body (RFC 7578), the sandbox's own reader, apart from the
//! client's writer (`crate::upload`) so it cannot share its mistakes: parts split at the
//! boundary, each with its headers; `name` and `filename` from `Content-Disposition`.

use super::error::{LcError, LcResult};

/// One part of a form.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// The form field.
    pub name: String,
    /// The file name, for a file part.
    pub filename: Option<String>,
    /// The part's `Content-Type`, if it has one.
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// A whole form, its parts in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Form {
    pub parts: Vec<Part>,
}

impl Form {
    /// The first part named `name`.
    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }
}

/// Whether a `Content-Type` header value is `multipart/form-data`.
pub fn is_form(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// Reads `body` as the form its `Content-Type` (`multipart/form-data; boundary=...`) says.
pub fn parse(content_type: &str, body: &[u8]) -> LcResult<Form> {
    let bad = |why: &str| LcError::validation(format!("Malformed multipart/form-data body: {why}"));
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| bad("the Content-Type has no boundary"))?;
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut at = find(body, delimiter, 0).ok_or_else(|| bad("no boundary line"))?;
    let mut form = Form::default();
    loop {
        let after = at + delimiter.len();
        let rest = &body[after..];
        if rest.starts_with(b"--") {
            return Ok(form);
        }
        let start = after
            + if rest.starts_with(b"\r\n") {
                2
            } else {
                return Err(bad("a boundary line does not end in CRLF"));
            };
        // The part runs to the next CRLF and delimiter.
        let mut closing = Vec::with_capacity(delimiter.len() + 2);
        closing.extend_from_slice(b"\r\n");
        closing.extend_from_slice(delimiter);
        let end = find(body, &closing, start).ok_or_else(|| bad("the last part is not closed"))?;
        form.parts
            .push(part(&body[start..end]).map_err(|why| bad(&why))?);
        at = end + 2;
    }
}

fn part(raw: &[u8]) -> Result<Part, String> {
    let split = find(raw, b"\r\n\r\n", 0).ok_or("a part has no blank line after its headers")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "a part's headers are not UTF-8")?;
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let (key, value) = line.split_once(':').ok_or("a part header has no `:`")?;
        if key.trim().eq_ignore_ascii_case("content-disposition") {
            let mut params = value.split(';');
            if !params
                .next()
                .is_some_and(|d| d.trim().eq_ignore_ascii_case("form-data"))
            {
                return Err("a part is not `form-data`".to_string());
            }
            for param in params {
                let Some((k, v)) = param.split_once('=') else {
                    continue;
                };
                let v = v.trim().trim_matches('"').to_string();
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(v),
                    "filename" => filename = Some(v),
                    _ => {}
                }
            }
        } else if key.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    Ok(Part {
        name: name.ok_or("a part has no `name`")?,
        filename,
        content_type,
        data: raw[split + 4..].to_vec(),
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_curl_and_httpx_send() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--Xy\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--XyZ--\r\n";
        let form = parse("multipart/form-data; boundary=\"XyZ\"", body).unwrap();
        assert_eq!(form.parts.len(), 2);
        let file = form.part("file").unwrap();
        assert_eq!(file.filename.as_deref(), Some("a b.png"));
        assert_eq!(file.content_type.as_deref(), Some("image/png"));
        assert_eq!(file.data, b"\x89PNG\r\n--Xy");
        assert_eq!(form.part("note").unwrap().data, b"hi");
    }

    #[test]
    fn broken_forms_are_validation_errors() {
        for (content_type, body) in [
            ("multipart/form-data", &b"--a\r\n\r\nx\r\n--a--"[..]),
            ("multipart/form-data; boundary=a", b"nothing"),
            (
                "multipart/form-data; boundary=a",
                b"--a\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx",
            ),
            (
                "multipart/form-data; boundary=a",
                b"--a\r\nX: y\r\n\r\nx\r\n--a--",
            ),
        ] {
            let e = parse(content_type, body).unwrap_err();
            assert_eq!(e.kind, "validation", "{e}");
        }
    }
}
