//! `bundle --out FILE [--binary PATH]`: the Claude Desktop extension (`.mcpb`), a zip holding
//! `manifest.json` (from `mcpb/manifest.json`) and this platform's binary under `server/`.
//! The archive is written here, stored without compression: a zip needs no more than local
//! headers, the data, a central directory and CRC-32s.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use serde_json::Value;

/// The manifest, as kept in the repository.
pub const MANIFEST: &str = include_str!("../../mcpb/manifest.json");

/// The platform names MCPB uses (Node's `process.platform`).
fn platform() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    }
}

/// The binary's path inside the bundle; the manifest's `entry_point` names it, and hosts add
/// `.exe` on Windows themselves.
fn entry_point() -> String {
    format!("server/livechat-mcp{}", std::env::consts::EXE_SUFFIX)
}

/// The manifest that goes in the bundle: the repository's, limited to this platform, since
/// the bundle carries this platform's binary only.
pub fn manifest_for_this_platform() -> Result<Vec<u8>, String> {
    let mut manifest: Value = serde_json::from_str(MANIFEST)
        .map_err(|e| format!("mcpb/manifest.json is not JSON: {e}"))?;
    let compatibility = manifest
        .as_object_mut()
        .ok_or("mcpb/manifest.json is not an object")?
        .entry("compatibility")
        .or_insert_with(|| Value::Object(Default::default()));
    compatibility["platforms"] = serde_json::json!([platform()]);
    let mut text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    text.push(b'\n');
    Ok(text)
}

/// Builds the bundle at `out` from `binary` (default: this executable).
pub fn run(out: &Path, binary: Option<&Path>) -> ExitCode {
    match build(out, binary) {
        Ok(size) => {
            eprintln!(
                "livechat-mcp: wrote {} ({size} bytes) for {}; open it with Claude Desktop (Settings → Extensions) to install",
                out.display(),
                platform()
            );
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}

fn build(out: &Path, binary: Option<&Path>) -> Result<u64, String> {
    let binary: PathBuf = match binary {
        Some(path) => path.to_path_buf(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find this executable (pass --binary PATH): {e}"))?,
    };
    let program = std::fs::read(&binary)
        .map_err(|e| format!("cannot read the binary {}: {e}", binary.display()))?;
    let manifest = manifest_for_this_platform()?;
    let mut zip = Zip::with_capacity(program.len() + manifest.len() + 512);
    zip.add("manifest.json", &manifest, 0o644)?;
    zip.add(&entry_point(), &program, 0o755)?;
    let bytes = zip.finish()?;
    std::fs::write(out, &bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(bytes.len() as u64)
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zip uses; eight bytes a step
/// ("slicing by 8"), since the binary it runs over is tens of megabytes.
pub fn crc32(data: &[u8]) -> u32 {
    // A `static`, not a `const`: a const table would be copied at every lookup in debug builds.
    static TABLES: [[u32; 256]; 8] = {
        let mut tables = [[0u32; 256]; 8];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            tables[0][i] = c;
            i += 1;
        }
        let mut t = 1;
        while t < 8 {
            let mut i = 0;
            while i < 256 {
                let prev = tables[t - 1][i];
                tables[t][i] = (prev >> 8) ^ tables[0][(prev & 0xFF) as usize];
                i += 1;
            }
            t += 1;
        }
        tables
    };
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let lo = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ crc;
        let hi = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        crc = TABLES[7][(lo & 0xFF) as usize]
            ^ TABLES[6][((lo >> 8) & 0xFF) as usize]
            ^ TABLES[5][((lo >> 16) & 0xFF) as usize]
            ^ TABLES[4][(lo >> 24) as usize]
            ^ TABLES[3][(hi & 0xFF) as usize]
            ^ TABLES[2][((hi >> 8) & 0xFF) as usize]
            ^ TABLES[1][((hi >> 16) & 0xFF) as usize]
            ^ TABLES[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = TABLES[0][((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// A zip archive of stored (uncompressed) entries, built in memory. Times are the DOS epoch
/// (1980-01-01), so the same inputs give the same bytes.
#[derive(Default)]
pub struct Zip {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

/// "Made by" Unix (3), zip 2.0: the external attributes then carry the file's mode.
const MADE_BY_UNIX: u16 = (3 << 8) | 20;
const NEEDED: u16 = 20;
/// 1980-01-01 00:00 in DOS date/time.
const DOS_DATE: u16 = (1 << 5) | 1;

impl Zip {
    /// An empty archive whose entries will take about `bytes`.
    pub fn with_capacity(bytes: usize) -> Zip {
        Zip {
            out: Vec::with_capacity(bytes),
            ..Zip::default()
        }
    }

    /// Adds `data` as `name` with Unix permissions `mode`.
    pub fn add(&mut self, name: &str, data: &[u8], mode: u32) -> Result<(), String> {
        let too_big = || format!("{name} is too large for a zip without ZIP64");
        let size = u32::try_from(data.len()).map_err(|_| too_big())?;
        let offset = u32::try_from(self.out.len()).map_err(|_| too_big())?;
        let name_len = u16::try_from(name.len()).map_err(|_| format!("{name}: name too long"))?;
        self.entries = self.entries.checked_add(1).ok_or("too many entries")?;
        let crc = crc32(data);
        let mut common = Vec::with_capacity(26);
        common.extend_from_slice(&NEEDED.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // flags
        common.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        common.extend_from_slice(&0u16.to_le_bytes()); // time
        common.extend_from_slice(&DOS_DATE.to_le_bytes());
        common.extend_from_slice(&crc.to_le_bytes());
        common.extend_from_slice(&size.to_le_bytes()); // compressed
        common.extend_from_slice(&size.to_le_bytes()); // uncompressed
        common.extend_from_slice(&name_len.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra length

        self.out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&common);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(data);

        self.central
            .extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        self.central.extend_from_slice(&MADE_BY_UNIX.to_le_bytes());
        self.central.extend_from_slice(&common);
        self.central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.central.extend_from_slice(&0u16.to_le_bytes()); // disk
        self.central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        let external = (0o100_000 | mode) << 16; // a regular file, and its mode
        self.central.extend_from_slice(&external.to_le_bytes());
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        Ok(())
    }

    /// The archive's bytes: the entries, the central directory and its end record.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        let too_big = || "the archive is too large for a zip without ZIP64".to_string();
        let start = u32::try_from(self.out.len()).map_err(|_| too_big())?;
        let length = u32::try_from(self.central.len()).map_err(|_| too_big())?;
        self.out.extend_from_slice(&self.central);
        self.out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes()); // this disk
        self.out.extend_from_slice(&0u16.to_le_bytes()); // the directory's disk
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&length.to_le_bytes());
        self.out.extend_from_slice(&start.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes()); // comment length
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        // Past one eight-byte step, and with a remainder.
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn the_bundled_manifest_names_this_platform_and_the_entry_point() {
        let manifest: Value =
            serde_json::from_slice(&manifest_for_this_platform().unwrap()).unwrap();
        assert_eq!(
            manifest["compatibility"]["platforms"],
            serde_json::json!([platform()])
        );
        assert_eq!(manifest["server"]["entry_point"], "server/livechat-mcp");
        assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    }
}
