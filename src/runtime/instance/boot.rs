//! The boot phase of a cloud-config instance, run by the built-in app before it serves:
//! like cloud-init, it writes `write_files` (re-rooted under `<instance dir>/root`), then
//! runs each `runcmd` step to completion with `sh -c` in the instance directory. A failing
//! step is logged and boot goes on; `packages` are logged and not installed. Step output goes
//! to the instance's logs (the boot diagnostics).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use super::cloud_config::{CloudConfig, WriteFile, reroot};

/// Reads the JSON cloud-config the supervisor wrote at `path` and boots with it.
pub async fn run_file(path: &Path, dir: &Path) {
    let config = match std::fs::read(path).map(|b| serde_json::from_slice::<CloudConfig>(&b)) {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            return tracing::error!(path = %path.display(), error = %e, "unreadable cloud-config: boot skipped");
        }
        Err(e) => {
            return tracing::error!(path = %path.display(), error = %e, "missing cloud-config: boot skipped");
        }
    };
    run(&config, dir).await
}

/// Applies `config` in the instance directory `dir`.
pub async fn run(config: &CloudConfig, dir: &Path) {
    tracing::info!(
        files = config.write_files.len(),
        steps = config.runcmd.len(),
        "cloud-config boot starting"
    );
    if !config.packages.is_empty() || config.package_upgrade {
        tracing::info!(
            packages = %config.packages.join(" "), upgrade = config.package_upgrade,
            "packages are not installed: an armlet instance is a process on this host"
        );
    }
    for key in &config.ignored {
        tracing::info!(%key, "cloud-config key not supported by armlet: ignored");
    }
    let root = dir.join("root");
    for file in &config.write_files {
        let target = reroot(&root, &file.path);
        match write_file(&target, file) {
            Ok(()) => tracing::info!(path = %file.path, at = %target.display(), "wrote file"),
            Err(e) => tracing::warn!(path = %file.path, error = %e, "write_files entry failed"),
        }
    }
    let mut failed = 0;
    for (i, step) in config.runcmd.iter().enumerate() {
        // The step number only: custom data may carry secrets, and this log is the instance's
        // boot diagnostics, which the API shows.
        tracing::info!(step = i, "runcmd");
        let status = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(step)
            .current_dir(dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .status()
            .await;
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                failed += 1;
                tracing::warn!(step = i, status = %s, "runcmd step failed; boot continues");
            }
            Err(e) => {
                failed += 1;
                tracing::warn!(step = i, error = %e, "runcmd step could not run; boot continues");
            }
        }
    }
    tracing::info!(failed, "cloud-config boot finished");
}

fn write_file(target: &Path, file: &WriteFile) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(file.append)
        .truncate(!file.append)
        .open(target)?;
    out.write_all(&file.bytes())?;
    if let Some(mode) = file.mode {
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_files_and_survives_failing_steps() {
        let dir = tempfile::tempdir().unwrap();
        let config = super::super::cloud_config::parse(
            "#cloud-config\nwrite_files:\n- path: /var/www/html/health.html\n  content: healthy\n  permissions: '0600'\nruncmd:\n- exit 3\n- echo done > marker\n- [sh, -c, 'echo $0 >> marker', two]\n",
        )
        .unwrap();
        run(&config, dir.path()).await;
        let written = dir.path().join("root/var/www/html/health.html");
        assert_eq!(std::fs::read_to_string(&written).unwrap(), "healthy");
        assert_eq!(
            std::fs::metadata(&written).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("marker")).unwrap(),
            "done\ntwo\n"
        );
    }
}
