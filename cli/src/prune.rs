//! `certus prune --older-than 30d`: removes the private workspaces (`runs/<id>`) and stored bundles
//! (`bundles/<id>`) of finished jobs created before the cut-off, from the data directory only. Job records and
//! their audit trails are never touched, nor bundles written elsewhere with `--out`, nor a running job's files.

use std::path::{Path, PathBuf};

use certus_core::ids::parse_test_id;
use certus_core::ports::{JobQuery, JobStore};
use certus_core::settings::Settings;
use certus_local::SqliteStore;

use crate::error::{CliError, Result};
use crate::local;

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Prune jobs created longer ago than this: a number and a unit, s, m, h, d or w (30d, 12h).
    #[arg(long, value_parser = parse_age, value_name = "AGE")]
    pub older_than: chrono::Duration,
    /// List what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Data directory (default: as for `certus scan`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

fn parse_age(text: &str) -> std::result::Result<chrono::Duration, String> {
    let usage =
        || format!("'{text}' is not an age: use a number and a unit, s, m, h, d or w (30d)");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(usage)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| usage())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(usage()),
    };
    n.checked_mul(seconds)
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(usage)
}

/// Bytes under `path`, symbolic links counted as themselves and never followed.
fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| size_of(&entry.path()))
        .sum()
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

pub async fn run(args: PruneArgs) -> Result<i32> {
    let settings = Settings::from_env()?;
    let data = local::data_dir(args.data_dir.as_deref(), &settings)?;
    let db = data.join("certus.db");
    if !db.is_file() {
        return Err(CliError::Usage(format!(
            "no job records at {}: nothing to prune (set --data-dir)",
            db.display()
        )));
    }
    let store = SqliteStore::open(&db)?;
    let cutoff = certus_core::time::now() - args.older_than;
    let mut query = JobQuery {
        created_before: Some(cutoff),
        limit: 200,
        ..JobQuery::default()
    };
    let (mut workspaces, mut bundles, mut freed) = (0u64, 0u64, 0u64);
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    loop {
        let page = store.list(&query).await?;
        for job in page.jobs.iter().filter(|j| j.status.is_terminal()) {
            // The id names directories: only the exact `test_` form may.
            if parse_test_id(&job.test_id).is_err() {
                continue;
            }
            let candidates = [
                (data.join("runs").join(&job.test_id), false),
                (data.join("bundles").join(&job.test_id), true),
                (
                    data.join("bundles")
                        .join(format!(".staging-{}", job.test_id)),
                    true,
                ),
            ];
            for (dir, is_bundle) in candidates {
                if std::fs::symlink_metadata(&dir).is_err() {
                    continue;
                }
                let size = size_of(&dir);
                if !args.dry_run {
                    std::fs::remove_dir_all(&dir).map_err(|e| CliError::io(&dir, e))?;
                }
                println!("{verb} {} ({})", dir.display(), megabytes(size));
                if is_bundle {
                    bundles += 1;
                } else {
                    workspaces += 1;
                }
                freed += size;
            }
        }
        match page.next_page_token {
            Some(token) => query.page_token = Some(token),
            None => break,
        }
    }
    println!(
        "{} {workspaces} workspace(s) and {bundles} bundle(s) of jobs created before {}: {}; job records and \
         audit trails kept",
        if args.dry_run { "would prune" } else { "pruned" },
        certus_core::time::format(&cutoff),
        megabytes(freed)
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::parse_age;

    #[test]
    fn ages_need_a_number_and_a_unit() {
        assert_eq!(parse_age("30d").unwrap().num_seconds(), 30 * 86_400);
        assert_eq!(parse_age("2w").unwrap().num_seconds(), 14 * 86_400);
        assert_eq!(parse_age("0s").unwrap().num_seconds(), 0);
        for bad in ["30", "d", "30days", "-1d", "99999999999999999w"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
