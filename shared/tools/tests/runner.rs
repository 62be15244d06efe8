//! Process runner behaviour with real `sh` scripts: timeouts kill the whole process group,
//! output is capped, lines stream while the tool runs, the environment is cleared.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use certus_tools::{
    run_tool, run_tool_until, RunStatus, Stream, ToolCommand, ToolError, CUT_MARKER, MAX_LINE_BYTES,
};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn command(program: PathBuf, args: &[&str], cwd: &Path, timeout: Duration) -> ToolCommand {
    ToolCommand {
        program,
        args: args.iter().map(Into::into).collect(),
        cwd: cwd.to_path_buf(),
        env: Vec::new(),
        timeout,
        max_output_bytes: 1024 * 1024,
    }
}

/// True once `pid` no longer runs (gone, or a zombie waiting for a reaper).
fn process_is_dead(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
    }
}

fn wait_until_dead(pid: u32, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if process_is_dead(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    process_is_dead(pid)
}

fn read_pid(path: &Path) -> u32 {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(text) = fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        assert!(Instant::now() < end, "no pid written to {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_hung_tool_and_its_term_ignoring_grandchild_are_killed_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    // The grandchild ignores SIGTERM, so only the SIGKILL to the whole group can end it.
    let program = script(
        dir.path(),
        "hang.sh",
        "(trap '' TERM; exec sleep 300) &\necho $! > \"$1\"\necho started\nsleep 300\n",
    );
    let mut lines = Vec::new();
    let run = run_tool(
        &command(
            program,
            &[pid_file.to_str().unwrap()],
            dir.path(),
            Duration::from_secs(1),
        ),
        &mut |stream, line| lines.push((stream, line.to_string())),
    )
    .unwrap();
    let grandchild = read_pid(&pid_file);

    assert_eq!(run.status, RunStatus::TimedOut);
    assert_eq!(run.exit_code, None);
    assert!(run.duration >= Duration::from_secs(1), "{:?}", run.duration);
    assert!(run.duration < Duration::from_secs(10), "{:?}", run.duration);
    assert!(lines.contains(&(Stream::Stdout, "started".to_string())));
    assert!(
        wait_until_dead(grandchild, Duration::from_secs(3)),
        "grandchild {grandchild} survived the timeout"
    );
}

/// A cancelled scan's tool: once the stop flag is set, the whole group (the TERM-ignoring grandchild too)
/// is killed as at the timeout, long before it (300 s), and the run says it was stopped.
#[test]
fn a_stopped_tool_and_its_grandchild_are_killed_without_waiting_for_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let program = script(
        dir.path(),
        "hang.sh",
        "(trap '' TERM; exec sleep 300) &\necho $! > \"$1\"\necho started\nsleep 300\n",
    );
    let stop = AtomicBool::new(false);
    let run = run_tool_until(
        &command(
            program,
            &[pid_file.to_str().unwrap()],
            dir.path(),
            Duration::from_secs(300),
        ),
        &stop,
        &mut |_, line| {
            if line == "started" {
                stop.store(true, Ordering::SeqCst);
            }
        },
    )
    .unwrap();
    assert_eq!(run.status, RunStatus::Stopped);
    assert_eq!(run.exit_code, None);
    let grandchild = read_pid(&pid_file);
    assert!(
        wait_until_dead(grandchild, Duration::from_secs(10)),
        "grandchild {grandchild} survived the stop"
    );
}

#[test]
fn leftovers_of_a_tool_that_exited_are_killed_and_do_not_block_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("leftover.pid");
    // The background sleep keeps stdout open; the runner must not wait 300 s for it.
    let program = script(
        dir.path(),
        "leave.sh",
        "sleep 300 &\necho $! > \"$1\"\necho bye\nexit 0\n",
    );
    let run = run_tool(
        &command(
            program,
            &[pid_file.to_str().unwrap()],
            dir.path(),
            Duration::from_secs(60),
        ),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.exit_code, Some(0));
    assert!(run.duration < Duration::from_secs(10), "{:?}", run.duration);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "bye\n");
    let leftover = read_pid(&pid_file);
    assert!(wait_until_dead(leftover, Duration::from_secs(3)));
}

#[test]
fn large_output_is_capped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "spew.sh", "yes 0123456789 | head -c 3000000\n");
    let mut command = command(program, &[], dir.path(), Duration::from_secs(30));
    command.max_output_bytes = 100_000;
    let mut line_count = 0usize;
    let run = run_tool(&command, &mut |_, _| line_count += 1).unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.exit_code, Some(0));
    assert_eq!(run.stdout.len(), 100_000);
    assert!(run.stdout_truncated);
    // Every line is still streamed, even past the capture cap.
    assert_eq!(line_count, 3_000_000 / 11 + 1);
}

