//! OCI images without Docker: what `berth build` assembles.
//!
//! For each platform, the image is the runtime base image (read from an OCI image layout, as
//! `crane pull --format=oci` writes it) plus one gzip-compressed layer holding the daemon's
//! binary (and, for every base but distroless, the CA bundle), with the configuration the
//! generated Dockerfile gives its image ([`crate::render::docker::image_config`]). The images of
//! all platforms go into one OCI image index: a multi-arch image.
//!
//! Everything here is pure file work (tar, gzip, SHA-256, OCI JSON) and deterministic: the same
//! binaries and base give the same digests. Registry traffic (pulling the base, pushing the
//! result) is `crane`'s job, driven by [`crate::commands::build`].
//!
//! ```no_run
//! use berth::image::{Layer, OciLayout};
//! let layout = OciLayout::create(std::path::Path::new("out"))?;
//! let mut layer = Layer::new();
//! layer.file("usr/local/bin/hello", 0o755, b"\x7fELF...".to_vec());
//! let tar = layer.into_tar();
//! let blob = layout.write_blob(&berth::image::gzip(&tar)?)?;
//! println!("layer sha256:{} (diff_id sha256:{})", blob.hex, berth::output::sha256_hex(&tar));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::output::sha256_hex;
use crate::render::docker::ImageConfig;
use crate::spec::Platform;

/// OCI media type of an image index.
pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI media type of an image manifest.
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI media type of an image configuration.
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI media type of an uncompressed layer.
pub const MEDIA_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI media type of a gzip-compressed layer (what berth writes).
pub const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The gzip level of berth's layer (fixed: the same tar always compresses to the same bytes).
pub const LAYER_GZIP_LEVEL: u32 = 9;
/// Docker's manifest list and manifest media types (base images pushed by Docker use them).
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// Errors of image assembly.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Reading or writing a file of a layout failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A layout or blob does not hold what the OCI specification says it must.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The base image is for another platform than the one being built.
    #[error("the base image {reference} is {found}, not {wanted}")]
    WrongPlatform {
        /// The base image.
        reference: String,
        /// Its platform.
        found: String,
        /// The platform being built.
        wanted: Platform,
    },
    /// A binary is not an ELF executable of the platform it is packaged for.
    #[error("{path} is {found}, not a {wanted} executable")]
    WrongBinary {
        /// The binary.
        path: PathBuf,
        /// What it is.
        found: String,
        /// The platform being built.
        wanted: Platform,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A content-addressed blob: its SHA-256 (hex) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Lower-case hex SHA-256 of the content.
    pub hex: String,
    /// Size in bytes.
    pub size: u64,
}

impl Blob {
    /// `sha256:<hex>`.
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.hex)
    }

    fn of(bytes: &[u8]) -> Blob {
        Blob {
            hex: sha256_hex(bytes),
            size: bytes.len() as u64,
        }
    }
}

/// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/`).
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Creates (or reuses) the layout directory `root`.
    pub fn create(root: &Path) -> Result<OciLayout, ImageError> {
        let blobs = root.join("blobs/sha256");
        fs::create_dir_all(&blobs).map_err(io_error(&blobs))?;
        let marker = root.join("oci-layout");
        fs::write(&marker, "{\"imageLayoutVersion\":\"1.0.0\"}\n").map_err(io_error(&marker))?;
        Ok(OciLayout {
            root: root.to_path_buf(),
        })
    }

    /// Opens an existing layout (one with an `index.json`).
    pub fn open(root: &Path) -> Result<OciLayout, ImageError> {
        let index = root.join("index.json");
        if !index.is_file() {
            return Err(ImageError::Invalid {
                path: index,
                message: "missing: not an OCI image layout".into(),
            });
        }
        Ok(OciLayout {
            root: root.to_path_buf(),
        })
    }

    /// The layout's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex)
    }

    /// Stores `bytes` as a blob (atomically; an existing blob is kept).
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Blob, ImageError> {
        let blob = Blob::of(bytes);
        let path = self.blob_path(&blob.hex);
        if !path.exists() {
            let dir = self.root.join("blobs/sha256");
            let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io_error(&dir))?;
            io::Write::write_all(&mut tmp, bytes).map_err(io_error(&path))?;
            tmp.persist(&path).map_err(|e| ImageError::Io {
                path: path.clone(),
                source: e.error,
            })?;
        }
        Ok(blob)
    }

    /// Reads the blob `digest` (`sha256:<hex>`) and checks its content against the digest.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let hex = hex_of(digest).ok_or_else(|| ImageError::Invalid {
            path: self.root.clone(),
            message: format!("unsupported digest '{digest}'"),
        })?;
        let path = self.blob_path(hex);
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        if sha256_hex(&bytes) != hex {
            return Err(ImageError::Invalid {
                path,
                message: "content does not match its digest".into(),
            });
        }
        Ok(bytes)
    }

    /// Copies the blob `digest` of `other` into this layout (a hard link when possible).
    pub fn copy_blob_from(&self, other: &OciLayout, digest: &str) -> Result<(), ImageError> {
        let hex = hex_of(digest).ok_or_else(|| ImageError::Invalid {
            path: other.root.clone(),
            message: format!("unsupported digest '{digest}'"),
        })?;
        let to = self.blob_path(hex);
        if to.exists() {
            return Ok(());
        }
        let from = other.blob_path(hex);
        if fs::hard_link(&from, &to).is_err() {
            fs::copy(&from, &to).map_err(io_error(&from))?;
        }
        Ok(())
    }

    fn read_json(&self, path: &Path, bytes: &[u8]) -> Result<Value, ImageError> {
        serde_json::from_slice(bytes).map_err(|e| ImageError::Invalid {
            path: path.to_path_buf(),
            message: format!("not JSON: {e}"),
        })
    }

    /// Writes `index.json` listing `manifests` (descriptors with their platforms).
    pub fn write_index(&self, manifests: &[Value]) -> Result<Blob, ImageError> {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": manifests,
        });
        let bytes = to_json(&index);
        let path = self.root.join("index.json");
        let dir = self.root.clone();
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io_error(&dir))?;
        io::Write::write_all(&mut tmp, &bytes).map_err(io_error(&path))?;
        tmp.persist(&path).map_err(|e| ImageError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(Blob::of(&bytes))
    }

    /// The one image of this layout for `platform`: `index.json` may point at a manifest or
    /// at an index (nested indexes are followed) whose entries carry platforms.
    pub fn image_for(&self, platform: Platform) -> Result<BaseImage, ImageError> {
        let index_path = self.root.join("index.json");
        let bytes = fs::read(&index_path).map_err(io_error(&index_path))?;
        let index = self.read_json(&index_path, &bytes)?;
        let mut candidates: Vec<Value> = descriptors(&index);
        let mut seen = BTreeSet::new();
        while let Some(descriptor) = candidates.pop() {
            let digest = descriptor["digest"].as_str().unwrap_or_default().to_owned();
            if !seen.insert(digest.clone()) {
                continue;
            }
            let media = descriptor["mediaType"].as_str().unwrap_or_default();
            if let Some(p) = descriptor.get("platform")
                && !platform_matches(p, platform)
            {
                continue;
            }
            let bytes = self.read_blob(&digest)?;
            let path = self.blob_path(hex_of(&digest).unwrap_or_default());
            let value = self.read_json(&path, &bytes)?;
            let is_index = media == MEDIA_INDEX
                || media == DOCKER_MANIFEST_LIST
                || value.get("manifests").is_some();
            if is_index {
                candidates.extend(descriptors(&value));
                continue;
            }
            if media != MEDIA_MANIFEST && media != DOCKER_MANIFEST && !media.is_empty() {
                continue;
            }
            let config_digest = value["config"]["digest"].as_str().unwrap_or_default();
            let config_bytes = self.read_blob(config_digest)?;
            let config = self.read_json(&path, &config_bytes)?;
            if !platform_matches(&config, platform) {
                continue;
            }
            let layers = value["layers"].as_array().cloned().unwrap_or_default();
            return Ok(BaseImage {
                config,
                layers: layers.into_iter().map(oci_layer_descriptor).collect(),
            });
        }
        Err(ImageError::Invalid {
            path: index_path,
            message: format!("holds no image for {platform}"),
        })
    }
}

