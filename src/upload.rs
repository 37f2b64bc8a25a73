//! Files for LiveChat's `upload_file`: the checks LiveChat makes (at most 10 MB, no
//! executables) made before anything is sent, the `--upload-dir` a local client may read
//! files from, and the `multipart/form-data` body LiveChat takes. reqwest's `multipart`
//! feature needs crates this build does not have, and one part with one file is a few lines.

use std::path::{Component, Path, PathBuf};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// LiveChat's limit: "Maximum size: 10MB" (Agent Chat API 3.5 and 3.6, `upload_file`). Read
/// as 10 MiB, the larger reading: a file between 10^7 bytes and 10 MiB is LiveChat's to
/// refuse (`entity_too_large`), not ours.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// The longest file name taken, in bytes (most file systems' limit).
const MAX_NAME_BYTES: usize = 255;

/// A file to upload, checked: its name, its content type, its bytes and their SHA-256.
#[derive(Clone, Debug)]
pub struct File {
    pub name: String,
    pub content_type: String,
    pub data: Bytes,
    pub sha256: String,
}

/// The directory `--upload-dir` allows `upload_file` to read from (stdio only), canonical.
#[derive(Clone, Debug)]
pub struct UploadDir {
    root: PathBuf,
}

impl UploadDir {
    /// The directory at `dir`, which must exist; symbolic links in it are resolved once here.
    pub fn new(dir: &Path) -> Result<UploadDir, String> {
        let root = std::fs::canonicalize(dir)
            .map_err(|e| format!("--upload-dir {}: {e}", dir.display()))?;
        if !root.is_dir() {
            return Err(format!("--upload-dir {}: not a directory", dir.display()));
        }
        Ok(UploadDir { root })
    }

    /// The canonical directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bytes of the regular file at `path` (relative to the directory), and its name. The
    /// path must resolve, symbolic links followed, inside the directory; the file must be at
    /// most [`MAX_FILE_BYTES`].
    pub fn read(&self, path: &str) -> Result<(Vec<u8>, String), String> {
        use std::io::Read as _;
        let shown = quote(path);
        if path.is_empty() || path.contains('\0') {
            return Err("`path` must name a file in the upload directory".to_string());
        }
        let given = Path::new(path);
        if given.is_absolute() {
            return Err(format!(
                "`path` {shown} is absolute; give it relative to the upload directory"
            ));
        }
        if given.components().any(|c| c == Component::ParentDir) {
            return Err(format!(
                "`path` {shown} contains `..`; only files inside the upload directory can be sent"
            ));
        }
        let real = std::fs::canonicalize(self.root.join(given)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("`path` {shown}: no such file in the upload directory")
            }
            _ => format!("`path` {shown}: {e}"),
        })?;
        if !real.starts_with(&self.root) {
            return Err(format!(
                "`path` {shown} is a symbolic link that leads out of the upload directory; only files inside it can be sent"
            ));
        }
        let meta = std::fs::metadata(&real).map_err(|e| format!("`path` {shown}: {e}"))?;
        if !meta.is_file() {
            let what = if meta.is_dir() {
                "a directory"
            } else {
                "not a regular file"
            };
            return Err(format!("`path` {shown} is {what}; give a regular file"));
        }
        too_big(meta.len(), &format!("`path` {shown}"))?;
        let file = std::fs::File::open(&real).map_err(|e| format!("`path` {shown}: {e}"))?;
        // What was opened is what was checked: a link swapped in since would show here.
        if let Some(opened) = opened_path(&file)
            && !opened.starts_with(&self.root)
        {
            return Err(format!(
                "`path` {shown} changed while it was opened and now leads out of the upload directory"
            ));
        }
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(format!("`path` {shown} is not a regular file"));
        }
        let mut data = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_FILE_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|e| format!("`path` {shown}: {e}"))?;
        too_big(data.len() as u64, &format!("`path` {shown}"))?;
        let name = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok((data, name))
    }
}

/// Where an open file really is, on Linux; elsewhere nothing is known.
fn opened_path(file: &std::fs::File) -> Option<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        None
    }
}

