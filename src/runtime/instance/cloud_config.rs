//! The `#cloud-config` subset armlet understands, parsed into a plain [`CloudConfig`].
//!
//! Supported: `write_files` (`path`, `content`, `encoding` `b64`/`base64`, `permissions`,
//! `append`; `owner` and `defer` are accepted and ignored) and `runcmd` (strings run with
//! `sh -c`, argv lists shell-quoted first, as cloud-init does). `packages`,
//! `package_update`/`package_upgrade` are recorded and ignored (the boot log says so); other
//! keys are listed in [`CloudConfig::ignored`]. Absolute paths are re-rooted under the
//! instance's `root/` directory by [`reroot`]. Running it is [`super::app`]'s boot phase.

use std::path::{Component, Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_norway::Value;

use super::InstanceError;

/// A parsed cloud-config, normalised: it is stored as JSON in the instance directory and
/// read back by the instance app.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CloudConfig {
    pub write_files: Vec<WriteFile>,
    /// Shell command lines, run in order with `sh -c`.
    pub runcmd: Vec<String>,
    /// Packages the config asks for (not installed: an instance is a process).
    pub packages: Vec<String>,
    pub package_upgrade: bool,
    /// Top-level keys armlet does not act on.
    pub ignored: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteFile {
    /// The path as written in the config (re-rooted when applied).
    pub path: String,
    /// The content, still base64 when `base64` is set (validated at parse time).
    pub content: String,
    pub base64: bool,
    /// Unix mode bits, if `permissions` was given.
    pub mode: Option<u32>,
    pub append: bool,
}

impl WriteFile {
    /// The bytes to write.
    pub fn bytes(&self) -> Vec<u8> {
        if self.base64 {
            decode_b64(&self.content).unwrap_or_default()
        } else {
            self.content.clone().into_bytes()
        }
    }
}

fn decode_b64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact)
}

fn err(message: impl Into<String>) -> InstanceError {
    InstanceError::CloudConfig(message.into())
}

/// Parses cloud-config YAML (the `#cloud-config` line is a YAML comment).
pub fn parse(text: &str) -> Result<CloudConfig, InstanceError> {
    let doc: Value = serde_norway::from_str(text).map_err(|e| err(e.to_string()))?;
    let map = match doc {
        Value::Null => return Ok(CloudConfig::default()),
        Value::Mapping(m) => m,
        _ => return Err(err("the document must be a mapping")),
    };
    let mut config = CloudConfig::default();
    for (key, value) in map {
        let key = scalar(&key).ok_or_else(|| err("keys must be strings"))?;
        match key.as_str() {
            "write_files" => config.write_files = write_files(value)?,
            "runcmd" => config.runcmd = runcmd(value)?,
            "packages" => config.packages = packages(value)?,
            "package_upgrade" | "package_update" | "package_reboot_if_required" => {
                config.package_upgrade |= value.as_bool().unwrap_or(false);
            }
            _ => config.ignored.push(key),
        }
    }
    Ok(config)
}

/// A YAML scalar as text (numbers and booleans included), `None` for collections and null.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

fn list(value: Value, what: &str) -> Result<Vec<Value>, InstanceError> {
    match value {
        Value::Null => Ok(vec![]),
        Value::Sequence(items) => Ok(items),
        _ => Err(err(format!("{what} must be a list"))),
    }
}

fn write_files(value: Value) -> Result<Vec<WriteFile>, InstanceError> {
    list(value, "write_files")?
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let field = |name: &str| item.get(name).filter(|v| !v.is_null());
            let path = field("path")
                .and_then(scalar)
                .ok_or_else(|| err(format!("write_files[{i}] needs a path")))?;
            let content = field("content").and_then(scalar).unwrap_or_default();
            let encoding = field("encoding").and_then(scalar).unwrap_or_default();
            let base64 = match encoding.to_ascii_lowercase().as_str() {
                "" | "text/plain" => false,
                "b64" | "base64" => true,
                other => {
                    return Err(err(format!(
                        "write_files[{i}] ({path}): encoding {other:?} is not supported (use b64 or plain text)"
                    )));
                }
            };
            if base64 && decode_b64(&content).is_err() {
                return Err(err(format!("write_files[{i}] ({path}): content is not base64")));
            }
            let mode = match field("permissions") {
                None => None,
                Some(p) => Some(permissions(p).ok_or_else(|| {
                    err(format!("write_files[{i}] ({path}): bad permissions {p:?}"))
                })?),
            };
            let append = field("append").and_then(Value::as_bool).unwrap_or(false);
            Ok(WriteFile {
                path,
                content,
                base64,
                mode,
                append,
            })
        })
        .collect()
}

/// `'0644'`, `'644'`, `'0o644'`, or an unquoted `0644` that YAML read as the number 644.
fn permissions(value: &Value) -> Option<u32> {
    let text = scalar(value)?;
    let digits = text.trim().trim_start_matches("0o").trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}