fn descriptors(index: &Value) -> Vec<Value> {
    let mut list = index["manifests"].as_array().cloned().unwrap_or_default();
    // Popped from the end: keep the index's order.
    list.reverse();
    list
}

fn platform_matches(value: &Value, platform: Platform) -> bool {
    value["os"].as_str() == Some(platform.os())
        && value["architecture"].as_str() == Some(platform.arch())
}

/// Docker's layer media types become their OCI equivalents (same bytes).
fn oci_layer_descriptor(mut descriptor: Value) -> Value {
    let media = descriptor["mediaType"].as_str().unwrap_or_default();
    let oci = match media {
        DOCKER_LAYER_GZIP => Some(MEDIA_LAYER_GZIP),
        DOCKER_LAYER_TAR => Some(MEDIA_LAYER_TAR),
        _ => None,
    };
    if let Some(oci) = oci {
        descriptor["mediaType"] = json!(oci);
    }
    descriptor
}

fn hex_of(digest: &str) -> Option<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Compact JSON, the bytes that get hashed.
fn to_json(value: &Value) -> Vec<u8> {
    // Serializing a Value cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// A base image read from a layout: its configuration and layer descriptors.
#[derive(Debug, Clone)]
pub struct BaseImage {
    /// The image configuration (Docker's or OCI's; the same JSON shape).
    pub config: Value,
    /// Layer descriptors, bottom first, with OCI media types.
    pub layers: Vec<Value>,
}

impl BaseImage {
    /// `scratch`: no layers, an empty configuration for `platform`.
    pub fn scratch(platform: Platform) -> BaseImage {
        BaseImage {
            config: json!({
                "architecture": platform.arch(),
                "os": platform.os(),
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            }),
            layers: Vec::new(),
        }
    }
}

/// A layer being built: directories and regular files, written as a deterministic tar
/// (owner root, modification time 0, entries sorted by path).
#[derive(Debug, Default, Clone)]
pub struct Layer {
    entries: std::collections::BTreeMap<String, (u32, Option<Vec<u8>>)>,
}

impl Layer {
    /// An empty layer.
    pub fn new() -> Layer {
        Layer::default()
    }

    /// Adds a regular file at `path` (relative, `/`-separated) with its parent directories
    /// (mode 0755).
    pub fn file(&mut self, path: &str, mode: u32, contents: Vec<u8>) {
        let path = path.trim_start_matches('/');
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map_or(&[][..], |(_, p)| p)
        {
            parent.push_str(part);
            parent.push('/');
            self.entries.entry(parent.clone()).or_insert((0o755, None));
        }
        self.entries.insert(path.to_owned(), (mode, Some(contents)));
    }

    /// The layer as an uncompressed tar archive.
    pub fn into_tar(self) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, (mode, contents)) in self.entries {
            let size = contents.as_ref().map_or(0, Vec::len);
            out.extend_from_slice(&tar_header(&path, mode, size as u64, contents.is_none()));
            if let Some(bytes) = contents {
                out.extend_from_slice(&bytes);
                out.resize(out.len().next_multiple_of(512), 0);
            }
        }
        out.resize(out.len() + 1024, 0);
        out
    }
}

/// `tar` gzip-compressed at [`LAYER_GZIP_LEVEL`], reproducibly: the header carries no file
/// name, no comment, modification time 0 and operating system 255 ("unknown"), so the same
/// input gives the same bytes (and digest) on every machine and every run.
pub fn gzip(tar: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(
            Vec::with_capacity(tar.len() / 2),
            flate2::Compression::new(LAYER_GZIP_LEVEL),
        );
    io::Write::write_all(&mut encoder, tar)?;
    encoder.finish()
}

