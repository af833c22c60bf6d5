//! What an instance runs ([`Program`]), how Azure `customData` chooses it
//! ([`from_custom_data`]), and how a program becomes a command line plus the files it needs
//! in the instance directory ([`launch`]) — all pure, so the supervisor only does the I/O.
//!
//! - `BuiltIn`: `armlet instance-app`.
//! - `Script`: custom data starting with `#!`, written to `custom-data.sh` and run by the
//!   interpreter its `#!` line names. It is the instance's main process.
//! - `CloudConfig`: written to `cloud-config.json`; `armlet instance-app` runs it as a boot
//!   phase (`write_files`, then `runcmd` steps to completion) and then serves as usual.
//! - `Command`: an argv from armlet's image → command mapping, run as is (no shell).
//!
//! Scripts and cloud-configs run with `<dir>/.armlet/bin` first in `PATH`: stand-ins for
//! `systemctl`, `service` and package managers that log the call and succeed, so that boot
//! scripts written for a VM neither fail nor touch the host's services.

use std::path::{Path, PathBuf};

use base64::Engine;

use super::InstanceError;
use super::cloud_config::{self, CloudConfig};

#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    /// The built-in instance app.
    BuiltIn,
    /// A `#!` script (custom data).
    Script { text: String },
    /// A `#cloud-config` (custom data): boot phase, then the built-in app.
    CloudConfig(CloudConfig),
    /// An argv chosen by armlet's configuration (image → command).
    Command { argv: Vec<String> },
}

/// Chooses the program from a scale set's base64 `customData`: none/empty → built-in app,
/// `#!` → script, `#cloud-config` → cloud-config; other content is data the built-in app
/// ignores, as cloud-init would.
pub fn from_custom_data(custom_data_base64: Option<&str>) -> Result<Program, InstanceError> {
    let Some(encoded) = custom_data_base64 else {
        return Ok(Program::BuiltIn);
    };
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| InstanceError::CustomData(format!("not base64: {e}")))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(InstanceError::CustomData(
            "gzip-compressed customData is not supported by armlet".into(),
        ));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        tracing::info!(
            "customData is binary: not a script or cloud-config, using the built-in app"
        );
        return Ok(Program::BuiltIn);
    };
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if body.starts_with("#!") {
        Ok(Program::Script {
            text: body.to_string(),
        })
    } else if body.starts_with("#cloud-config") {
        Ok(Program::CloudConfig(cloud_config::parse(body)?))
    } else {
        if !body.is_empty() {
            tracing::info!("customData is neither a #! script nor #cloud-config: ignored");
        }
        Ok(Program::BuiltIn)
    }
}

/// A file to create in the instance directory before starting.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    pub mode: u32,
}

/// How to start a program: argv, files to write first, extra environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub argv: Vec<String>,
    pub files: Vec<PreparedFile>,
    pub env: Vec<(String, String)>,
    /// Put [`shim_dir`] first in `PATH`.
    pub shims: bool,
}

/// Commands replaced by a logging no-op for scripts and cloud-configs.
pub const SHIMMED_COMMANDS: &[&str] = &[
    "systemctl",
    "service",
    "apt-get",
    "apt",
    "yum",
    "dnf",
    "zypper",
    "apk",
    "reboot",
    "shutdown",
];

const SHIM: &str = "#!/bin/sh\necho \"armlet: skipped '$(basename \"$0\") $*': an armlet instance is a process, without service or package manager\"\nexit 0\n";

/// Where the shims live inside an instance directory.
pub fn shim_dir(dir: &Path) -> PathBuf {
    dir.join(".armlet").join("bin")
}

/// The path of the cloud-config the instance app reads (`ARMLET_CLOUD_CONFIG`).
pub fn cloud_config_path(dir: &Path) -> PathBuf {
    dir.join("cloud-config.json")
}

/// Plans the start of `program` in `dir`; `self_exe` is the armlet binary.
pub fn launch(program: &Program, dir: &Path, self_exe: &Path) -> Result<Launch, InstanceError> {
    let builtin = vec![self_exe.display().to_string(), "instance-app".to_string()];
    let shims = || {
        SHIMMED_COMMANDS
            .iter()
            .map(|name| PreparedFile {
                path: shim_dir(dir).join(name),
                contents: SHIM.as_bytes().to_vec(),
                mode: 0o755,
            })
            .collect::<Vec<_>>()
    };
    Ok(match program {
        Program::BuiltIn => Launch {
            argv: builtin,
            files: vec![],
            env: vec![],
            shims: false,
        },
        Program::Script { text } => {
            let path = dir.join("custom-data.sh");
            let mut argv = interpreter(text)?;
            argv.push(path.display().to_string());
            let mut files = shims();
            files.push(PreparedFile {
                path,
                contents: text.as_bytes().to_vec(),
                mode: 0o755,
            });
            Launch {
                argv,
                files,
                env: vec![],
                shims: true,
            }
        }
        Program::CloudConfig(config) => {
            let path = cloud_config_path(dir);
            let json = serde_json::to_vec_pretty(config)
                .map_err(|e| InstanceError::Program(format!("serialising cloud-config: {e}")))?;
            let mut files = shims();
            files.push(PreparedFile {
                path: path.clone(),
                contents: json,
                mode: 0o644,
            });
            Launch {
                argv: builtin,
                files,
                env: vec![("ARMLET_CLOUD_CONFIG".into(), path.display().to_string())],
                shims: true,
            }
        }
        Program::Command { argv } => {
            if argv.first().is_none_or(|a| a.is_empty()) {
                return Err(InstanceError::Program("the command is empty".into()));
            }
            Launch {
                argv: argv.clone(),
                files: vec![],
                env: vec![],
                shims: false,
            }
        }
    })
}

