//! `upload_file`: a `multipart/form-data` form whose `file` part is kept in memory under a URL
//! shaped like LiveChat's CDN URLs, with LiveChat's refusals (10 MB, executables). A `file`
//! event sent with that URL shows the file's name and content type (and size, for images), as
//! LiveChat's file events do.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    error::{LcError, LcResult},
    multipart::Form,
    state::State,
};

/// "Maximum size: 10MB" (docs, `upload_file`), read as 10 MiB.
pub const MAX_UPLOAD_BYTES: usize = 10 << 20;

/// The bytes of uploads the sandbox keeps at most; older uploads are dropped to make room.
const KEPT_BYTES: usize = 64 << 20;

/// Where uploads are served from, as in the docs' example answer.
const CDN: &str = "https://cdn.livechat-files.com/api/file/lc/att";

/// The sandbox license's number in upload URLs.
const LICENSE: &str = "8948324";

/// One uploaded file. The bytes are shared, so the state's copy per call stays cheap.
#[derive(Clone, Debug)]
pub struct Upload {
    pub name: String,
    pub content_type: String,
    pub data: Arc<[u8]>,
    /// Upload order, to drop the oldest first.
    pub seq: u64,
}

/// File name endings LiveChat's "executable files are rejected" is read as here.
const EXECUTABLE_ENDINGS: &[&str] = &[
    ".exe", ".com", ".bat", ".cmd", ".msi", ".scr", ".pif", ".cpl", ".dll", ".vbs", ".jar", ".apk",
    ".ps1", ".hta", ".wsf",
];

impl State {
    /// `upload_file`: the form must have a `file` part with a file name.
    pub(super) fn upload_file(&mut self, form: &Form) -> LcResult<Value> {
        if let Some(other) = form.parts.iter().find(|p| p.name != "file") {
            return Err(LcError::validation(format!(
                "`{}` is not a field of `upload_file`; expected one of: file",
                other.name
            )));
        }
        let Some(file) = form.part("file") else {
            return Err(LcError::validation("`file` is required"));
        };
        let Some(name) = file.filename.as_deref().filter(|n| !n.is_empty()) else {
            return Err(LcError::validation(
                "`file` must be a file, sent with a file name",
            ));
        };
        if file.data.len() > MAX_UPLOAD_BYTES {
            return Err(LcError::new(
                "entity_too_large",
                "Upload limit exceeded (10MB).",
            ));
        }
        if file.data.is_empty() {
            return Err(LcError::validation("`file` is empty"));
        }
        let lower = name.to_ascii_lowercase();
        let program = file.data.starts_with(b"MZ")
            || file.data.starts_with(b"\x7fELF")
            || file.data.starts_with(&[0xcf, 0xfa, 0xed, 0xfe])
            || file.data.starts_with(&[0xfe, 0xed, 0xfa, 0xcf]);
        if program || EXECUTABLE_ENDINGS.iter().any(|e| lower.ends_with(e)) {
            return Err(LcError::validation("Executable files are rejected"));
        }
        let content_type = file
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_string());
        let url = format!("{CDN}/{LICENSE}/{}/{}", self.ids.hex32(), url_segment(name));
        self.upload_seq += 1;
        let upload = Upload {
            name: name.to_string(),
            content_type,
            data: Arc::from(file.data.as_slice()),
            seq: self.upload_seq,
        };
        self.uploads.insert(url.clone(), upload);
        self.forget_old_uploads();
        Ok(json!({ "url": url }))
    }

    /// The uploaded file at `url`, if the sandbox made that URL.
    pub(super) fn upload(&self, url: &str) -> Option<&Upload> {
        self.uploads.get(url)
    }

    fn forget_old_uploads(&mut self) {
        let mut kept: usize = self.uploads.values().map(|u| u.data.len()).sum();
        while kept > KEPT_BYTES {
            let Some(oldest) = self
                .uploads
                .iter()
                .min_by_key(|(_, u)| u.seq)
                .map(|(url, _)| url.clone())
            else {
                break;
            };
            if let Some(gone) = self.uploads.remove(&oldest) {
                kept -= gone.data.len();
            }
        }
    }
}

/// A file name as one URL path segment: unreserved characters as they are, the rest
/// percent-encoded.
fn url_segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