/// A ustar header. A path longer than 100 bytes is split at a `/` into the 155-byte prefix
/// field and the name (a directory's trailing `/` is dropped then). berth's own paths
/// (`/usr/local/bin/` + a Cargo name of at most 64 bytes, the CA bundle) always fit.
fn tar_header(path: &str, mode: u32, size: u64, dir: bool) -> [u8; 512] {
    let mut h = [0u8; 512];
    let path = if dir && path.len() > 100 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let (prefix, name) = if path.len() <= 100 {
        ("", path)
    } else {
        path.char_indices()
            .filter(|&(i, c)| c == '/' && i <= 155 && (1..=100).contains(&(path.len() - i - 1)))
            .map(|(i, _)| (&path[..i], &path[i + 1..]))
            .next()
            .unwrap_or(("", path))
    };
    let put = |h: &mut [u8; 512], at: usize, len: usize, bytes: &[u8]| {
        let n = bytes.len().min(len);
        h[at..at + n].copy_from_slice(&bytes[..n]);
    };
    put(&mut h, 0, 100, name.as_bytes());
    put(&mut h, 100, 8, format!("{mode:07o}\0").as_bytes());
    put(&mut h, 108, 8, b"0000000\0");
    put(&mut h, 116, 8, b"0000000\0");
    put(&mut h, 124, 12, format!("{size:011o}\0").as_bytes());
    put(&mut h, 136, 12, b"00000000000\0");
    h[156] = if dir { b'5' } else { b'0' };
    put(&mut h, 257, 8, b"ustar\x0000");
    put(&mut h, 265, 32, b"root");
    put(&mut h, 297, 32, b"root");
    put(&mut h, 345, 155, prefix.as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// Checks that `bytes` is an ELF executable for `platform` (class, byte order, machine).
pub fn check_elf(path: &Path, bytes: &[u8], platform: Platform) -> Result<(), ImageError> {
    let found = describe_elf(bytes);
    if found == platform.elf_description() {
        Ok(())
    } else {
        Err(ImageError::WrongBinary {
            path: path.to_path_buf(),
            found,
            wanted: platform,
        })
    }
}

/// `ELF 64-bit LSB x86-64`, `ELF 64-bit LSB AArch64`, ... or `not an ELF file`.
pub fn describe_elf(bytes: &[u8]) -> String {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return "not an ELF file".into();
    }
    let class = match bytes[4] {
        1 => "32-bit",
        2 => "64-bit",
        _ => "?-bit",
    };
    let (order, machine) = match bytes[5] {
        1 => ("LSB", u16::from_le_bytes([bytes[18], bytes[19]])),
        2 => ("MSB", u16::from_be_bytes([bytes[18], bytes[19]])),
        _ => ("?SB", 0),
    };
    let machine = match machine {
        0x3e => "x86-64".to_owned(),
        0xb7 => "AArch64".to_owned(),
        0x28 => "ARM".to_owned(),
        0x03 => "i386".to_owned(),
        other => format!("machine 0x{other:x}"),
    };
    format!("ELF {class} {order} {machine}")
}

/// One platform's image as written to a layout.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// The platform.
    pub platform: Platform,
    /// The manifest blob.
    pub manifest: Blob,
    /// The configuration blob.
    pub config: Blob,
    /// The layer berth added, as stored and pulled (gzip).
    pub layer: Blob,
    /// The same layer uncompressed: its digest is the configuration's `diff_id`.
    pub layer_tar: Blob,
    /// Every layer's size plus the configuration: what a pull transfers.
    pub total_size: u64,
}

