//! The JSON Schema of `berth.yaml` v1 (draft 2020-12), written by hand so that it states the
//! same rules as the validator: required fields, enums, patterns for names, durations,
//! quantities and images, and `additionalProperties: false` everywhere.
//!
//! The validator is the authority (it also checks what a schema cannot: files that must exist,
//! unique ports, limits above requests); every description it accepts that is written without
//! empty (null) values also passes this schema.

use serde_json::{Value, json};

/// Where editors fetch the schema from (the `# yaml-language-server: $schema=` comment).
pub const SCHEMA_URL: &str =
    "https://raw.githubusercontent.com/berth-rs/berth/main/docs/berth.schema.json";

use super::rules::DURATION_PATTERN as DURATION;
use super::rules::QUANTITY_PATTERN as QUANTITY;
const DNS_LABEL: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
const DNS_SUBDOMAIN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const IANA_SVC: &str = r"^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*[a-z0-9]$|^[a-z]$";
const ENV_NAME: &str = r"^(?!BERTH_)[A-Za-z_][A-Za-z0-9_]*$";
const CONFIG_KEY: &str = r"^[-._a-zA-Z0-9]+$";
const ABS_PATH: &str = r"^(/[^/\x00]+)+$";
const CARGO_NAME: &str = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$";
const FEATURE: &str = r"^(dep:)?([A-Za-z_][A-Za-z0-9_-]*/)?[A-Za-z0-9_][A-Za-z0-9_+.-]*$";
const RUST_VERSION: &str = r"^[0-9]{1,4}\.[0-9]{1,4}(\.[0-9]{1,4})?$";
const UNIX_USER: &str = r"^([a-z_][a-z0-9_-]{0,30}|[0-9]{1,10})?$";
const LABEL_KEY: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
const LABEL_VALUE: &str = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$";
const FIELD_PATH: &str = r"^(metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]|spec\.(nodeName|serviceAccountName)|status\.(hostIP|hostIPs|podIP|podIPs))$";

fn image_pattern() -> String {
    let host = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?/)?";
    let comp = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    let tag = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
    let digest = r"@sha256:[0-9a-f]{64}";
    format!(
        "^{host}{comp}(?:/{comp})*(?::(?!latest(?:$|@)){tag}(?:{digest})?|(?::{tag})?{digest})$"
    )
}

fn string(pattern: &str, description: &str) -> Value {
    json!({"type": "string", "pattern": pattern, "description": description})
}

fn duration(description: &str, default: &str) -> Value {
    json!({
        "description": description,
        "default": default,
        "anyOf": [
            {"type": "string", "pattern": DURATION},
            {"const": 0}
        ]
    })
}

fn quantity(description: &str) -> Value {
    json!({
        "description": description,
        "anyOf": [
            {"type": "string", "pattern": QUANTITY},
            {"type": "number", "minimum": 0}
        ]
    })
}

fn object(description: &str, properties: Value) -> Value {
    json!({
        "type": "object",
        "description": description,
        "additionalProperties": false,
        "properties": properties
    })
}

fn scalar_text(description: &str) -> Value {
    json!({"type": ["string", "number", "boolean"], "description": description})
}