fn too_big(size: u64, what: &str) -> Result<(), String> {
    if size > MAX_FILE_BYTES as u64 {
        return Err(format!(
            "{what} is {size} bytes; LiveChat takes files of at most 10 MB ({MAX_FILE_BYTES} bytes)"
        ));
    }
    Ok(())
}

/// The file an `upload_file` call sends, from its arguments: `name`, `content_type`, and
/// exactly one of `content` (base64) and `path` (only with an upload directory). Every
/// refusal LiveChat would make that can be made here is made here.
pub fn from_arguments(arguments: &Value, dir: Option<&UploadDir>) -> Result<File, String> {
    let text = |key: &str| arguments.get(key).and_then(Value::as_str);
    let content_type = text("content_type").unwrap_or_default();
    check_content_type(content_type)?;
    let name = text("name").unwrap_or_default();
    check_name(name)?;
    let data = match (text("content"), text("path"), dir) {
        (Some(_), Some(_), _) => {
            return Err("give either `content` or `path`, not both".to_string());
        }
        (Some(content), None, _) => decode(content)?,
        (None, Some(path), Some(dir)) => dir.read(path)?.0,
        (None, Some(_), None) => return Err("`path` is not a field".to_string()),
        (None, None, Some(_)) => {
            return Err(
                "`content` (the file as base64) or `path` (a file in the upload directory) is required"
                    .to_string(),
            );
        }
        (None, None, None) => return Err("`content` is required".to_string()),
    };
    if let Some(why) = executable(name, content_type, &data) {
        return Err(format!(
            "LiveChat rejects executable files, and this one is {why}"
        ));
    }
    Ok(File {
        name: name.to_string(),
        content_type: content_type.to_string(),
        sha256: crate::digest::hex(&Sha256::digest(&data)),
        data: Bytes::from(data),
    })
}

/// Base64 (standard alphabet; whitespace and line breaks are skipped) to bytes, refusing more
/// than [`MAX_FILE_BYTES`] before decoding.
fn decode(content: &str) -> Result<Vec<u8>, String> {
    let compact: String = content
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let decoded_len = compact.len() / 4 * 3;
    if decoded_len > MAX_FILE_BYTES + 2 {
        return Err(format!(
            "`content` decodes to about {decoded_len} bytes; LiveChat takes files of at most 10 MB ({MAX_FILE_BYTES} bytes)"
        ));
    }
    let data = STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| format!("`content` is not base64 (standard alphabet, padded): {e}"))?;
    too_big(data.len() as u64, "`content` decoded")?;
    if data.is_empty() {
        return Err("`content` is empty; LiveChat takes no empty files".to_string());
    }
    Ok(data)
}

/// A file name goes into the part's `Content-Disposition` header, quoted: no quotes,
/// backslashes, slashes or control characters.
fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("`name` must be a file name, e.g. `invoice.pdf`".to_string());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "`name` is {} bytes; at most {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, '"' | '\\' | '/'))
    {
        return Err(format!(
            "`name` may not contain {}; give the file's name alone",
            match c {
                '"' => "`\"`".to_string(),
                '\\' => "`\\`".to_string(),
                '/' => "`/`".to_string(),
                c => format!("control character U+{:04X}", c as u32),
            }
        ));
    }
    Ok(())
}

/// A MIME type, `type/subtype`, of RFC 6838's characters; no parameters.
fn check_content_type(content_type: &str) -> Result<(), String> {
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match content_type.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => Ok(()),
        _ => Err(format!(
            "`content_type` {} is not a MIME type such as `image/png` or `application/pdf`",
            quote(content_type)
        )),
    }
}

/// File name endings of programs and of scripts Windows runs on a double click.
const EXECUTABLE_EXTENSIONS: &[&str] = &[
    "exe", "com", "bat", "cmd", "msi", "msp", "scr", "pif", "cpl", "dll", "vbs", "vbe", "jse",
    "wsf", "wsh", "ps1", "hta", "jar", "apk",
];

