//! Launching an instance process: the files its program needs, its environment, its own
//! process group, its log files and its pid file.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use chrono::Utc;

use super::InstanceError;
use super::logs;
use super::orphans::{self, PidFile};
use super::program::{self, PreparedFile};
use super::spec::{self, InstanceSpec};

/// Starts `spec`'s program in `dir` (created if needed): its own process group, the
/// instance environment, stdout/stderr appended to the logs, a pid file. Returns the child
/// and its pid (= its process group id).
pub fn spawn(
    spec: &InstanceSpec,
    dir: &Path,
    self_exe: &Path,
) -> Result<(tokio::process::Child, u32), InstanceError> {
    let io = |what: &str, e| InstanceError::io(format!("{what} in {}", dir.display()), e);
    std::fs::create_dir_all(dir).map_err(|e| io("creating the instance directory", e))?;
    let plan = program::launch(&spec.program, dir, self_exe)?;
    for file in &plan.files {
        prepare(file).map_err(|e| io("writing files", e))?;
    }
    let mut stdout =
        logs::open_append(&logs::stdout_path(dir)).map_err(|e| io("opening logs", e))?;
    let mut stderr =
        logs::open_append(&logs::stderr_path(dir)).map_err(|e| io("opening logs", e))?;
    {
        use std::io::Write;
        let _ = writeln!(
            stdout,
            "=== armlet {}: starting {} (model {}): {}",
            Utc::now().to_rfc3339(),
            spec.instance_name,
            spec.model_version,
            plan.argv.join(" ")
        );
    }
    let mut cmd = tokio::process::Command::new(&plan.argv[0]);
    cmd.args(&plan.argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(false);
    // armlet's own configuration and the host's credentials are not the instance's business
    // (an Azure VM gets nothing of its operator's environment).
    for (name, _) in std::env::vars_os() {
        if spec::is_host_private(&name.to_string_lossy()) {
            cmd.env_remove(name);
        }
    }
    cmd.envs(spec::environment(spec, dir))
        .envs(plan.env.clone());
    if plan.shims {
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        cmd.env(
            "PATH",
            format!("{}:{path}", program::shim_dir(dir).display()),
        );
    }
    let stderr_for_child = stderr.try_clone().map_err(|e| io("opening logs", e))?;
    cmd.stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr_for_child));
    let child = cmd.spawn().map_err(|e| {
        use std::io::Write;
        let _ = writeln!(stderr, "armlet: cannot start {}: {e}", plan.argv[0]);
        InstanceError::io(
            format!("starting {} for {}", plan.argv[0], spec.instance_name),
            e,
        )
    })?;
    let pid = child.id().unwrap_or_default();
    let record = PidFile {
        key: spec.key.clone(),
        pid: pid as i32,
        pgid: pid as i32,
        start_time: orphans::proc_stat(pid as i32).map(|s| s.start_time),
        supervisor_pid: std::process::id(),
    };
    orphans::write_pid_file(dir, &record).map_err(|e| io("writing the pid file", e))?;
    Ok((child, pid))
}

fn prepare(file: &PreparedFile) -> std::io::Result<()> {
    if let Some(parent) = file.path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&file.path, &file.contents)?;
    std::fs::set_permissions(&file.path, std::fs::Permissions::from_mode(file.mode))
}
