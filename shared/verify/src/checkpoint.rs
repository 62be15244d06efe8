//! Signed checkpoints (transparency log note format) as Rekor v1 writes them.

use crate::bundle::InclusionProof;
use crate::encoding::{check_size, decode_base64, MAX_CHECKPOINT_BYTES};
use crate::error::{Result, VerifyError};
use crate::trusted_root::TransparencyLog;

const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Checks the note is signed by `log` and commits to the proof's tree size and root hash.
pub(crate) fn verify(note: &str, log: &TransparencyLog, proof: &InclusionProof) -> Result<()> {
    let invalid = |reason: &str| VerifyError::InvalidCheckpoint(reason.to_owned());
    check_size("checkpoint", note.len(), MAX_CHECKPOINT_BYTES)?;
    let (body, signatures) = note
        .split_once("\n\n")
        .ok_or_else(|| invalid("no blank line between the note body and its signatures"))?;
    let mut lines = body.split('\n');
    let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(invalid(
            "the note body needs an origin, a tree size and a root hash",
        ));
    };
    if origin.is_empty() {
        return Err(invalid("the origin line is empty"));
    }
    let size: u64 = size
        .parse()
        .map_err(|_| invalid("the tree size line is not a number"))?;
    if size != proof.tree_size {
        return Err(VerifyError::InvalidCheckpoint(format!(
            "checkpoint tree size {size} differs from the proof's {}",
            proof.tree_size
        )));
    }
    let root = decode_base64("checkpoint root hash", root)?;
    if root != proof.root_hash {
        return Err(invalid(
            "checkpoint root hash differs from the proof's root hash",
        ));
    }
    let signed = format!("{body}\n");
    let key_hint = log.log_id.get(..4).unwrap_or_default();
    for line in signatures.lines() {
        let Some((_name, encoded)) = line
            .strip_prefix(SIGNATURE_PREFIX)
            .and_then(|rest| rest.rsplit_once(' '))
        else {
            return Err(invalid(
                "a signature line is not \"\u{2014} <name> <base64>\"",
            ));
        };
        let signature = decode_base64("checkpoint signature", encoded)?;
        if signature.len() > 4
            && signature[..4] == *key_hint
            && log.key.verify(signed.as_bytes(), &signature[4..]).is_ok()
        {
            return Ok(());
        }
    }
    Err(invalid("no valid signature by the log's key"))
}
