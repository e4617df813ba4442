//! The value rules of `berth.yaml`: names, images, quantities, capabilities, ... Each check is a
//! pure function on a string so it is unit-tested on its own and reused by the JSON Schema.

use super::model::ImageRef;

/// A DNS-1123 label: 1..=`max` of `[a-z0-9-]`, starting and ending alphanumeric.
pub fn is_dns1123_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters (Secret and ConfigMap
/// names, PriorityClass names).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(|l| is_dns1123_label(l, 63))
}

/// An IANA service name (a Kubernetes port name): 1..=15 of `[a-z0-9-]`, at least one letter,
/// no leading, trailing or doubled hyphen.
pub fn is_iana_svc_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// An environment variable name: a C identifier.
pub fn is_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A key of a Secret or ConfigMap: 1..=253 of `[-._a-zA-Z0-9]`.
pub fn is_config_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && s != "."
        && s != ".."
}

fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A Kubernetes label key: `[prefix/]name`, the prefix a DNS subdomain.
pub fn is_label_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_label_name(name),
        None => is_label_name(s),
    }
}

/// A Kubernetes label value: empty, or a label name.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name(s)
}

/// A Cargo package or binary name.
pub fn is_cargo_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    s.len() <= 64
        && matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A Cargo feature: `name`, `dep:name` or `package/name`.
pub fn is_cargo_feature(s: &str) -> bool {
    let ok = |part: &str| {
        let mut bytes = part.bytes();
        matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'.'))
    };
    let s = s.strip_prefix("dep:").unwrap_or(s);
    match s.split_once('/') {
        Some((pkg, feat)) => is_cargo_name(pkg) && ok(feat),
        None => ok(s),
    }
}