/// The interpreter argv of a `#!` line, as the kernel reads it: the program, then the rest
/// of the line as one optional argument. The script file is run through it rather than
/// executed itself, so a freshly written file is never exec'd while another thread forks.
pub fn interpreter(script: &str) -> Result<Vec<String>, InstanceError> {
    let line = script
        .strip_prefix("#!")
        .and_then(|rest| rest.lines().next())
        .map(str::trim)
        .unwrap_or_default();
    let (program, arg) = match line.split_once([' ', '\t']) {
        Some((p, a)) => (p, Some(a.trim())),
        None => (line, None),
    };
    if program.is_empty() {
        return Err(InstanceError::Program(
            "the #! line names no interpreter".into(),
        ));
    }
    let mut argv = vec![program.to_string()];
    argv.extend(arg.filter(|a| !a.is_empty()).map(str::to_string));
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn custom_data_chooses_the_program() {
        assert_eq!(from_custom_data(None).unwrap(), Program::BuiltIn);
        assert_eq!(from_custom_data(Some("")).unwrap(), Program::BuiltIn);
        assert_eq!(
            from_custom_data(Some(&b64("hello"))).unwrap(),
            Program::BuiltIn
        );
        let script = from_custom_data(Some(&b64("\n#!/bin/sh\necho hi\n"))).unwrap();
        assert_eq!(
            script,
            Program::Script {
                text: "#!/bin/sh\necho hi\n".into()
            }
        );
        let Program::CloudConfig(c) =
            from_custom_data(Some(&b64("\n#cloud-config\nruncmd:\n - echo hi\n"))).unwrap()
        else {
            panic!("cloud-config expected")
        };
        assert_eq!(c.runcmd, vec!["echo hi"]);
    }

    #[test]
    fn bad_custom_data_is_an_error() {
        assert!(matches!(
            from_custom_data(Some("not base64!")),
            Err(InstanceError::CustomData(_))
        ));
        let gz = base64::engine::general_purpose::STANDARD.encode([0x1f, 0x8b, 8, 0]);
        assert!(from_custom_data(Some(&gz)).is_err());
        assert!(matches!(
            from_custom_data(Some(&b64("#cloud-config\nruncmd: 3\n"))),
            Err(InstanceError::CloudConfig(_))
        ));
    }

    #[test]
    fn shebang_lines() {
        assert_eq!(interpreter("#!/bin/sh\n").unwrap(), vec!["/bin/sh"]);
        assert_eq!(
            interpreter("#! /usr/bin/env python3 -u\nprint()").unwrap(),
            vec!["/usr/bin/env", "python3 -u"]
        );
        assert_eq!(
            interpreter("#!/bin/bash -e  \n").unwrap(),
            vec!["/bin/bash", "-e"]
        );
        assert!(interpreter("#!\n").is_err());
    }

    #[test]
    fn launches() {
        let dir = Path::new("/d/i");
        let exe = Path::new("/bin/armlet");
        let l = launch(&Program::BuiltIn, dir, exe).unwrap();
        assert_eq!(l.argv, vec!["/bin/armlet", "instance-app"]);
        let l = launch(
            &Program::Script {
                text: "#!/bin/sh\n".into(),
            },
            dir,
            exe,
        )
        .unwrap();
        assert_eq!(l.argv, vec!["/bin/sh", "/d/i/custom-data.sh"]);
        assert!(l.shims);
        assert!(
            l.files
                .iter()
                .any(|f| f.path == Path::new("/d/i/.armlet/bin/systemctl"))
        );
        let l = launch(&Program::CloudConfig(CloudConfig::default()), dir, exe).unwrap();
        assert_eq!(l.argv[1], "instance-app");
        assert_eq!(l.env[0].1, "/d/i/cloud-config.json");
        assert!(launch(&Program::Command { argv: vec![] }, dir, exe).is_err());
        let argv = vec!["python3".to_string(), "-m".into(), "http.server".into()];
        let l = launch(&Program::Command { argv: argv.clone() }, dir, exe).unwrap();
        assert_eq!(l.argv, argv);
    }
}
