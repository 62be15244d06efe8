//! The hash chain of an audit trail (docs/audit-trail.md): every entry carries `prev`, the lowercase hex
//! SHA-256 of the RFC 8785 (JCS) bytes of the previous entry's JSON object exactly as `certus audit export`
//! prints it (`test_id`, `seq`, `at`, `kind`, `detail` and, when it has one, `prev`); the first entry's
//! `prev` is [`GENESIS`]. The job record keeps the head (the hash of the last entry and the count), so a
//! removed last entry is seen too.
//!
//! Entries written before the chain have no `prev`: such a legacy prefix is accepted as it is (the first
//! chained entry links to its last entry) and [`ChainCheck`] says how long it is. A missing `prev` after a
//! chained entry is a break.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::audit::AuditEntry;
use crate::digest::{canonical_json, sha256_hex, Sha256Digest};
use crate::error::{CoreError, Result};

/// The `prev` of a trail's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain head a job record keeps: the hash of the trail's last entry and how many entries it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Lowercase hex SHA-256 of the last entry's canonical bytes ([`entry_hash`]).
    pub sha256: Sha256Digest,
    /// The number of entries, which is the last entry's seq.
    pub count: u64,
}

/// The bytes an entry is hashed over: the RFC 8785 form of its JSON object.
pub fn canonical_entry(entry: &AuditEntry) -> Result<Vec<u8>> {
    let value = serde_json::to_value(entry).map_err(|e| CoreError::json("audit entry", e))?;
    canonical_json(&value)
}

/// Lowercase hex SHA-256 of [`canonical_entry`]: the next entry's `prev`.
pub fn entry_hash(entry: &AuditEntry) -> Result<String> {
    canonical_entry(entry).map(|bytes| sha256_hex(&bytes))
}

/// The head after `entry`.
pub fn head_of(entry: &AuditEntry) -> Result<AuditHead> {
    Ok(AuditHead {
        sha256: Sha256Digest::of(&canonical_entry(entry)?),
        count: entry.seq,
    })
}

/// How a link is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// An entry is missing (a gap in the seqs, or fewer entries than the job record's head counts).
    Removed,
    /// An entry's content no longer hashes to what the next entry (or the job record's head) holds.
    Edited,
    /// Entries are out of place: an entry's `prev` is the hash of an entry kept elsewhere in the trail.
    Reordered,
}

impl fmt::Display for BreakKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Removed => "removed",
            Self::Edited => "edited",
            Self::Reordered => "reordered",
        })
    }
}

/// The first broken link: `index` is the 1-based position in the trail of the entry it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    pub index: u64,
    pub kind: BreakKind,
    pub reason: String,
}

/// What [`check_chain`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    pub entries: u64,
    /// Leading entries written before the chain (no `prev`); only the last of them is covered, by the link
    /// from the first chained entry.
    pub legacy_prefix: u64,
    /// The head recomputed from the trail (`None` for an empty trail).
    pub head: Option<AuditHead>,
    /// Entries appended after the head the job record keeps (the trail is written before the record, so a
    /// save that failed afterwards leaves some): covered by the chain but not by the record.
    pub beyond_record_head: u64,
    pub broken: Option<BrokenLink>,
}