impl BuiltImage {
    /// The descriptor of this image in an index.
    pub fn descriptor(&self) -> Value {
        json!({
            "mediaType": MEDIA_MANIFEST,
            "digest": self.manifest.digest(),
            "size": self.manifest.size,
            "platform": {"architecture": self.platform.arch(), "os": self.platform.os()},
        })
    }
}

/// The image configuration: `base`'s, with the settings of `image` applied as the Dockerfile's
/// instructions apply them (ENTRYPOINT resets an inherited CMD; ENV replaces a variable of the
/// same name; LABEL adds), one more layer (`diff_id`) and a history entry. `created` is an RFC
/// 3339 time (fixed, for reproducible digests).
pub fn image_config_json(
    base: &Value,
    image: &ImageConfig,
    platform: Platform,
    diff_id: &str,
    created: &str,
) -> Value {
    let mut out = base.clone();
    let Some(top) = out.as_object_mut() else {
        return out;
    };
    // Describe the base's build container, not this image.
    for key in ["container", "container_config", "docker_version", "variant"] {
        top.remove(key);
    }
    top.insert("architecture".into(), json!(platform.arch()));
    top.insert("os".into(), json!(platform.os()));
    top.insert("created".into(), json!(created));
    let config = top
        .entry("config")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    top.insert("config".into(), Value::Object(apply(config, image)));

    let rootfs = top
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
    if let Some(ids) = rootfs["diff_ids"].as_array_mut() {
        ids.push(json!(diff_id));
    } else {
        *rootfs = json!({"type": "layers", "diff_ids": [diff_id]});
    }
    let history = top.entry("history").or_insert_with(|| json!([]));
    if let Some(list) = history.as_array_mut() {
        list.push(json!({
            "created": created,
            "created_by": format!("berth build: {}", image.binary_path),
            "comment": "berth build",
        }));
    }
    out
}

fn apply(mut config: Map<String, Value>, image: &ImageConfig) -> Map<String, Value> {
    // Labels: the base's, then ours.
    let mut labels = config
        .get("Labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in &image.labels {
        labels.insert(k.clone(), json!(v));
    }
    config.insert("Labels".into(), Value::Object(labels));

    // Env: the base's, a variable set again replaced in place, new ones appended.
    let mut env: Vec<String> = config
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for (name, value) in &image.env {
        let item = format!("{name}={value}");
        let prefix = format!("{name}=");
        match env.iter_mut().find(|e| e.starts_with(&prefix)) {
            Some(existing) => *existing = item,
            None => env.push(item),
        }
    }
    config.insert("Env".into(), json!(env));

    config.insert("User".into(), json!(image.user));
    let mut ports = config
        .get("ExposedPorts")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for port in &image.exposed_ports {
        let key = if port.contains('/') {
            port.clone()
        } else {
            format!("{port}/tcp")
        };
        ports.insert(key, json!({}));
    }
    config.insert("ExposedPorts".into(), Value::Object(ports));
    config.insert("StopSignal".into(), json!(image.stop_signal));
    let check = &image.healthcheck;
    let mut test = vec!["CMD".to_owned()];
    test.extend(check.test.iter().cloned());
    let ns = |secs: u64| secs * 1_000_000_000;
    config.insert(
        "Healthcheck".into(),
        json!({
            "Test": test,
            "Interval": ns(check.interval_secs),
            "Timeout": ns(check.timeout_secs),
            "StartPeriod": ns(check.start_period_secs),
            "Retries": check.retries,
        }),
    );
    config.insert("Entrypoint".into(), json!(image.entrypoint));
    // Setting ENTRYPOINT drops the base's CMD; CMD (the args) comes after it.
    match &image.cmd {
        Some(cmd) => config.insert("Cmd".into(), json!(cmd)),
        None => config.remove("Cmd"),
    };
    config
}