#[test]
fn output_under_the_cap_is_kept_whole() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "small.sh", "printf 'a\\nb'\n");
    let run = run_tool(
        &command(program, &[], dir.path(), Duration::from_secs(30)),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(run.stdout, b"a\nb");
    assert!(!run.stdout_truncated);
}

#[test]
fn very_long_lines_are_cut_for_the_callback() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(
        dir.path(),
        "long.sh",
        "head -c 20000 /dev/zero | tr '\\0' x\necho\necho short\n",
    );
    let mut lines = Vec::new();
    run_tool(
        &command(program, &[], dir.path(), Duration::from_secs(30)),
        &mut |_, line| lines.push(line.to_string()),
    )
    .unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        format!("{}{CUT_MARKER}", "x".repeat(MAX_LINE_BYTES))
    );
    assert_eq!(lines[1], "short");
}

#[test]
fn stderr_lines_stream_while_the_tool_runs() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(
        dir.path(),
        "slow.sh",
        "echo first >&2\nsleep 2\necho second >&2\necho out\nexit 3\n",
    );
    let start = Instant::now();
    let mut seen = Vec::new();
    let run = run_tool(
        &command(program, &[], dir.path(), Duration::from_secs(30)),
        &mut |stream, line| seen.push((stream, line.to_string(), start.elapsed())),
    )
    .unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.exit_code, Some(3));
    let first = seen
        .iter()
        .find(|(stream, line, _)| *stream == Stream::Stderr && line == "first")
        .expect("first stderr line");
    assert!(
        first.2 < Duration::from_millis(1500),
        "arrived at {:?}",
        first.2
    );
    assert!(seen
        .iter()
        .any(|(stream, line, _)| *stream == Stream::Stderr && line == "second"));
    assert!(seen
        .iter()
        .any(|(stream, line, _)| *stream == Stream::Stdout && line == "out"));
    assert!(run.stderr_tail.contains("first\nsecond"));
}

#[test]
fn a_tool_killed_by_someone_else_is_reported_as_killed() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "suicide.sh", "kill -9 $$\n");
    let run = run_tool(
        &command(program, &[], dir.path(), Duration::from_secs(30)),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(run.status, RunStatus::Killed);
    assert_eq!(run.exit_code, None);
    assert_eq!(run.signal, Some(9));
}

#[test]
fn the_environment_is_cleared_to_the_allowlist() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "env.sh", "env\n");
    let mut command = command(program, &[], dir.path(), Duration::from_secs(30));
    command.env = vec![("SEMGREP_SEND_METRICS".to_string(), "off".to_string())];
    let run = run_tool(&command, &mut |_, _| {}).unwrap();
    let output = String::from_utf8(run.stdout).unwrap();
    let mut names: Vec<&str> = output
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        // Set by `sh` itself.
        .filter(|name| !matches!(*name, "PWD" | "SHLVL" | "_" | "OLDPWD"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["HOME", "LANG", "PATH", "SEMGREP_SEND_METRICS"]);
    let home = output
        .lines()
        .find_map(|line| line.strip_prefix("HOME="))
        .unwrap();
    assert_ne!(Some(home.to_string()), std::env::var("HOME").ok());
    assert!(home.contains("certus-tool-home-"), "{home}");
}

#[test]
fn credential_variables_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "noop.sh", "exit 0\n");
    let mut command = command(program, &[], dir.path(), Duration::from_secs(30));
    command.env = vec![("AWS_ACCESS_KEY_ID".to_string(), "x".to_string())];
    let err = run_tool(&command, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(&err, ToolError::ForbiddenEnv(name) if name == "AWS_ACCESS_KEY_ID"),
        "{err}"
    );
}

#[test]
fn arguments_never_pass_through_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let hostile = format!(
        "; touch {} $(touch {}) `id`",
        marker.display(),
        marker.display()
    );
    let run = run_tool(
        &command(
            PathBuf::from("/bin/echo"),
            &[hostile.as_str()],
            dir.path(),
            Duration::from_secs(30),
        ),
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), format!("{hostile}\n"));
    assert!(!marker.exists());
}

#[test]
fn a_missing_program_is_a_spawn_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = run_tool(
        &command(
            dir.path().join("no-such-tool"),
            &[],
            dir.path(),
            Duration::from_secs(5),
        ),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, ToolError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("no-such-tool"));
}

#[test]
fn a_panicking_callback_still_kills_the_tool_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    let program = script(
        dir.path(),
        "chatty.sh",
        "sleep 300 &\necho $! > \"$1\"\nsleep 0.2\necho hello\nsleep 300\n",
    );
    let command = command(
        program,
        &[pid_file.to_str().unwrap()],
        dir.path(),
        Duration::from_secs(120),
    );
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_tool(&command, &mut |_, line| panic!("callback failed on {line}"))
    }));
    assert!(outcome.is_err(), "the callback's panic was swallowed");
    let sleeper = read_pid(&pid_file);
    assert!(wait_until_dead(sleeper, Duration::from_secs(3)));
}
