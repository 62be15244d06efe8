//! Local publication of a real finished bundle: raw staging checked against the index, golden promotion,
//! per-object metadata, idempotence, and refusals (tampered or foreign files, a different index, unsafe
//! settings and ids) that leave golden untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how it reports the unexpected

mod common;

use std::os::unix::fs::MetadataExt;

use certus_core::bundle::INDEX;
use certus_core::ports::Publisher;
use certus_trust::{LocalPublisher, LocalPublisherConfig, TrustError, GOLDEN_SIDECAR, RAW_SIDECAR};
use common::*;

fn identity(path: &std::path::Path) -> (u64, i64, i64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.ino(), meta.mtime(), meta.mtime_nsec())
}

async fn publish(
    fx: &Fixture,
) -> Result<certus_core::job::RemoteArtifacts, certus_core::CoreError> {
    fx.publisher()
        .publish(
            &fx.job,
            fx.job.bundle_location.as_deref().unwrap(),
            &fx.index(),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_twice_rewrites_nothing_and_metadata_describes_every_object() {
    let fx = finished_job().await;
    let first = publish(&fx).await.unwrap();
    let mut job = fx.job.clone();
    job.remote_artifacts = first.clone();
    job.upload_status = certus_core::job::UploadStatus::Uploaded;
    assert_published(&fx, &job);

    let objects: Vec<_> = files_under(&raw_dir(&fx))
        .into_iter()
        .chain(files_under(&golden_dir(&fx)))
        .collect();
    let before: Vec<_> = objects.iter().map(|p| identity(p)).collect();
    let second = publish(&fx).await.unwrap();
    assert_eq!(second, first);
    let after: Vec<_> = objects.iter().map(|p| identity(p)).collect();
    assert_eq!(after, before, "no object rewritten");

    for (root, sidecar) in [("raw", RAW_SIDECAR), ("golden", GOLDEN_SIDECAR)] {
        let path = fx
            .data_dir()
            .join(root)
            .join("security-scans")
            .join(&fx.job.test_id)
            .join(sidecar);
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let objects = meta["objects"].as_object().unwrap();
        assert_eq!(
            objects
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>(),
            fx.bundle_names()
        );
        let index = &objects[INDEX];
        assert_eq!(
            index["sha256"],
            format!("sha256:{}", digest_of(&fx.bundle_dir().join(INDEX)))
        );
        assert_eq!(index["test_id"], fx.job.test_id.as_str());
        assert_eq!(index["component_id"], "demo");
    }
    assert_eq!(
        fx.publisher().raw_destination(&fx.job.test_id),
        format!("file://{}/", raw_dir(&fx).display())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_file_changed_after_indexing_never_reaches_golden() {
    let fx = finished_job().await;
    std::fs::write(fx.bundle_dir().join("summary.json"), b"{\"forged\":true}").unwrap();
    let err = publish(&fx).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("raw set of job"), "{text}");
    assert!(text.contains("summary.json: size"), "{text}");
    assert_eq!(
        files_under(&golden_dir(&fx)),
        Vec::<std::path::PathBuf>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_file_in_the_raw_set_stops_promotion() {
    let fx = finished_job().await;
    std::fs::create_dir_all(raw_dir(&fx).join("reports")).unwrap();
    std::fs::write(raw_dir(&fx).join("reports/planted.json"), b"{}").unwrap();
    let err = publish(&fx).await.unwrap_err().to_string();
    assert!(
        err.contains("reports/planted.json: present but not listed in the index"),
        "{err}"
    );
    assert_eq!(
        files_under(&golden_dir(&fx)),
        Vec::<std::path::PathBuf>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_of_an_interrupted_run_are_cleared() {
    let fx = finished_job().await;
    std::fs::create_dir_all(golden_dir(&fx).join("reports")).unwrap();
    std::fs::write(golden_dir(&fx).join("reports/.tmp-0123abcd"), b"half").unwrap();
    std::fs::create_dir_all(raw_dir(&fx)).unwrap();
    std::fs::write(raw_dir(&fx).join(".tmp-99"), b"half").unwrap();
    publish(&fx).await.unwrap();
    assert!(!golden_dir(&fx).join("reports/.tmp-0123abcd").exists());
    assert!(!raw_dir(&fx).join(".tmp-99").exists());
    assert_eq!(files_under(&golden_dir(&fx)).len(), fx.bundle_names().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_other_than_the_bundles_own_is_refused() {
    let fx = finished_job().await;
    let mut index = fx.index();
    index.files.pop();
    let err = fx
        .publisher()
        .publish(&fx.job, fx.job.bundle_location.as_deref().unwrap(), &index)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("carries an index that differs"),
        "{err}"
    );
    assert_nothing_published(&fx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_ids_and_settings_are_refused() {
    let fx = finished_job().await;
    let mut job = fx.job.clone();
    job.test_id = "../../elsewhere".into();
    let err = fx
        .publisher()
        .publish(
            &job,
            fx.job.bundle_location.as_deref().unwrap(),
            &fx.index(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not a test id"), "{err}");
    assert_nothing_published(&fx);

    for prefix in ["../escape", "/absolute", ""] {
        let mut config = LocalPublisherConfig::under(&fx.data_dir());
        config.golden_prefix = prefix.into();
        let err = LocalPublisher::new(&config).unwrap_err();
        assert!(
            matches!(
                err,
                TrustError::PublishSetting {
                    setting: "golden",
                    ..
                }
            ),
            "{prefix}: {err}"
        );
    }
}