/// Writes one platform's image into `layout`: copies the base layers from `base_layout` (none
/// for scratch), adds `layer` (an uncompressed tar, stored gzip-compressed, its digest the
/// `diff_id`), writes the configuration and the manifest.
pub fn write_image(
    layout: &OciLayout,
    base_layout: Option<&OciLayout>,
    base: &BaseImage,
    image: &ImageConfig,
    platform: Platform,
    layer: Vec<u8>,
    created: &str,
) -> Result<BuiltImage, ImageError> {
    if !platform_matches(&base.config, platform) {
        return Err(ImageError::WrongPlatform {
            reference: "runtime".into(),
            found: format!(
                "{}/{}",
                base.config["os"].as_str().unwrap_or("?"),
                base.config["architecture"].as_str().unwrap_or("?")
            ),
            wanted: platform,
        });
    }
    let mut total: u64 = 0;
    if let Some(from) = base_layout {
        for descriptor in &base.layers {
            let digest = descriptor["digest"].as_str().unwrap_or_default();
            layout.copy_blob_from(from, digest)?;
            total += descriptor["size"].as_u64().unwrap_or(0);
        }
    }
    let layer_tar = Blob::of(&layer);
    let compressed = gzip(&layer).map_err(io_error(layout.root()))?;
    let layer_blob = layout.write_blob(&compressed)?;
    total += layer_blob.size;
    let config = image_config_json(&base.config, image, platform, &layer_tar.digest(), created);
    let config_blob = layout.write_blob(&to_json(&config))?;
    total += config_blob.size;
    let mut layers = base.layers.clone();
    layers.push(json!({
        "mediaType": MEDIA_LAYER_GZIP,
        "digest": layer_blob.digest(),
        "size": layer_blob.size,
    }));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {
            "mediaType": MEDIA_CONFIG,
            "digest": config_blob.digest(),
            "size": config_blob.size,
        },
        "layers": layers,
    });
    let manifest_blob = layout.write_blob(&to_json(&manifest))?;
    Ok(BuiltImage {
        platform,
        manifest: manifest_blob,
        config: config_blob,
        layer: layer_blob,
        layer_tar,
        total_size: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::docker::image_config;
    use crate::spec::WorkloadKind;
    use crate::spec::sample::sample;

    /// Reads a tar back: (path, mode, type, contents).
    fn untar(bytes: &[u8]) -> Vec<(String, u32, u8, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 512 <= bytes.len() && bytes[at] != 0 {
            let h = &bytes[at..at + 512];
            let field = |a: usize, b: usize| {
                String::from_utf8_lossy(&h[a..b])
                    .trim_end_matches('\0')
                    .trim()
                    .to_owned()
            };
            let sum: u32 = h
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    if (148..156).contains(&i) {
                        32
                    } else {
                        u32::from(b)
                    }
                })
                .sum();
            assert_eq!(u32::from_str_radix(&field(148, 154), 8).unwrap(), sum);
            let prefix = field(345, 500);
            let name = field(0, 100);
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let mode = u32::from_str_radix(&field(100, 107), 8).unwrap();
            let size = usize::from_str_radix(&field(124, 135), 8).unwrap();
            let data = bytes[at + 512..at + 512 + size].to_vec();
            out.push((path, mode, h[156], data));
            at += 512 + size.next_multiple_of(512);
        }
        assert!(bytes[at..].iter().all(|&b| b == 0) && bytes.len() - at >= 1024);
        out
    }

    #[test]
    fn layer_is_a_deterministic_tar_with_parents() {
        let mut layer = Layer::new();
        layer.file("/usr/local/bin/echo-daemon", 0o755, b"binary".to_vec());
        layer.file("etc/ssl/certs/ca-certificates.crt", 0o644, vec![b'x'; 700]);
        let tar = layer.clone().into_tar();
        assert_eq!(tar, layer.into_tar());
        assert_eq!(tar.len() % 512, 0);
        let entries = untar(&tar);
        let paths: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            [
                "etc/",
                "etc/ssl/",
                "etc/ssl/certs/",
                "etc/ssl/certs/ca-certificates.crt",
                "usr/",
                "usr/local/",
                "usr/local/bin/",
                "usr/local/bin/echo-daemon"
            ]
        );
        assert_eq!(entries[0].1, 0o755);
        assert_eq!(entries[0].2, b'5');
        assert_eq!(entries[3].1, 0o644);
        assert_eq!(entries[3].3.len(), 700);
        assert_eq!(
            entries[7],
            (
                "usr/local/bin/echo-daemon".into(),
                0o755,
                b'0',
                b"binary".to_vec()
            )
        );
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
        out
    }

    #[test]
    fn layer_gzip_is_reproducible_and_round_trips() {
        let mut layer = Layer::new();
        // Something compressible and something that is not, as a binary has both.
        let mut contents = b"berth ".repeat(50_000);
        let mut x: u32 = 1;
        contents.extend((0..100_000).map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        }));
        layer.file("usr/local/bin/echo-daemon", 0o755, contents);
        let tar = layer.into_tar();
        let first = gzip(&tar).unwrap();
        assert_eq!(gzip(&tar).unwrap(), first, "same input, same bytes");
        assert_eq!(
            sha256_hex(&gzip(&tar.clone()).unwrap()),
            sha256_hex(&first),
            "same digest"
        );
        assert_eq!(gunzip(&first), tar);
        assert!(
            first.len() < tar.len() * 2 / 3,
            "{} of {}",
            first.len(),
            tar.len()
        );
        // The header: magic, deflate, no flags (no name, comment or extra field), mtime 0,
        // XFL 2 (the best level), OS 255.
        assert_eq!(&first[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
        assert_eq!(LAYER_GZIP_LEVEL, 9);
        // A different input gives a different stream.
        let mut other = tar.clone();
        other[600] ^= 1;
        assert_ne!(gzip(&other).unwrap(), first);
    }

    #[test]
    fn long_paths_use_the_prefix_field() {
        let dir = format!("{}/{}", "d".repeat(60), "e".repeat(60));
        let mut layer = Layer::new();
        layer.file(&format!("{dir}/file"), 0o644, b"x".to_vec());
        let entries = untar(&layer.into_tar());
        let paths: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            [
                format!("{}/", "d".repeat(60)),
                dir.clone(),
                format!("{dir}/file")
            ]
        );
    }

    #[test]
    fn config_follows_the_dockerfile_semantics() {
        let spec = sample(WorkloadKind::Deployment);
        let image = image_config(&spec);
        let base = json!({
            "architecture": "arm64",
            "os": "linux",
            "container_config": {"Cmd": ["x"]},
            "config": {
                "Env": ["PATH=/usr/bin:/bin", "BERTH_METRICS=false"],
                "Cmd": ["bash"],
                "User": "65532",
                "WorkingDir": "/home/nonroot",
                "Labels": {"base": "yes"}
            },
            "rootfs": {"type": "layers", "diff_ids": ["sha256:aa"]},
            "history": [{"created_by": "import"}]
        });
        let c = image_config_json(
            &base,
            &image,
            Platform::LinuxArm64,
            "sha256:bb",
            "1970-01-01T00:00:00Z",
        );
        assert!(c.get("container_config").is_none());
        assert_eq!(c["architecture"], "arm64");
        let cfg = &c["config"];
        assert_eq!(cfg["WorkingDir"], "/home/nonroot");
        assert_eq!(cfg["User"], "65532:65532");
        assert_eq!(cfg["Entrypoint"], json!(["/usr/local/bin/echo-daemon"]));
        assert_eq!(cfg["Cmd"], json!(["--verbose"]));
        assert_eq!(cfg["StopSignal"], "SIGTERM");
        assert_eq!(cfg["Labels"]["base"], "yes");
        assert_eq!(cfg["Labels"]["io.berth.stop-timeout"], "30");
        assert_eq!(cfg["ExposedPorts"], json!({"8080/tcp": {}, "9090/tcp": {}}));
        let env: Vec<&str> = cfg["Env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(env[0], "PATH=/usr/bin:/bin");
        assert_eq!(env[1], "BERTH_METRICS=true", "replaced in place");
        assert!(env.contains(&"BERTH_ADMIN_ADDR=0.0.0.0:9090"));
        assert_eq!(
            cfg["Healthcheck"],
            json!({
                "Test": ["CMD", "/usr/local/bin/echo-daemon", "--berth-probe", "readyz"],
                "Interval": 10_000_000_000u64,
                "Timeout": 3_000_000_000u64,
                "StartPeriod": 60_000_000_000u64,
                "Retries": 3
            })
        );
        assert_eq!(c["rootfs"]["diff_ids"], json!(["sha256:aa", "sha256:bb"]));
        assert_eq!(c["history"].as_array().unwrap().len(), 2);

        // No args: the base's CMD is dropped (ENTRYPOINT resets it).
        let mut spec = spec;
        spec.args.clear();
        let c = image_config_json(
            &base,
            &image_config(&spec),
            Platform::LinuxArm64,
            "sha256:bb",
            "x",
        );
        assert!(c["config"].get("Cmd").is_none());
    }

    #[test]
    fn layout_round_trip_and_platform_selection() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let spec = sample(WorkloadKind::Deployment);
        let image = image_config(&spec);
        let mut built = Vec::new();
        for platform in Platform::ALL {
            let mut layer = Layer::new();
            layer.file(
                "usr/local/bin/echo-daemon",
                0o755,
                platform.arch().as_bytes().to_vec(),
            );
            let b = write_image(
                &layout,
                None,
                &BaseImage::scratch(platform),
                &image,
                platform,
                layer.into_tar(),
                "1970-01-01T00:00:00Z",
            )
            .unwrap();
            built.push(b);
        }
        let descriptors: Vec<Value> = built.iter().map(BuiltImage::descriptor).collect();
        let first = layout.write_index(&descriptors).unwrap();
        assert_eq!(
            layout.write_index(&descriptors).unwrap(),
            first,
            "deterministic"
        );

        let reopened = OciLayout::open(dir.path()).unwrap();
        for platform in Platform::ALL {
            let base = reopened.image_for(platform).unwrap();
            assert_eq!(base.config["architecture"], platform.arch());
            assert_eq!(base.layers.len(), 1);
            assert_eq!(base.layers[0]["mediaType"], MEDIA_LAYER_GZIP);
            let blob = reopened
                .read_blob(base.layers[0]["digest"].as_str().unwrap())
                .unwrap();
            let tar = gunzip(&blob);
            assert_eq!(untar(&tar).last().unwrap().3, platform.arch().as_bytes());
            // diff_id: the digest of the uncompressed tar, not of the stored blob.
            assert_eq!(
                base.config["rootfs"]["diff_ids"],
                json!([format!("sha256:{}", sha256_hex(&tar))])
            );
        }
        // A base for the wrong platform is refused.
        let err = write_image(
            &layout,
            None,
            &BaseImage::scratch(Platform::LinuxAmd64),
            &image,
            Platform::LinuxArm64,
            Layer::new().into_tar(),
            "x",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("is linux/amd64, not linux/arm64"),
            "{err}"
        );
        // A corrupted blob is detected.
        let hex = &built[0].config.hex;
        std::fs::write(dir.path().join("blobs/sha256").join(hex), b"{}").unwrap();
        assert!(reopened.read_blob(&built[0].config.digest()).is_err());
    }

    #[test]
    fn elf_machines() {
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[18] = 0xb7;
        let path = Path::new("bin");
        assert!(check_elf(path, &elf, Platform::LinuxArm64).is_ok());
        let err = check_elf(path, &elf, Platform::LinuxAmd64).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bin is ELF 64-bit LSB AArch64, not a linux/amd64 executable"
        );
        elf[18] = 0x3e;
        assert!(check_elf(path, &elf, Platform::LinuxAmd64).is_ok());
        assert_eq!(describe_elf(b"#!/bin/sh\n"), "not an ELF file");
    }
}
