//! RFC 9162 Merkle tree hashing and inclusion proof verification.

use sha2::{Digest, Sha256};

use crate::encoding::MAX_PROOF_HASHES;

/// `SHA-256(0x00 ‖ entry)`.
pub(crate) fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(entry)
        .finalize()
        .into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub(crate) fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// Computes the root implied by an inclusion proof (RFC 9162 §2.1.3.2).
pub(crate) fn root_from_inclusion_proof(
    index: u64,
    tree_size: u64,
    leaf: [u8; 32],
    proof: &[[u8; 32]],
) -> Result<[u8; 32], String> {
    if index >= tree_size {
        return Err(format!(
            "leaf index {index} is not below tree size {tree_size}"
        ));
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(format!(
            "{} hashes is more than any tree needs",
            proof.len()
        ));
    }
    let mut node_index = index;
    let mut last_index = tree_size - 1;
    let mut root = leaf;
    for sibling in proof {
        if last_index == 0 {
            return Err("the proof has more hashes than the tree is deep".into());
        }
        if node_index & 1 == 1 || node_index == last_index {
            root = node_hash(sibling, &root);
            while node_index & 1 == 0 && node_index != 0 {
                node_index >>= 1;
                last_index >>= 1;
            }
        } else {
            root = node_hash(&root, sibling);
        }
        node_index >>= 1;
        last_index >>= 1;
    }
    if last_index != 0 {
        return Err("the proof has fewer hashes than the tree is deep".into());
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_root(leaves: &[[u8; 32]]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let split = leaves.len().next_power_of_two() / 2;
        node_hash(&tree_root(&leaves[..split]), &tree_root(&leaves[split..]))
    }

    fn audit_path(index: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
        if leaves.len() == 1 {
            return Vec::new();
        }
        let split = leaves.len().next_power_of_two() / 2;
        if index < split {
            let mut path = audit_path(index, &leaves[..split]);
            path.push(tree_root(&leaves[split..]));
            path
        } else {
            let mut path = audit_path(index - split, &leaves[split..]);
            path.push(tree_root(&leaves[..split]));
            path
        }
    }

    #[test]
    fn every_leaf_of_trees_up_to_33_proves_to_the_root() {
        for size in 1..=33usize {
            let leaves: Vec<_> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let root = tree_root(&leaves);
            for index in 0..size {
                let path = audit_path(index, &leaves);
                let computed =
                    root_from_inclusion_proof(index as u64, size as u64, leaves[index], &path)
                        .unwrap();
                assert_eq!(computed, root, "size {size} index {index}");
                if let Some(first) = path.first() {
                    let mut bad = path.clone();
                    bad[0] = leaf_hash(first);
                    let wrong =
                        root_from_inclusion_proof(index as u64, size as u64, leaves[index], &bad)
                            .unwrap();
                    assert_ne!(wrong, root);
                }
            }
        }
    }

    #[test]
    fn malformed_proofs_are_refused() {
        let leaf = leaf_hash(b"x");
        assert!(root_from_inclusion_proof(5, 5, leaf, &[]).is_err());
        assert!(root_from_inclusion_proof(0, 2, leaf, &[]).is_err());
        assert!(root_from_inclusion_proof(0, 1, leaf, &[leaf]).is_err());
        assert!(root_from_inclusion_proof(0, u64::MAX, leaf, &vec![leaf; 65]).is_err());
    }
}
