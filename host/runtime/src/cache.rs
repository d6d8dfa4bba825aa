//! The compilation cache in the data directory, checked before use.
//!
//! A compiled component is native code that wasmtime runs as is, so a cache file is only
//! loaded when it is authentic: each artifact is stored with an HMAC-SHA256 tag under a
//! per-install key (`cache.key`, 32 random bytes, created `0600`), over the artifact's name
//! (which is the hash of the engine settings and the component's bytes) and its contents.
//! Someone who can write the cache directory but not read the key (another user, a shared
//! volume, a restored backup from elsewhere) cannot plant or swap code: a file with a wrong
//! tag, or one not owned by weft's user or writable by others, is ignored, the component
//! is compiled again and the file replaced. A key that is not private (not owned by weft's
//! user, or readable or writable by others) is not trusted: the cache is then not used at
//! all (a warning says why) and plugins are compiled at every start.
//!
//! Layout: `<dir>/cache.key`, `<dir>/<64 hex digits>.cwasm` = 32-byte tag ‖ artifact.

use std::fs;
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

type HmacSha256 = Hmac<Sha256>;

/// The key file's name in the cache directory.
pub const KEY_FILE: &str = "cache.key";
/// Bytes of the HMAC tag in front of each artifact.
const TAG_BYTES: usize = 32;

/// An open, checked compilation cache.
pub struct CompileCache {
    dir: PathBuf,
    key: [u8; 32],
    /// SHA-256 of the engine's compatibility hash (target, settings, wasmtime version).
    engine_hash: [u8; 32],
}

/// What happened to one component (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from an authentic cache file.
    Hit,
    /// Compiled; the artifact was written.
    Stored,
    /// A cache file was there but not trusted (wrong tag, owner or permissions, or not
    /// loadable): compiled again and replaced.
    Replaced,
}

impl CompileCache {
    /// Opens (creating if needed) the cache in `dir`. `Ok(None)`: the cache exists but its
    /// key cannot be trusted, so it is not used (logged as a warning).
    pub fn open(dir: &Path, engine: &Engine) -> Result<Option<CompileCache>, String> {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        restrict_dir(dir);
        let key_path = dir.join(KEY_FILE);
        let key = match read_key(&key_path) {
            Ok(Some(key)) => key,
            Ok(None) => create_key(&key_path)?,
            Err(why) => {
                tracing::warn!(
                    path = %key_path.display(),
                    "compilation cache not used: {why}; plugins are compiled at every start (remove the cache directory to start a fresh one)"
                );
                return Ok(None);
            }
        };
        let mut hasher = Sha256Hasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        Ok(Some(CompileCache {
            dir: dir.to_path_buf(),
            key,
            engine_hash: hasher.0.finalize().into(),
        }))
    }

    /// The cache file of a component.
    pub fn artifact_path(&self, wasm: &[u8]) -> PathBuf {
        let mut hash = Sha256::new();
        hash.update(self.engine_hash);
        hash.update(wasm);
        self.dir
            .join(format!("{}.cwasm", hex::encode(hash.finalize())))
    }

    fn tag(&self, name: &str, artifact: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key size");
        mac.update(&(name.len() as u64).to_be_bytes());
        mac.update(name.as_bytes());
        mac.update(artifact);
        mac
    }

    /// Loads the component from the cache if an authentic artifact is there, otherwise
    /// compiles it and stores the artifact.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> Result<(Component, CacheOutcome), String> {
        let path = self.artifact_path(wasm);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let mut outcome = CacheOutcome::Stored;
        match self.read_checked(&path, &name) {
            Ok(None) => {}
            Ok(Some(artifact)) => {
                // SAFETY: the artifact carries this install's HMAC tag, so it was written
                // by `store` below from `Component::serialize` of this engine (the name
                // covers the engine's compatibility hash and the component's bytes).
                #[allow(unsafe_code)]
                match unsafe { Component::deserialize(engine, &artifact) } {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), "compilation cache: cannot load an artifact ({e:#}); compiling again");
                        outcome = CacheOutcome::Replaced;
                    }
                }
            }
            Err(why) => {
                tracing::warn!(path = %path.display(), "compilation cache: ignoring an artifact: {why}; compiling again");
                outcome = CacheOutcome::Replaced;
            }
        }
        let component = Component::new(engine, wasm)
            .map_err(|e| format!("not a valid WebAssembly component: {e:#}"))?;
        match component.serialize() {
            Ok(artifact) => {
                if let Err(e) = self.store(&path, &name, &artifact) {
                    tracing::warn!(path = %path.display(), "compilation cache: cannot write an artifact: {e}");
                }
            }
            Err(e) => tracing::warn!("compilation cache: cannot serialize a component: {e:#}"),
        }
        Ok((component, outcome))
    }

    /// The artifact at `path` if it exists and is trusted; `Err` says why it is not.
    fn read_checked(&self, path: &Path, name: &str) -> Result<Option<Vec<u8>>, String> {
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
        check_private(&meta, false)?;
        let bytes = fs::read(path).map_err(|e| e.to_string())?;
        if bytes.len() < TAG_BYTES {
            return Err("truncated".into());
        }
        let (tag, artifact) = bytes.split_at(TAG_BYTES);
        self.tag(name, artifact)
            .verify_slice(tag)
            .map_err(|_| "its integrity tag does not match (not written by this install)")?;
        Ok(Some(artifact.to_vec()))
    }

    /// Writes `tag ‖ artifact` to `path` (mode 0600, through a temporary file and a rename,
    /// so a reader never sees half a file and an untrusted file is replaced, not appended).
    fn store(&self, path: &Path, name: &str, artifact: &[u8]) -> std::io::Result<()> {
        let tag = self.tag(name, artifact).finalize().into_bytes();
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let mut file = create_private(&tmp)?;
        file.write_all(&tag)?;
        file.write_all(artifact)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }
}

/// Feeds `std::hash::Hash` output into SHA-256 (for the engine's compatibility hash).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The key, if the file exists; `Err` when it exists but is not private or not a key.
fn read_key(path: &Path) -> Result<Option<[u8; 32]>, String> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read its key: {e}")),
    };
    if !meta.is_file() {
        return Err(format!("{KEY_FILE} is not a regular file"));
    }
    check_private(&meta, true).map_err(|why| format!("its key {why}"))?;
    let bytes = fs::read(path).map_err(|e| format!("cannot read its key: {e}"))?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| format!("{KEY_FILE} is not a 32-byte key"))?;
    Ok(Some(key))
}

/// Creates a fresh random key (mode 0600; fails if the file appeared meanwhile).
fn create_key(path: &Path) -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    let mut file =
        create_private(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(&key)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

/// Creates a new file readable and writable by its owner only.
fn create_private(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes a cache directory we own accessible to its owner only.
fn restrict_dir(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if let Ok(meta) = fs::metadata(dir)
            && meta.uid() == effective_uid()
            && meta.mode() & 0o077 != 0
        {
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Whether a cache file is owned by this process's user and not writable (nor, for the
/// key, readable) by anyone else.
fn check_private(meta: &fs::Metadata, secret: bool) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = effective_uid();
        if meta.uid() != uid {
            return Err(format!(
                "is owned by uid {}, not weft's user (uid {uid})",
                meta.uid()
            ));
        }
        let forbidden = if secret { 0o077 } else { 0o022 };
        if meta.mode() & forbidden != 0 {
            return Err(format!(
                "has mode {:o}: {} by others",
                meta.mode() & 0o777,
                if secret { "accessible" } else { "writable" }
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (meta, secret);
    Ok(())
}

#[cfg(unix)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::geteuid()
    }
}