/// Content types of programs.
const EXECUTABLE_TYPES: &[&str] = &[
    "application/x-msdownload",
    "application/x-msdos-program",
    "application/x-dosexec",
    "application/x-executable",
    "application/x-sharedlib",
    "application/x-elf",
    "application/x-mach-binary",
    "application/vnd.microsoft.portable-executable",
    "application/x-msi",
    "application/x-ms-installer",
    "application/java-archive",
    "application/vnd.android.package-archive",
    "application/x-bat",
];

/// Why a file is an executable, if it is: its name's ending, its content type, or its first
/// bytes (a Windows PE, ELF or Mach-O program, whatever it is called). LiveChat's docs say
/// only "executable files are rejected"; this is our reading of it.
pub fn executable(name: &str, content_type: &str, data: &[u8]) -> Option<String> {
    if let Some((_, ext)) = name.rsplit_once('.') {
        let ext = ext.to_ascii_lowercase();
        if EXECUTABLE_EXTENSIONS.contains(&ext.as_str()) {
            return Some(format!("named `.{ext}`"));
        }
    }
    let kind = content_type.to_ascii_lowercase();
    if EXECUTABLE_TYPES.contains(&kind.as_str()) {
        return Some(format!("of type `{kind}`"));
    }
    program_format(data).map(|format| format!("a {format} program"))
}

/// The program format `data` starts with, if any.
fn program_format(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(b"\x7fELF") {
        return Some("Linux (ELF)");
    }
    const MACH_O: [[u8; 4]; 4] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    if MACH_O.iter().any(|magic| data.starts_with(magic)) {
        return Some("macOS (Mach-O)");
    }
    // A DOS header whose `e_lfanew` points at the PE signature; a text that merely starts
    // with `MZ` is not one.
    if data.starts_with(b"MZ") && data.len() >= 64 {
        let at = u32::from_le_bytes([data[60], data[61], data[62], data[63]]) as usize;
        if data.get(at..at.saturating_add(4)) == Some(b"PE\0\0") {
            return Some("Windows (PE)");
        }
    }
    None
}

/// A value in an error: backticks around at most 80 characters, control characters escaped.
fn quote(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(80)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if value.chars().count() > 80 {
        out.push('…');
    }
    format!("`{out}`")
}

/// A `multipart/form-data` body: its `Content-Type` header value (with the boundary) and its
/// bytes; and, for the audit trail, the size and SHA-256 of the file in it.
#[derive(Clone, Debug)]
pub struct Multipart {
    pub content_type: String,
    pub body: Bytes,
    pub file_size: u64,
    pub file_sha256: String,
}

impl Multipart {
    /// A form of one file part, `field`, laid out as the official Python SDK's HTTP client
    /// (httpx) lays it out: boundary lines, `Content-Disposition` with `name` and `filename`,
    /// the part's `Content-Type`, a blank line, the bytes.
    pub fn with_file(field: &str, file: &File) -> Multipart {
        let boundary = loop {
            let candidate = format!("{:032x}", rand::random::<u128>());
            if !contains(&file.data, candidate.as_bytes()) {
                break candidate;
            }
        };
        Multipart::with_boundary(field, file, &boundary)
    }

    fn with_boundary(field: &str, file: &File, boundary: &str) -> Multipart {
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            file.name, file.content_type
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let mut body = Vec::with_capacity(head.len() + file.data.len() + tail.len());
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(&file.data);
        body.extend_from_slice(tail.as_bytes());
        Multipart {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            body: Bytes::from(body),
            file_size: file.data.len() as u64,
            file_sha256: file.sha256.clone(),
        }
    }

