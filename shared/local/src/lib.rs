//! Embedded adapters for one machine: job records and events in SQLite, bundles in local directories.

pub mod artifacts;
pub mod runs;
pub mod sqlite;

pub use artifacts::{LocalArtifactStore, Placement};
pub use runs::DirRunStore;
pub use sqlite::SqliteStore;

/// This process as a job runner: `pid:<n>`.
pub fn local_runner_id() -> String {
    format!("pid:{}", std::process::id())
}

/// A local runner `pid:<n>` is gone when no such process exists any more (and it is not this one).
pub fn local_runner_is_gone(runner: &str) -> bool {
    runner
        .strip_prefix("pid:")
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| {
            pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_liveness() {
        assert!(!local_runner_is_gone(&local_runner_id()));
        assert!(local_runner_is_gone(&format!("pid:{}", u32::MAX)));
        assert!(!local_runner_is_gone("arn:aws:states:execution"));
    }
}