/// Recomputes the chain of `trail` (in the order the store returns it, which is seq order) against the head
/// the job record keeps (`None` for a record written before the chain, or no record).
pub fn check_chain(trail: &[AuditEntry], record_head: Option<&AuditHead>) -> Result<ChainCheck> {
    let hashes = trail.iter().map(entry_hash).collect::<Result<Vec<_>>>()?;
    let legacy_prefix = trail.iter().take_while(|e| e.prev.is_none()).count();
    let mut check = ChainCheck {
        entries: trail.len() as u64,
        legacy_prefix: legacy_prefix as u64,
        head: trail.last().map(head_of).transpose()?,
        beyond_record_head: 0,
        broken: None,
    };
    let broken = |index: usize, kind, reason: String| BrokenLink {
        index: index as u64 + 1,
        kind,
        reason,
    };
    for (i, entry) in trail.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        if entry.seq != expected_seq {
            let reordered =
                entry.seq < expected_seq || trail[i..].iter().any(|e| e.seq == expected_seq);
            check.broken = Some(if reordered {
                broken(
                    i,
                    BreakKind::Reordered,
                    format!("seq {} stands where seq {expected_seq} belongs", entry.seq),
                )
            } else {
                broken(
                    i,
                    BreakKind::Removed,
                    format!(
                        "seq {expected_seq} is missing: the entry here has seq {}",
                        entry.seq
                    ),
                )
            });
            return Ok(check);
        }
        if i < legacy_prefix {
            continue;
        }
        let Some(prev) = &entry.prev else {
            check.broken = Some(broken(
                i,
                BreakKind::Edited,
                "it has no prev although the entries before it are chained".into(),
            ));
            return Ok(check);
        };
        let expected = if i == 0 { GENESIS } else { &hashes[i - 1] };
        if prev == expected {
            continue;
        }
        check.broken = Some(misplaced(trail, i, prev)?.unwrap_or_else(|| {
            if i == 0 {
                broken(
                    0,
                    BreakKind::Removed,
                    "the first entry's prev is not the genesis value: entries before it are gone"
                        .into(),
                )
            } else {
                broken(
                    i - 1,
                    BreakKind::Edited,
                    format!(
                        "its hash {} is not the prev {prev} of the entry after it",
                        hashes[i - 1]
                    ),
                )
            }
        }));
        return Ok(check);
    }
    if let Some(head) = record_head {
        let count = usize::try_from(head.count).unwrap_or(usize::MAX);
        if count > trail.len() {
            check.broken = Some(broken(
                trail.len(),
                BreakKind::Removed,
                format!(
                    "the job record's head counts {} entries but the trail has {}",
                    head.count,
                    trail.len()
                ),
            ));
        } else if count > 0 && hashes[count - 1] != head.sha256.to_string() {
            check.broken = Some(broken(
                count - 1,
                BreakKind::Edited,
                format!(
                    "its hash {} is not the head {} the job record keeps",
                    hashes[count - 1],
                    head.sha256
                ),
            ));
        } else {
            check.beyond_record_head = (trail.len() - count) as u64;
        }
    }
    Ok(check)
}

/// Trails up to this long are searched for a moved entry under every seq it could have had; longer ones
/// only under its own seq and its neighbours'.
const FULL_SEARCH: usize = 1000;