    /// The boundary, from the content type.
    pub fn boundary(&self) -> &str {
        self.content_type
            .rsplit_once("boundary=")
            .map_or("", |(_, b)| b)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(data: &[u8]) -> String {
        STANDARD.encode(data)
    }

    fn file(args: Value) -> Result<File, String> {
        from_arguments(&args, None)
    }

    #[test]
    fn a_file_is_its_decoded_bytes_with_their_hash() {
        let f =
            file(json!({"name": "a.txt", "content_type": "text/plain", "content": "aGVs\nbG8="}))
                .unwrap();
        assert_eq!(&f.data[..], b"hello");
        assert_eq!(f.sha256, crate::digest::sha256_hex("hello"));
    }

    #[test]
    fn over_ten_megabytes_is_refused_before_decoding() {
        let exact = vec![b'a'; MAX_FILE_BYTES];
        let ok =
            file(json!({"name": "a.txt", "content_type": "text/plain", "content": b64(&exact)}));
        assert_eq!(ok.unwrap().data.len(), MAX_FILE_BYTES);
        let over = vec![b'a'; MAX_FILE_BYTES + 1];
        let err =
            file(json!({"name": "a.txt", "content_type": "text/plain", "content": b64(&over)}))
                .unwrap_err();
        assert!(err.contains("at most 10 MB"), "{err}");
        let huge = "A".repeat(MAX_FILE_BYTES * 2);
        let err = file(json!({"name": "a.txt", "content_type": "text/plain", "content": huge}))
            .unwrap_err();
        assert!(err.starts_with("`content` decodes to about"), "{err}");
    }

    #[test]
    fn executables_are_refused_by_name_type_or_content() {
        let pe = {
            let mut d = vec![0u8; 128];
            d[..2].copy_from_slice(b"MZ");
            d[60] = 64;
            d[64..68].copy_from_slice(b"PE\0\0");
            d
        };
        let cases = [
            (
                "setup.EXE",
                "application/octet-stream",
                b"x".to_vec(),
                "named `.exe`",
            ),
            (
                "a.bin",
                "application/x-msdownload",
                b"x".to_vec(),
                "of type",
            ),
            ("photo.png", "image/png", pe.clone(), "Windows (PE)"),
            (
                "a",
                "application/octet-stream",
                b"\x7fELF\x02".to_vec(),
                "ELF",
            ),
            (
                "a",
                "application/octet-stream",
                vec![0xcf, 0xfa, 0xed, 0xfe],
                "Mach-O",
            ),
        ];
        for (name, kind, data, why) in cases {
            let err = file(json!({"name": name, "content_type": kind, "content": b64(&data)}))
                .unwrap_err();
            assert!(
                err.contains("executable") && err.contains(why),
                "{name}: {err}"
            );
        }
        // A text that starts with `MZ` is no program.
        let text = format!("MZ {}", "x".repeat(100));
        assert!(
            file(json!({"name": "notes.txt", "content_type": "text/plain", "content": b64(text.as_bytes())}))
                .is_ok()
        );
    }

    #[test]
    fn names_and_types_that_would_break_the_header_are_refused() {
        for name in ["a\"b.txt", "a\r\nX: y", "../a.txt", "a\\b", "", "   "] {
            let err = file(json!({"name": name, "content_type": "text/plain", "content": "aGk="}))
                .unwrap_err();
            assert!(err.starts_with("`name`"), "{name:?}: {err}");
        }
        for kind in [
            "text",
            "text/plain; charset=utf-8",
            "text/pla\r\nin",
            "/x",
            "",
        ] {
            let err = file(json!({"name": "a.txt", "content_type": kind, "content": "aGk="}))
                .unwrap_err();
            assert!(err.starts_with("`content_type`"), "{kind:?}: {err}");
        }
        let err =
            file(json!({"name": "a.txt", "content_type": "text/plain", "content": "not base64!"}))
                .unwrap_err();
        assert!(err.starts_with("`content` is not base64"), "{err}");
    }

    #[test]
    fn the_form_is_laid_out_as_the_sdk_lays_it_out() {
        let f = file(json!({"name": "a.txt", "content_type": "text/plain", "content": "aGk="}))
            .unwrap();
        let form = Multipart::with_boundary("file", &f, "B0");
        assert_eq!(form.content_type, "multipart/form-data; boundary=B0");
        assert_eq!(
            &form.body[..],
            b"--B0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B0--\r\n"
        );
        let random = Multipart::with_file("file", &f);
        assert_eq!(random.boundary().len(), 32);
        assert!(!contains(&f.data, random.boundary().as_bytes()));
    }
}