fn runcmd(value: Value) -> Result<Vec<String>, InstanceError> {
    list(value, "runcmd")?
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Sequence(argv) => argv
                .iter()
                .map(|a| scalar(a).map(|s| shell_quote(&s)))
                .collect::<Option<Vec<_>>>()
                .map(|words| words.join(" "))
                .ok_or_else(|| err(format!("runcmd[{i}]: arguments must be scalars"))),
            other => {
                scalar(&other).ok_or_else(|| err(format!("runcmd[{i}] must be a string or a list")))
            }
        })
        .collect()
}

fn packages(value: Value) -> Result<Vec<String>, InstanceError> {
    Ok(list(value, "packages")?
        .iter()
        .filter_map(|p| match p {
            Value::Sequence(pinned) => pinned.first().and_then(scalar),
            other => scalar(other),
        })
        .collect())
}

/// Quotes a word for `sh` the way cloud-init does for argv-style `runcmd` entries.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Where a cloud-config path lands under the instance's `root`: absolute paths are
/// re-rooted, and `..` never climbs above `root`.
pub fn reroot(root: &Path, path: &str) -> PathBuf {
    let mut out = root.to_path_buf();
    let mut depth = 0usize;
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => {
                out.push(part);
                depth += 1;
            }
            Component::ParentDir if depth > 0 => {
                out.pop();
                depth -= 1;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cloud-config `az vmss create --upgrade-policy-mode Rolling` injects.
    const AZ_ROLLING: &str = "\n#cloud-config\npackage_upgrade: true\n\npackages:\n  - nginx\n\nwrite_files:\n  - path: /var/www/html/index.html\n    content: |\n      <h1>Hello, World!</h1>\n    owner: www-data:www-data\n    permissions: '0644'\n  - path: /var/www/html/health.html\n    content: |\n      healthy\n    owner: www-data:www-data\n    permissions: '0644'\n\nruncmd:\n  - systemctl enable nginx\n  - service nginx restart\n";

    #[test]
    fn parses_the_az_rolling_cloud_config() {
        let c = parse(AZ_ROLLING).unwrap();
        assert_eq!(c.packages, vec!["nginx"]);
        assert!(c.package_upgrade);
        assert_eq!(c.write_files.len(), 2);
        assert_eq!(c.write_files[1].path, "/var/www/html/health.html");
        assert_eq!(c.write_files[1].bytes(), b"healthy\n");
        assert_eq!(c.write_files[1].mode, Some(0o644));
        assert_eq!(
            c.runcmd,
            vec!["systemctl enable nginx", "service nginx restart"]
        );
        assert!(c.ignored.is_empty());
    }

    #[test]
    fn argv_runcmd_is_quoted_and_scalars_accepted() {
        let c = parse("runcmd:\n  - [sh, -c, \"echo it's $PORT\"]\n  - [sleep, 1]\n").unwrap();
        assert_eq!(c.runcmd[0], "sh -c 'echo it'\\''s $PORT'");
        assert_eq!(c.runcmd[1], "sleep 1");
    }

    #[test]
    fn base64_files_and_permission_forms() {
        let c = parse(
            "write_files:\n- path: a\n  encoding: b64\n  content: aGk=\n  permissions: 0755\n- path: b\n  permissions: '0o600'\n  append: true\n",
        )
        .unwrap();
        assert_eq!(c.write_files[0].bytes(), b"hi");
        assert_eq!(c.write_files[0].mode, Some(0o755));
        assert_eq!(c.write_files[1].mode, Some(0o600));
        assert!(c.write_files[1].append);
        assert_eq!(c.write_files[1].bytes(), b"");
    }

    #[test]
    fn bad_configs_are_rejected_with_a_reason() {
        for bad in [
            "write_files:\n- content: x\n",
            "write_files:\n- path: a\n  encoding: gz+b64\n  content: x\n",
            "write_files:\n- path: a\n  encoding: b64\n  content: '%%%'\n",
            "write_files:\n- path: a\n  permissions: '0999'\n",
            "runcmd: echo\n",
            "- just\n- a list\n",
            "a: [unclosed\n",
        ] {
            assert!(
                matches!(parse(bad), Err(InstanceError::CloudConfig(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_listed_and_empty_is_fine() {
        let c = parse("#cloud-config\nbootcmd: [x]\nfinal_message: hi\n").unwrap();
        assert_eq!(c.ignored, vec!["bootcmd", "final_message"]);
        assert_eq!(parse("#cloud-config\n").unwrap(), CloudConfig::default());
    }

    #[test]
    fn reroot_keeps_paths_inside_root() {
        let root = Path::new("/d/root");
        assert_eq!(
            reroot(root, "/var/www/html/index.html"),
            Path::new("/d/root/var/www/html/index.html")
        );
        assert_eq!(
            reroot(root, "../../etc/passwd"),
            Path::new("/d/root/etc/passwd")
        );
        assert_eq!(reroot(root, "/a/../../b/./c"), Path::new("/d/root/b/c"));
        assert_eq!(reroot(root, "rel/x"), Path::new("/d/root/rel/x"));
    }

    #[test]
    fn json_round_trip() {
        let c = parse(AZ_ROLLING).unwrap();
        let back: CloudConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