/// When `prev` (found at position `i`) is the hash of another entry of the trail as it was before it was
/// moved (under its own seq, or the seq it was renumbered from), that entry was moved: a reordering.
fn misplaced(trail: &[AuditEntry], i: usize, prev: &str) -> Result<Option<BrokenLink>> {
    let found = |j: usize, other: &AuditEntry| {
        BrokenLink {
        index: i as u64 + 1,
        kind: BreakKind::Reordered,
        reason: format!(
            "its prev is the hash of the entry now at position {} (seq {}), which belonged just before it",
            j + 1,
            other.seq
        ),
    }
    };
    if i > 0 && prev == GENESIS {
        return Ok(Some(BrokenLink {
            index: i as u64 + 1,
            kind: BreakKind::Reordered,
            reason: "it holds the genesis prev of a first entry".into(),
        }));
    }
    let here = trail[i].seq;
    let seqs: Vec<u64> = if trail.len() <= FULL_SEARCH {
        (1..=trail.len() as u64).collect()
    } else {
        vec![here.saturating_sub(1), here, i as u64, i as u64 + 1]
    };
    for (j, other) in trail.iter().enumerate() {
        if j + 1 == i || j == i {
            continue;
        }
        let mut moved = other.clone();
        for seq in seqs.iter().copied().chain([other.seq]) {
            moved.seq = seq;
            if entry_hash(&moved)? == prev {
                return Ok(Some(found(j, other)));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditKind;
    use crate::time;
    use serde_json::json;

    /// A chained trail of `n` entries, and the head a job record would keep.
    fn chained(n: u64) -> (Vec<AuditEntry>, AuditHead) {
        let mut trail: Vec<AuditEntry> = Vec::new();
        for seq in 1..=n {
            let prev = match trail.last() {
                Some(last) => entry_hash(last).unwrap(),
                None => GENESIS.to_string(),
            };
            trail.push(AuditEntry {
                test_id: "test_0123456789ab".into(),
                seq,
                at: time::now(),
                kind: AuditKind::StatusChanged,
                detail: json!({"step": seq}),
                prev: Some(prev),
            });
        }
        let head = head_of(trail.last().unwrap()).unwrap();
        (trail, head)
    }

    fn broken(trail: &[AuditEntry], head: Option<&AuditHead>) -> (u64, BreakKind) {
        let link = check_chain(trail, head)
            .unwrap()
            .broken
            .expect("a broken link");
        (link.index, link.kind)
    }

    #[test]
    fn an_untouched_trail_verifies_and_its_head_is_the_records() {
        let (trail, head) = chained(5);
        let check = check_chain(&trail, Some(&head)).unwrap();
        assert_eq!(check.broken, None);
        assert_eq!(check.head, Some(head));
        assert_eq!((check.entries, check.legacy_prefix), (5, 0));
        assert_eq!(check_chain(&[], None).unwrap().broken, None);
    }

    #[test]
    fn a_removed_entry_is_named_in_the_middle_at_the_start_and_at_the_end() {
        let (trail, head) = chained(5);
        let mut gap = trail.clone();
        gap.remove(2);
        assert_eq!(broken(&gap, Some(&head)), (3, BreakKind::Removed));
        let mut renumbered = trail.clone();
        renumbered.remove(0);
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        assert_eq!(broken(&renumbered, Some(&head)).1, BreakKind::Removed);
        let mut tail = trail.clone();
        tail.pop();
        assert_eq!(broken(&tail, Some(&head)), (5, BreakKind::Removed));
    }

    #[test]
    fn an_edited_entry_is_named_by_the_link_after_it_or_by_the_records_head() {
        let (trail, head) = chained(5);
        let mut edited = trail.clone();
        edited[1].detail = json!({"step": "forged"});
        assert_eq!(broken(&edited, Some(&head)), (2, BreakKind::Edited));
        let mut last = trail.clone();
        last[4].detail = json!({"step": "forged"});
        assert_eq!(broken(&last, Some(&head)), (5, BreakKind::Edited));
        let mut stripped = trail.clone();
        stripped[3].prev = None;
        assert_eq!(broken(&stripped, Some(&head)), (4, BreakKind::Edited));
    }

    #[test]
    fn swapped_entries_are_named_as_reordered() {
        let (trail, head) = chained(5);
        let mut swapped = trail.clone();
        swapped.swap(1, 2);
        swapped[1].seq = 2;
        swapped[2].seq = 3;
        assert_eq!(broken(&swapped, Some(&head)), (2, BreakKind::Reordered));
        let mut keys_only = trail.clone();
        keys_only.swap(1, 2);
        assert_eq!(broken(&keys_only, Some(&head)), (2, BreakKind::Reordered));
    }

    #[test]
    fn a_legacy_prefix_is_accepted_and_stated_and_its_last_entry_is_covered() {
        let (mut trail, _) = chained(2);
        for e in &mut trail {
            e.prev = None;
        }
        for seq in 3..=4 {
            let prev = entry_hash(trail.last().unwrap()).unwrap();
            let mut next = trail[0].clone();
            next.seq = seq;
            next.prev = Some(prev);
            trail.push(next);
        }
        let head = head_of(&trail[3]).unwrap();
        let check = check_chain(&trail, Some(&head)).unwrap();
        assert_eq!((check.broken, check.legacy_prefix), (None, 2));
        let only_legacy = &trail[..2];
        assert_eq!(check_chain(only_legacy, None).unwrap().broken, None);
        let mut edited = trail.clone();
        edited[1].detail = json!("forged");
        assert_eq!(broken(&edited, Some(&head)), (2, BreakKind::Edited));
    }

    #[test]
    fn entries_after_the_records_head_are_counted_not_broken() {
        let (trail, _) = chained(4);
        let older = head_of(&trail[1]).unwrap();
        let check = check_chain(&trail, Some(&older)).unwrap();
        assert_eq!((check.broken, check.beyond_record_head), (None, 2));
    }

    #[test]
    fn the_hash_is_over_the_rfc8785_bytes_of_the_exported_object() {
        let (trail, _) = chained(1);
        let bytes = canonical_entry(&trail[0]).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with(r#"{"at":""#) && text.contains(r#","prev":"0000"#),
            "{text}"
        );
        assert_eq!(entry_hash(&trail[0]).unwrap(), sha256_hex(text.as_bytes()));
    }
}
