//! Who runs a job in one process: the runner id `pid:<n>` a local runner records on the jobs it takes, and the
//! liveness check that lets the next runner end the jobs of one that died (`pipeline::end_interrupted`).

/// This process as a job runner: `pid:<n>`.
pub fn local_runner_id() -> String {
    format!("pid:{}", std::process::id())
}

/// A local runner `pid:<n>` is gone when no such process exists any more (and it is not this one). Runners of
/// any other kind (a Step Functions execution) are never judged here.
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
