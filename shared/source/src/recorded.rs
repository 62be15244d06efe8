//! The last table recorded of a kept checkout's tree, decoded once on a thread of its own while git fetches.
//! The move then asks it twice: whether the paths it is about to write are as recorded, and for the table of
//! the tree after the move.

use std::path::PathBuf;
use std::sync::{mpsc, Arc};

use certus_core::error::{CoreError, Result};
use certus_core::incremental::{Keeping, Paths, SinglePass, SourceFiles};
use tokio::sync::oneshot;

use crate::tree::{self, Change};

/// A tree's table as the scan cache keeps it: the base, and the delta kept since, when there is one.
pub type StoredTable = (Vec<u8>, Option<Vec<u8>>);

/// The table of the tree after git moved it from `before` to `after`, changing exactly `changes`, and what to
/// keep of it; `None` when the recorded table is not the tree of `before`.
pub type TableAfter = Option<(SourceFiles, Keeping)>;

enum Ask {
    Holds {
        commit: String,
        changes: Vec<Change>,
        reply: oneshot::Sender<bool>,
    },
    AfterMove {
        before: String,
        after: String,
        changes: Vec<Change>,
        single_pass: Option<Arc<dyn SinglePass>>,
        reply: oneshot::Sender<Result<TableAfter>>,
    },
}

/// The recorded table of the tree at a kept checkout's root, held (once decoded) by a thread of its own,
/// which ends when the last clone is dropped.
#[derive(Clone)]
pub struct Recorded {
    asks: mpsc::Sender<Ask>,
}

impl Recorded {
    /// Starts decoding `table`, recorded of the tree at `root`, on a blocking thread.
    pub fn decode(table: StoredTable, root: PathBuf) -> Self {
        let (asks, questions) = mpsc::channel();
        tokio::task::spawn_blocking(move || {
            let paths = Paths::default();
            let (base, delta) = &table;
            let previous = tree::PreviousTable::decode(base, delta.as_deref(), &paths);
            for ask in questions {
                match ask {
                    Ask::Holds {
                        commit,
                        changes,
                        reply,
                    } => {
                        let holds = previous.commit() == Some(commit.as_str())
                            && previous.holds(&root, &changes);
                        let _ = reply.send(holds);
                    }
                    Ask::AfterMove {
                        before,
                        after,
                        changes,
                        single_pass,
                        reply,
                    } => {
                        let after = match previous.commit() == Some(before.as_str()) {
                            true => tree::updated_table(
                                &root,
                                &previous,
                                &changes,
                                single_pass.as_deref(),
                            )
                            .map(|files| {
                                let keeping = previous.keeping(&files, Some(&after));
                                Some((files, keeping))
                            }),
                            false => Ok(None),
                        };
                        let _ = reply.send(after);
                    }
                }
            }
        });
        Recorded { asks }
    }

    /// Whether the tree held `commit` when the table was recorded, and every path of `changes` is still as
    /// the table has it; `false` when that cannot be told.
    pub async fn holds(&self, commit: &str, changes: Vec<Change>) -> bool {
        let (reply, answer) = oneshot::channel();
        let ask = Ask::Holds {
            commit: commit.to_string(),
            changes,
            reply,
        };
        self.asks.send(ask).is_ok() && answer.await.unwrap_or(false)
    }

    /// The tree's table after git moved it from `before` to `after`, reading only the regular files among
    /// `changes` (scanned by `single_pass` from that read); see [`TableAfter`].
    pub async fn after_move(
        &self,
        before: &str,
        after: &str,
        changes: Vec<Change>,
        single_pass: Option<Arc<dyn SinglePass>>,
    ) -> Result<TableAfter> {
        let (reply, answer) = oneshot::channel();
        let ask = Ask::AfterMove {
            before: before.to_string(),
            after: after.to_string(),
            changes,
            single_pass,
            reply,
        };
        let gone = || CoreError::Source("the kept table's reader stopped".to_string());
        self.asks.send(ask).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{encode_table, tree_table, PreviousTable};

    fn change(path: &str) -> Change {
        Change {
            path: path.to_string(),
            file: true,
        }
    }

    /// The reader answers for the commit its table was recorded at, and only for it.
    #[tokio::test]
    async fn the_reader_answers_for_the_commit_recorded_and_reads_only_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("src")).unwrap();
        std::fs::write(root.join("src/a.rs"), "one").unwrap();
        std::fs::write(root.join("b.txt"), "two").unwrap();
        let walked = tree_table(root, &PreviousTable::default(), None).unwrap();
        let recorded =
            Recorded::decode((encode_table(&walked.files, Some("c1")), None), root.into());

        assert!(recorded.holds("c1", vec![change("src/a.rs")]).await);
        assert!(!recorded.holds("c0", vec![change("src/a.rs")]).await);
        std::fs::write(root.join("src/a.rs"), "changed behind git's back").unwrap();
        assert!(!recorded.holds("c1", vec![change("src/a.rs")]).await);

        std::fs::write(root.join("src/new.rs"), "three").unwrap();
        let changes = vec![change("src/a.rs"), change("src/new.rs")];
        let elsewhere = recorded.after_move("c0", "c2", changes.clone(), None);
        assert!(elsewhere.await.unwrap().is_none());
        let (files, _) = recorded
            .after_move("c1", "c2", changes, None)
            .await
            .unwrap()
            .unwrap();
        let now = tree_table(root, &PreviousTable::default(), None).unwrap();
        let digests = |files: &SourceFiles| -> Vec<(String, String)> {
            files
                .files
                .iter()
                .map(|f| (f.path.clone(), f.sha256.to_string()))
                .collect()
        };
        assert_eq!(digests(&files), digests(&now.files));
        // Only the two changed files were read; `b.txt` is as the table recorded it.
        assert_eq!(files.digests_reused, 1);
    }
}