/// The JSON Schema of `berth.yaml`.
pub fn schema() -> Value {
    let resource_list = |what: &str| {
        object(
            what,
            json!({
                "cpu": quantity("CPU, e.g. 50m or 0.5"),
                "memory": quantity("Memory, e.g. 64Mi"),
            }),
        )
    };
    let env_ref = json!({
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["secret", "key"],
                "properties": {
                    "secret": string(DNS_SUBDOMAIN, "Secret name"),
                    "key": string(CONFIG_KEY, "Key in the Secret")
                }
            },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["configMap", "key"],
                "properties": {
                    "configMap": string(DNS_SUBDOMAIN, "ConfigMap name"),
                    "key": string(CONFIG_KEY, "Key in the ConfigMap")
                }
            },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["field"],
                "properties": {
                    "field": string(FIELD_PATH, "Downward-API fieldPath, e.g. spec.nodeName")
                }
            }
        ]
    });
    let mut volume = object(
        "A volume and where it is mounted: exactly one of hostPath, emptyDir, secret, configMap.",
        json!({
            "name": string(DNS_LABEL, "DNS-1123 label, unique among volumes"),
            "hostPath": {"type": "string", "pattern": r"^/([^/\x00]+(/[^/\x00]+)*)?$", "description": "An absolute path on the node"},
            "emptyDir": {"type": ["object", "null"], "additionalProperties": false, "maxProperties": 0, "description": "A scratch directory: {}"},
            "secret": string(DNS_SUBDOMAIN, "A Secret by name"),
            "configMap": string(DNS_SUBDOMAIN, "A ConfigMap by name"),
            "mountPath": string(ABS_PATH, "Absolute, unique path in the container"),
            "readOnly": {"type": "boolean", "default": false, "description": "Mount read-only"}
        }),
    );
    volume["required"] = json!(["name", "mountPath"]);
    volume["oneOf"] = json!([
        {"required": ["hostPath"]},
        {"required": ["emptyDir"]},
        {"required": ["secret"]},
        {"required": ["configMap"]}
    ]);
    let mut port = object(
        "An application port.",
        json!({
            "name": {"type": "string", "maxLength": 15, "pattern": IANA_SVC, "description": "IANA service name: 1..15 of a-z, 0-9, '-', with a letter"},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "Unique across ports and health.port"},
            "protocol": {"enum": super::rules::PROTOCOLS, "default": "TCP"},
            "expose": {"type": "boolean", "default": true, "description": "Include in the Service"}
        }),
    );
    port["required"] = json!(["name", "port"]);
    let mut config = object(
        "One configuration file shipped with the daemon.",
        json!({
            "file": {"type": "string", "pattern": r"^[^/\\\x00]", "description": "Relative to berth.yaml; must exist (at most 512 KiB, UTF-8)"},
            "mountPath": string(ABS_PATH, "Absolute path in the container (default /etc/NAME/FILE_NAME)"),
            "reload": {"type": "boolean", "default": false, "description": "berth-sidecar reloads the file on change instead of restarting"}
        }),
    );
    config["required"] = json!(["file"]);
    let toleration = object(
        "A Kubernetes toleration.",
        json!({
            "key": {"type": "string", "pattern": format!("^$|{LABEL_KEY}")},
            "operator": {"enum": super::rules::TOLERATION_OPERATORS},
            "value": scalar_text("Taint value (with Equal)"),
            "effect": {"enum": super::rules::TOLERATION_EFFECTS},
            "tolerationSeconds": {"type": "integer", "description": "With effect NoExecute only"}
        }),
    );
    let mut top = object(
        "A berth description (apiVersion berth/v1): one daemon, deployed as a container, a Kubernetes workload, a systemd unit and a Windows service.",
        json!({
            "apiVersion": {"const": "berth/v1", "description": "The format version"},
            "name": {"type": "string", "maxLength": 53, "pattern": DNS_LABEL, "description": "DNS-1123 label, 1..53 characters (the Helm release limit)"},
            "description": scalar_text("Free text"),
            "workload": {"enum": super::rules::WORKLOADS, "description": "The Kubernetes workload kind"},
            "replicas": {"type": "integer", "minimum": 0, "maximum": 2147483647, "default": 2, "description": "Deployment only"},
            "image": {"type": "string", "pattern": image_pattern(), "description": "repository[:tag][@sha256:<64 hex>]; a tag other than latest, or a digest"},
            "command": {"type": "array", "items": scalar_text("An argument"), "description": "Overrides the entrypoint (default: the built binary)"},
            "args": {"type": "array", "items": scalar_text("An argument"), "description": "Arguments passed to the daemon"},
            "ports": {"type": "array", "items": port},
            "health": object("The admin server of berth-sidecar.", json!({
                "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 9090, "description": "Admin port"},
                "startupTimeout": duration("How long start-up may take (more than 0s)", "60s")
            })),
            "shutdown": object("Shutdown timing, the same on every target.", json!({
                "preStopDelay": duration("Readiness fails first, then traffic is drained", "5s"),
                "drainTimeout": duration("Time for in-flight work before a forced stop (more than 0s)", "20s")
            })),
            "env": {
                "type": "object",
                "description": "Environment variables: NAME -> a string, {secret, key}, {configMap, key} or {field}",
                "propertyNames": {"pattern": ENV_NAME},
                "additionalProperties": {"anyOf": [scalar_text("A literal value"), env_ref]}
            },
            "resources": object("Resource requests and limits; a limit is never below its request.", json!({
                "requests": resource_list("Requested resources"),
                "limits": resource_list("Resource limits")
            })),
            "volumes": {"type": "array", "items": volume},
            "config": config,
            "scheduling": object("Where pods may run and how they roll.", json!({
                "nodeSelector": {
                    "type": "object",
                    "default": {"kubernetes.io/os": "linux"},
                    "propertyNames": {"pattern": LABEL_KEY},
                    "additionalProperties": {"type": "string", "pattern": LABEL_VALUE}
                },
                "tolerations": {"type": "array", "items": toleration},
                "priorityClassName": {"type": "string", "pattern": format!("^$|{DNS_SUBDOMAIN}")},
                "maxUnavailable": {
                    "description": "DaemonSet rolling update: a count of at least 1 or a percentage",
                    "default": 1,
                    "anyOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "string", "pattern": r"^([1-9][0-9]?|100)%$"}
                    ]
                }
            })),
            "host": object("Host namespaces.", json!({
                "network": {"type": "boolean", "default": false},
                "pid": {"type": "boolean", "default": false}
            })),
            "security": {
                "type": "object",
                "description": "Process security settings.",
                "additionalProperties": false,
                "properties": {
                    "runAsUser": {"type": "integer", "minimum": 0, "maximum": 2147483647, "default": 65532, "description": "Non-zero unless runAsRoot is true"},
                    "runAsRoot": {"type": "boolean", "default": false, "description": "Allows runAsUser: 0"},
                    "readOnlyRootFilesystem": {"type": "boolean", "default": true},
                    "capabilities": {
                        "type": "array",
                        "description": "Added Linux capabilities (CAP_ prefix and case optional); all others are dropped",
                        "items": {"type": "string", "pattern": capability_pattern()}
                    }
                },
                "if": {"required": ["runAsUser"], "properties": {"runAsUser": {"const": 0}}},
                "then": {"required": ["runAsRoot"], "properties": {"runAsRoot": {"const": true}}}
            },
            "metrics": object("Prometheus metrics on the admin port.", json!({
                "enabled": {"type": "boolean", "default": true}
            })),
            "build": object("How the image is built from a Cargo workspace.", json!({
                "package": string(CARGO_NAME, "Cargo package (default: name)"),
                "bin": string(CARGO_NAME, "Binary target (default: package)"),
                "rustVersion": {
                    "description": "Rust toolchain of the builder image",
                    "default": "1.95",
                    "anyOf": [{"type": "string", "pattern": RUST_VERSION}, {"type": "number"}]
                },
                "base": {"enum": ["distroless", "debian-slim", "scratch"], "default": "distroless"},
                "features": {"type": "array", "uniqueItems": true, "items": {"type": "string", "pattern": FEATURE}},
                "platforms": {
                    "type": "array",
                    "description": "Platforms the image is built for (os/arch)",
                    "minItems": 1,
                    "uniqueItems": true,
                    "default": super::model::DEFAULT_PLATFORMS.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                    "items": {"enum": super::model::Platform::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>()}
                }
            })),
            "systemd": object("The systemd unit.", json!({
                "user": string(UNIX_USER, "User=; empty means DynamicUser=yes"),
                "restart": {"enum": ["always", "on-failure", "no"], "default": "on-failure"},
                "watchdog": duration("WatchdogSec; 0s disables, otherwise at least 1s", "30s")
            })),
            "windows": object("The Windows service (the windows target).", json!({
                "enabled": {"type": "boolean", "description": "Generate the windows target (default true, unless host.pid or a hostPath volume ties the daemon to the Linux host; true is then an error)"},
                "displayName": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": r#"^[^"%!^\x00-\x1f]*$"#, "description": "Shown by the Services console (default: name)"},
                "startType": {"enum": ["automatic", "delayed", "manual"], "default": "automatic", "description": "sc start= auto, delayed-auto or demand"},
                "account": {"enum": ["virtual", "LocalService", "NetworkService", "LocalSystem"], "default": "virtual", "description": "virtual: NT SERVICE\\NAME, least privilege; LocalSystem draws a warning"},
                "installDir": {"type": "string", "pattern": r#"^([A-Za-z]:|%[A-Za-z0-9_]+%)(\\[^\\/"%!^<>|*?\x00-\x1f]+)+$"#, "description": "Where the .exe is installed (default %ProgramFiles%\\NAME)"},
                "recovery": object("Failure actions of the Service Control Manager.", json!({
                    "restartDelay": duration("Restart this long after a failure; 0s: no restart", "5s"),
                    "resetPeriod": duration("The failure count resets after this long without failures", "24h"),
                    "onNonCrashFailures": {"type": "boolean", "default": true, "description": "Also on a non-zero exit code, e.g. 124 after a forced drain (sc failureflag)"}
                }))
            }))
        }),
    );
    top["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    top["$id"] = json!(SCHEMA_URL);
    top["title"] = json!("berth.yaml");
    top["required"] = json!(["apiVersion", "name", "workload", "image"]);
    top["if"] =
        json!({"required": ["workload"], "properties": {"workload": {"const": "DaemonSet"}}});
    top["then"] = json!({"not": {"required": ["replicas"]}});
    // Keep the keywords first for readers of the file.
    let mut ordered = serde_json::Map::new();
    for k in [
        "$schema",
        "$id",
        "title",
        "description",
        "type",
        "required",
        "additionalProperties",
        "properties",
        "if",
        "then",
    ] {
        if let Some(v) = top.get(k) {
            ordered.insert(k.to_owned(), v.clone());
        }
    }
    Value::Object(ordered)
}

fn capability_pattern() -> String {
    let names = super::rules::CAPABILITIES
        .iter()
        .flat_map(|c| [c.to_owned().to_owned(), c.to_ascii_lowercase()])
        .collect::<Vec<_>>()
        .join("|");
    format!("^([Cc][Aa][Pp]_)?({names})$")
}

/// The schema as pretty-printed JSON with a final newline (what `berth schema` prints and
/// `docs/berth.schema.json` holds).
pub fn schema_string() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}