/// `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`.
pub fn is_rust_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A user name for systemd `User=`: `[a-z_][a-z0-9_-]*` (at most 31), or a numeric UID.
pub fn is_unix_user(s: &str) -> bool {
    if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let mut bytes = s.bytes();
    s.len() <= 31
        && matches!(bytes.next(), Some(b) if b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// An absolute path without `.`/`..` components, empty components or a trailing slash (`/`
/// itself is allowed only where `allow_root`).
pub fn is_clean_absolute_path(s: &str, allow_root: bool) -> bool {
    if s == "/" {
        return allow_root;
    }
    s.starts_with('/')
        && !s.ends_with('/')
        && !s.contains('\0')
        && s[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Downward-API field paths usable in an environment variable.
pub const FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels['<KEY>']",
    "metadata.annotations['<KEY>']",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// True for a downward-API `fieldPath` an env var may use.
pub fn is_field_path(s: &str) -> bool {
    for prefix in ["metadata.labels['", "metadata.annotations['"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            return rest.strip_suffix("']").is_some_and(is_label_key);
        }
    }
    FIELD_PATHS.iter().any(|p| !p.contains('<') && *p == s)
}

/// Linux capabilities (without `CAP_`).
pub const CAPABILITIES: &[&str] = &[
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// Capabilities that give (nearly) root over the host or the network: accepted with a warning.
pub const PRIVILEGED_CAPABILITIES: &[&str] = &[
    "BPF",
    "DAC_READ_SEARCH",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "NET_ADMIN",
    "NET_RAW",
    "PERFMON",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_MODULE",
    "SYS_PTRACE",
    "SYS_RAWIO",
];

/// Normalizes a capability as written: upper case, without a `CAP_` prefix.
pub fn normalize_capability(s: &str) -> String {
    let upper = s.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").unwrap_or(&upper).to_owned()
}

/// Why an image reference was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageError {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

fn image_err(message: impl Into<String>, hint: Option<String>) -> ImageError {
    ImageError {
        message: message.into(),
        hint,
    }
}

fn is_path_component(c: &str) -> bool {
    // [a-z0-9]+ ( ( [._] | __ | -+ ) [a-z0-9]+ )*
    let b = c.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_registry_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (h, None),
    };
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if !matches!(port.parse::<u32>(), Ok(1..=65535)) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

/// Parses `repository[:tag][@sha256:<64 hex>]`. The repository may start with a registry host
/// (`ghcr.io`, `localhost:5000`); its path components are lower case. Without a digest, a tag
/// other than `latest` is required.
pub fn parse_image(s: &str) -> Result<ImageRef, ImageError> {
    if s.is_empty() {
        return Err(image_err("the image is empty", None));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(image_err(format!("image {s:?} contains white space"), None));
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let ok = d.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if !ok {
            return Err(image_err(
                format!("image digest {d:?} is not sha256:<64 lower-case hex digits>"),
                Some("copy the digest from `docker buildx imagetools inspect IMAGE` or your registry".into()),
            ));
        }
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if repository.is_empty() {
        return Err(image_err(format!("image {s:?} has no repository"), None));
    }
    if repository.len() > 255 {
        return Err(image_err(
            "the image repository is longer than 255 characters",
            None,
        ));
    }
    let components: Vec<&str> = repository.split('/').collect();
    let host = if components.len() > 1 {
        let first = components[0];
        (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
    } else {
        None
    };
    if let Some(h) = host
        && !is_registry_host(h)
    {
        return Err(image_err(
            format!("{h:?} is not a valid registry host"),
            Some("a host name with an optional port, e.g. ghcr.io or localhost:5000".into()),
        ));
    }
    let path = if host.is_some() {
        &components[1..]
    } else {
        &components[..]
    };
    for c in path {
        if !is_path_component(c) {
            let hint = if c.bytes().any(|b| b.is_ascii_uppercase()) {
                Some(format!(
                    "repository names are lower case: {}",
                    repository.to_ascii_lowercase()
                ))
            } else {
                Some(
                    "path components use a-z, 0-9 and single '.', '_', '__' or '-' separators"
                        .into(),
                )
            };
            return Err(image_err(
                format!("{c:?} is not a valid image repository path component"),
                hint,
            ));
        }
    }
    if let Some(t) = tag {
        let b = t.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if !ok {
            return Err(image_err(
                format!("image tag {t:?} is not valid"),
                Some("a tag is 1..128 of A-Z a-z 0-9 _ . - and does not start with . or -".into()),
            ));
        }
    }
    match (tag, digest) {
        (None, None) => Err(image_err(
            format!("image {s:?} has no tag"),
            Some(format!(
                "pin the version you deploy, e.g. {repository}:0.1.0, or a digest {repository}@sha256:<64 hex>"
            )),
        )),
        (Some("latest"), None) => Err(image_err(
            format!("image {s:?} uses the tag 'latest'"),
            Some(format!(
                "pin the version you deploy so every node runs the same build, e.g. {repository}:0.1.0, or add a digest"
            )),
        )),
        _ => Ok(ImageRef {
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        }),
    }
}

/// The workload kinds of `workload:` (and of the chart's `workload` value).
pub const WORKLOADS: &[&str] = &["Deployment", "DaemonSet"];
/// The protocols of a port.
pub const PROTOCOLS: &[&str] = &["TCP", "UDP"];
/// The `operator`s of a toleration.
pub const TOLERATION_OPERATORS: &[&str] = &["Equal", "Exists"];
/// The `effect`s of a toleration.
pub const TOLERATION_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
/// The lowest port number.
pub const PORT_MIN: u16 = 1;
/// The highest port number.
pub const PORT_MAX: u16 = 65535;
/// The highest user id Kubernetes accepts (`runAsUser` is an int32).
pub const MAX_UID: i64 = i32::MAX as i64;
/// The default `security.runAsUser`: distroless' `nonroot` user.
pub const NONROOT_UID: i64 = 65532;
/// The durations berth accepts (`500ms`, `1m30s`, `0`), the grammar of
/// `berth_sidecar::contract::parse_duration`, as a JSON Schema pattern: both schemas use it.
pub const DURATION_PATTERN: &str =
    r"^(0|\+?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$";

/// The Kubernetes quantities berth accepts (`50m`, `0.5`, `64Mi`, `1e3`, `+1`), as a JSON Schema
/// pattern; [`split_quantity`] is the same grammar in code. Both schemas (`berth schema` and
/// the chart's `values.schema.json`) use this one pattern.
pub const QUANTITY_PATTERN: &str =
    r"^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][-+]?[0-9]{1,3})?$";

/// Splits a quantity into its unsigned decimal number and its suffix (`64Mi` → `64`, `Mi`;
/// `+1.5e3` → `1.5`, `e3`); `None` unless it matches [`QUANTITY_PATTERN`].
pub fn split_quantity(s: &str) -> Option<(&str, &str)> {
    let unsigned = s.strip_prefix('+').unwrap_or(s);
    let end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let known = matches!(
        suffix,
        "" | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
            | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
    );
    let exponent = || {
        let exp = suffix.strip_prefix(['e', 'E'])?;
        let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        (!digits.is_empty() && digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then_some(())
    };
    (known || exponent().is_some()).then_some((number, suffix))
}

/// A parsed Kubernetes quantity: its value in base units (cores, bytes).
pub fn parse_quantity(s: &str) -> Option<f64> {
    let (number, suffix) = split_quantity(s)?;
    let value: f64 = number.parse().ok()?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => 10f64.powi(exponent[1..].parse::<i32>().ok()?),
    };
    let v = value * factor;
    v.is_finite().then_some(v)
}

/// The `n` most similar candidates for a misspelling (case-insensitive match first, then edit
/// distance), if any is close enough to be a plausible typo.
pub fn suggest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(input)) {
        return Some(c);
    }
    // Long inputs are not typos; and edit distance is quadratic.
    if input.len() > 64 {
        return None;
    }
    let lower = input.to_ascii_lowercase();
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        let score = strsim::normalized_damerau_levenshtein(&lower, &c.to_ascii_lowercase());
        let close = score >= 0.7
            || strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()) <= 2 && c.len() > 3;
        if close && best.is_none_or(|(_, b)| score > b) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_dns1123_label("echo-daemon", 53));
        assert!(!is_dns1123_label("Echo", 53));
        assert!(!is_dns1123_label("-a", 53));
        assert!(!is_dns1123_label(&"a".repeat(54), 53));
        assert!(is_iana_svc_name("http"));
        assert!(is_iana_svc_name("h2c"));
        assert!(!is_iana_svc_name("8080"));
        assert!(!is_iana_svc_name("a--b"));
        assert!(!is_iana_svc_name("way-too-long-name"));
        assert!(is_env_name("RUST_LOG"));
        assert!(!is_env_name("1X"));
        assert!(is_label_key("kubernetes.io/os"));
        assert!(!is_label_key("a/b/c"));
        assert!(is_cargo_feature("dep:serde"));
        assert!(is_cargo_feature("tokio/full"));
        assert!(is_rust_version("1.95"));
        assert!(is_rust_version("1.95.0"));
        assert!(!is_rust_version("stable"));
        assert!(is_field_path("metadata.labels['app.kubernetes.io/name']"));
        assert!(!is_field_path("spec.nodename"));
        assert!(is_clean_absolute_path("/etc/x.toml", false));
        assert!(!is_clean_absolute_path("/etc/../x", false));
        assert!(!is_clean_absolute_path("etc", false));
        assert!(!is_clean_absolute_path("/", false));
    }

    #[test]
    fn images() {
        let i = parse_image("ghcr.io/acme/echo-daemon:0.1.0").unwrap();
        assert_eq!(
            (i.repository.as_str(), i.tag.as_deref()),
            ("ghcr.io/acme/echo-daemon", Some("0.1.0"))
        );
        let i = parse_image("localhost:5000/x:1").unwrap();
        assert_eq!(i.repository, "localhost:5000/x");
        let digest = format!("sha256:{}", "a".repeat(64));
        let i = parse_image(&format!("x@{digest}")).unwrap();
        assert_eq!((i.tag, i.digest), (None, Some(digest.clone())));
        assert!(parse_image(&format!("x:latest@{digest}")).is_ok());
        assert!(parse_image("x").unwrap_err().message.contains("no tag"));
        assert!(
            parse_image("x:latest")
                .unwrap_err()
                .message
                .contains("latest")
        );
        assert!(
            parse_image("localhost:5000/x")
                .unwrap_err()
                .message
                .contains("no tag")
        );
        assert!(parse_image("Acme/x:1").is_err());
        assert!(parse_image("x:1@sha256:abc").is_err());
        assert!(parse_image("host:99999/x:1").is_err());
        assert!(parse_image("x:.bad").is_err());
        assert!(parse_image("a//b:1").is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("50m"), Some(0.05));
        assert_eq!(parse_quantity("1"), Some(1.0));
        assert_eq!(parse_quantity("64Mi"), Some(64.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("0.5"), Some(0.5));
        assert_eq!(parse_quantity("64MB"), None);
        assert_eq!(parse_quantity("-1"), None);
        assert_eq!(parse_quantity(""), None);
        assert_eq!(parse_quantity("m"), None);
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("drainTimout", &["preStopDelay", "drainTimeout"]),
            Some("drainTimeout")
        );
        assert_eq!(
            suggest("daemonset", &["Deployment", "DaemonSet"]),
            Some("DaemonSet")
        );
        assert_eq!(suggest("zzz", &["preStopDelay", "drainTimeout"]), None);
    }
}
