//! The records log of a block: the RFC 9162 (Certificate Transparency v2) Merkle tree hash.
//!
//! A block's `records_root` is `MTH(record hashes)` with the RFC 9162 §2.1.1 hashing:
//! a leaf is `sha256(0x00 ‖ d)`, an inner node `sha256(0x01 ‖ left ‖ right)`, the empty
//! tree `sha256("")`, and a tree of `n > 1` leaves splits at the largest power of two
//! smaller than `n`. A record's [`InclusionProof`] is therefore a standard CT audit path,
//! and any CT library can check it; [`verify_inclusion`] checks it with the RFC 9162
//! §2.1.3.2 algorithm, without rebuilding the tree.
//!
//! Everything here is pure and allocation-light: building the root of `n` leaves hashes
//! `2n - 1` times and allocates one buffer of `n` hashes, reused level after level.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bytes::Hash32;

/// Prefix of a leaf hash (RFC 9162 §2.1.1).
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an inner node hash (RFC 9162 §2.1.1).
pub const NODE_PREFIX: u8 = 0x01;

/// Longest audit path [`verify_inclusion`] accepts. A tree of at most `2^64 - 1` leaves
/// is at most 64 levels deep, so a longer path can never be valid; refusing it first
/// bounds the work an outside proof can cause.
pub const MAX_INCLUSION_PATH_LEN: usize = 64;

/// A proof that one leaf is in a tree of a given size (RFC 9162 `inclusion_proof_v2`
/// without the log id). In JSON the path is a list of hex strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Zero-based index of the leaf (the record's position in the block).
    pub leaf_index: u64,
    /// Number of leaves in the tree (records in the block).
    pub tree_size: u64,
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash32>,
}

/// Why a proof was not produced or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {leaf_index} is outside a tree of {tree_size} leaves")]
    IndexOutOfRange {
        /// The index asked for or claimed.
        leaf_index: u64,
        /// The tree size.
        tree_size: u64,
    },
    /// The path is longer than any tree of this size needs.
    #[error("inclusion path has {len} hashes, more than a tree of {tree_size} leaves needs")]
    PathTooLong {
        /// Hashes in the path.
        len: usize,
        /// The claimed tree size.
        tree_size: u64,
    },
    /// The path ends before reaching the root of a tree of this size.
    #[error("inclusion path has {len} hashes, too few for leaf {leaf_index} of {tree_size}")]
    PathTooShort {
        /// Hashes in the path.
        len: usize,
        /// The claimed leaf index.
        leaf_index: u64,
        /// The claimed tree size.
        tree_size: u64,
    },
    /// The path is well formed but leads to another root.
    #[error("inclusion proof leads to root {computed}, expected {expected}")]
    RootMismatch {
        /// Root computed from the leaf and the path.
        computed: Hash32,
        /// Root the proof was checked against.
        expected: Hash32,
    },
}

/// The root of the empty tree: `sha256("")`.
pub fn empty_root() -> Hash32 {
    Hash32(Sha256::digest([]).into())
}

/// `sha256(0x00 ‖ data)`: the hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(data);
    Hash32(hasher.finalize().into())
}

/// `sha256(0x01 ‖ left ‖ right)`: the hash of an inner node.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    // One contiguous 65-byte block on the stack: a single `update` and no allocation.
    let mut block = [0u8; 65];
    block[0] = NODE_PREFIX;
    block[1..33].copy_from_slice(&left.0);
    block[33..].copy_from_slice(&right.0);
    Hash32(Sha256::digest(block).into())
}

/// The Merkle tree hash of a block's records: `MTH` over their record hashes.
pub fn records_root(record_hashes: &[Hash32]) -> Hash32 {
    root_of_leaf_hashes(record_hashes.iter().map(|h| leaf_hash(&h.0)).collect())
}

/// The Merkle tree hash (`MTH`) of arbitrary leaf data, as in RFC 9162 §2.1.1.
pub fn tree_hash<D: AsRef<[u8]>>(leaves: &[D]) -> Hash32 {
    root_of_leaf_hashes(leaves.iter().map(|d| leaf_hash(d.as_ref())).collect())
}

/// Reduces a level of hashes to the root, in place.
///
/// Pairing neighbours level by level and carrying an unpaired last node up unchanged
/// builds exactly the RFC tree: the left subtree of every node is the largest complete
/// subtree that fits, which is what splitting at the largest power of two below `n` says.
fn root_of_leaf_hashes(mut level: Vec<Hash32>) -> Hash32 {
    if level.is_empty() {
        return empty_root();
    }
    let mut len = level.len();
    while len > 1 {
        let pairs = len / 2;
        for i in 0..pairs {
            level[i] = node_hash(&level[2 * i], &level[2 * i + 1]);
        }
        if len % 2 == 1 {
            level[pairs] = level[len - 1];
            len = pairs + 1;
        } else {
            len = pairs;
        }
    }
    level[0]
}

/// The audit path of the record at `leaf_index` among a block's record hashes.
pub fn records_inclusion_proof(
    record_hashes: &[Hash32],
    leaf_index: u64,
) -> Result<InclusionProof, MerkleError> {
    let level = record_hashes.iter().map(|h| leaf_hash(&h.0)).collect();
    proof_from_leaf_hashes(level, leaf_index)
}

/// The audit path (RFC 9162 §2.1.3.1 `PATH(m, D[n])`) of leaf `leaf_index` among
/// arbitrary leaf data.
pub fn inclusion_proof<D: AsRef<[u8]>>(
    leaves: &[D],
    leaf_index: u64,
) -> Result<InclusionProof, MerkleError> {
    let level = leaves.iter().map(|d| leaf_hash(d.as_ref())).collect();
    proof_from_leaf_hashes(level, leaf_index)
}

/// Builds the path bottom-up with the same pairing as [`root_of_leaf_hashes`]: at each
/// level the sibling of node `i` is `i ^ 1`, except for an unpaired last node, which
/// has none at that level and is carried up.
fn proof_from_leaf_hashes(
    mut level: Vec<Hash32>,
    leaf_index: u64,
) -> Result<InclusionProof, MerkleError> {
    let tree_size = level.len() as u64;
    let out_of_range = MerkleError::IndexOutOfRange {
        leaf_index,
        tree_size,
    };
    let mut index = usize::try_from(leaf_index).map_err(|_| out_of_range.clone())?;
    if index >= level.len() {
        return Err(out_of_range);
    }
    let mut path = Vec::with_capacity(64 - tree_size.leading_zeros() as usize);
    let mut len = level.len();
    while len > 1 {
        let sibling = index ^ 1;
        if sibling < len {
            path.push(level[sibling]);
        }
        let pairs = len / 2;
        for i in 0..pairs {
            level[i] = node_hash(&level[2 * i], &level[2 * i + 1]);
        }
        if len % 2 == 1 {
            level[pairs] = level[len - 1];
            len = pairs + 1;
        } else {
            len = pairs;
        }
        index /= 2;
    }
    Ok(InclusionProof {
        leaf_index,
        tree_size,
        path,
    })
}

/// The root that `proof` leads to from a leaf whose leaf hash is `leaf_hash`, by the
/// RFC 9162 §2.1.3.2 algorithm (step numbers in the comments). Errors if the index is
/// outside the tree or the path has the wrong length for this index and size.
///
/// A Merkle tree hash does not commit to the number of leaves, so for a fixed root the
/// pair (`leaf_index`, `tree_size`) is not unique: the proof shows that the leaf is in
/// the tree, and its position only relative to the claimed size. A caller that relies
/// on the position or the count must know `tree_size` independently (for a record, the
/// number of records in the block it holds).
pub fn root_from_inclusion_proof(
    proof: &InclusionProof,
    leaf_hash: &Hash32,
) -> Result<Hash32, MerkleError> {
    let InclusionProof {
        leaf_index,
        tree_size,
        path,
    } = proof;
    let (leaf_index, tree_size) = (*leaf_index, *tree_size);
    if path.len() > MAX_INCLUSION_PATH_LEN {
        return Err(MerkleError::PathTooLong {
            len: path.len(),
            tree_size,
        });
    }
    // 1. The leaf must be inside the tree.
    if leaf_index >= tree_size {
        return Err(MerkleError::IndexOutOfRange {
            leaf_index,
            tree_size,
        });
    }
    // 2. fn is the leaf's index, sn the last index; they walk up together.
    let mut fn_ = leaf_index;
    let mut sn = tree_size - 1;
    // 3.
    let mut r = *leaf_hash;
    // 4.
    for p in path {
        // 4a. Reached the root with hashes left over.
        if sn == 0 {
            return Err(MerkleError::PathTooLong {
                len: path.len(),
                tree_size,
            });
        }
        // 4b. A right child, or the last node of its level (which, being unpaired on
        // the levels skipped below, is a right child further up).
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        // 4c.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. sn reaches 0 exactly at the root; otherwise the path stopped short.
    if sn != 0 {
        return Err(MerkleError::PathTooShort {
            len: path.len(),
            leaf_index,
            tree_size,
        });
    }
    Ok(r)
}

/// Checks that a leaf with hash `leaf_hash` is at `proof.leaf_index` in the tree of
/// `proof.tree_size` leaves whose root is `root`.
pub fn verify_inclusion_leaf_hash(
    proof: &InclusionProof,
    leaf_hash: &Hash32,
    root: &Hash32,
) -> Result<(), MerkleError> {
    let computed = root_from_inclusion_proof(proof, leaf_hash)?;
    if &computed != root {
        return Err(MerkleError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// Checks that `leaf_data` (hashed here as a leaf) is included as `proof` says under
/// `root`.
pub fn verify_inclusion(
    proof: &InclusionProof,
    leaf_data: &[u8],
    root: &Hash32,
) -> Result<(), MerkleError> {
    verify_inclusion_leaf_hash(proof, &leaf_hash(leaf_data), root)
}

/// Checks that the record with hash `record_hash` is in the block whose header has
/// `records_root`.
pub fn verify_record_inclusion(
    proof: &InclusionProof,
    record_hash: &Hash32,
    records_root: &Hash32,
) -> Result<(), MerkleError> {
    verify_inclusion(proof, &record_hash.0, records_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hx(s: &str) -> Hash32 {
        Hash32::from_hex(s).expect("test vector hex")
    }

    fn hxs(list: &[&str]) -> Vec<Hash32> {
        list.iter().map(|s| hx(s)).collect()
    }

    /// The reference leaves of the CT implementations (transparency-dev/merkle
    /// `testonly/constants.go` `LeafInputs`, also in google/trillian and
    /// certificate-transparency-go).
    fn ct_leaves() -> Vec<Vec<u8>> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|s| hex::decode(s).expect("leaf hex"))
        .collect()
    }

    /// `RootHashes()` of transparency-dev/merkle `testonly/constants.go`, by tree size 0..=8.
    const CT_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// `NodeHashes()` level 0 of transparency-dev/merkle `testonly/constants.go`: the
    /// leaf hashes of the eight leaves.
    const CT_LEAF_HASHES: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ];

    /// `inclusionProofs` of transparency-dev/merkle `proof/verify_test.go`
    /// (there the leaf is 1-based; here `leaf_index` is 0-based).
    fn ct_inclusion_vectors() -> Vec<InclusionProof> {
        vec![
            InclusionProof {
                leaf_index: 0,
                tree_size: 1,
                path: vec![],
            },
            InclusionProof {
                leaf_index: 0,
                tree_size: 8,
                path: hxs(&[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]),
            },
            InclusionProof {
                leaf_index: 5,
                tree_size: 8,
                path: hxs(&[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]),
            },
            InclusionProof {
                leaf_index: 2,
                tree_size: 3,
                path: hxs(&["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
            },
            InclusionProof {
                leaf_index: 1,
                tree_size: 5,
                path: hxs(&[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ]),
            },
        ]
    }

    /// MTH straight from the RFC's recursive definition, to check the iterative one.
    fn reference_root(leaf_hashes: &[Hash32]) -> Hash32 {
        match leaf_hashes.len() {
            0 => empty_root(),
            1 => leaf_hashes[0],
            n => {
                let k = split(n);
                node_hash(
                    &reference_root(&leaf_hashes[..k]),
                    &reference_root(&leaf_hashes[k..]),
                )
            }
        }
    }

    /// `PATH(m, D[n])` straight from RFC 9162 §2.1.3.1.
    fn reference_path(m: usize, leaf_hashes: &[Hash32]) -> Vec<Hash32> {
        let n = leaf_hashes.len();
        if n <= 1 {
            return vec![];
        }
        let k = split(n);
        if m < k {
            let mut p = reference_path(m, &leaf_hashes[..k]);
            p.push(reference_root(&leaf_hashes[k..]));
            p
        } else {
            let mut p = reference_path(m - k, &leaf_hashes[k..]);
            p.push(reference_root(&leaf_hashes[..k]));
            p
        }
    }

    /// The largest power of two smaller than `n` (`n > 1`).
    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    #[test]
    fn ct_leaf_hashes() {
        for (leaf, expected) in ct_leaves().iter().zip(CT_LEAF_HASHES) {
            assert_eq!(leaf_hash(leaf), hx(expected));
        }
    }

    #[test]
    fn ct_roots_for_every_size() {
        let leaves = ct_leaves();
        for (size, expected) in CT_ROOTS.iter().enumerate() {
            assert_eq!(tree_hash(&leaves[..size]), hx(expected), "size {size}");
        }
        assert_eq!(empty_root(), hx(CT_ROOTS[0]));
        assert_eq!(records_root(&[]), hx(CT_ROOTS[0]));
    }

    #[test]
    fn ct_inclusion_proofs_are_produced_and_verify() {
        let leaves = ct_leaves();
        for expected in ct_inclusion_vectors() {
            let size = expected.tree_size as usize;
            let proof = inclusion_proof(&leaves[..size], expected.leaf_index).expect("proof");
            assert_eq!(proof, expected);
            let leaf = &leaves[expected.leaf_index as usize];
            let root = hx(CT_ROOTS[size]);
            assert_eq!(verify_inclusion(&expected, leaf, &root), Ok(()));
        }
    }

    /// The corruptions of transparency-dev/merkle `corruptInclusionProof`, each of which
    /// must fail against the published proofs.
    #[test]
    fn ct_corrupted_proofs_fail() {
        let leaves = ct_leaves();
        let some_hash = hx("abacaba000000000000000000000000000000000000000000060061e00123456");
        for good in ct_inclusion_vectors().into_iter().skip(1) {
            let leaf = leaf_hash(&leaves[good.leaf_index as usize]);
            let root = hx(CT_ROOTS[good.tree_size as usize]);
            let with = |f: &dyn Fn(&mut InclusionProof)| {
                let mut p = good.clone();
                f(&mut p);
                p
            };
            let mut probes = vec![
                with(&|p| p.leaf_index = p.leaf_index.wrapping_sub(1)),
                with(&|p| p.leaf_index += 1),
                with(&|p| p.leaf_index ^= 2),
                with(&|p| p.tree_size *= 2),
                with(&|p| p.tree_size /= 2),
                with(&|p| p.path.push(root)),
                with(&|p| p.path.insert(0, root)),
                with(&|p| {
                    p.path.pop();
                }),
            ];
            if good.path.len() > 1 {
                probes.push(with(&|p| p.path.insert(1, some_hash)));
            }
            for i in 0..good.path.len() {
                probes.push(with(&|p| p.path[i].0[0] ^= 8));
            }
            for probe in &probes {
                assert!(
                    verify_inclusion_leaf_hash(probe, &leaf, &root).is_err(),
                    "{probe:?} verified"
                );
            }
            let wrong_leaf = leaf_hash(b"WrongLeaf");
            assert!(verify_inclusion_leaf_hash(&good, &wrong_leaf, &root).is_err());
            assert!(verify_inclusion_leaf_hash(&good, &leaf, &empty_root()).is_err());
            assert!(verify_inclusion_leaf_hash(&good, &leaf, &some_hash).is_err());
        }
    }

    #[test]
    fn degenerate_sizes_are_refused() {
        let h = leaf_hash(b"x");
        for (leaf_index, tree_size) in [(0, 0), (1, 0), (2, 1), (u64::MAX, u64::MAX)] {
            let proof = InclusionProof {
                leaf_index,
                tree_size,
                path: vec![],
            };
            assert!(matches!(
                verify_inclusion_leaf_hash(&proof, &h, &h),
                Err(MerkleError::IndexOutOfRange { .. })
            ));
        }
        assert!(matches!(
            inclusion_proof::<&[u8]>(&[], 0),
            Err(MerkleError::IndexOutOfRange { .. })
        ));
        let long = InclusionProof {
            leaf_index: 0,
            tree_size: u64::MAX,
            path: vec![h; MAX_INCLUSION_PATH_LEN + 1],
        };
        assert!(matches!(
            verify_inclusion_leaf_hash(&long, &h, &h),
            Err(MerkleError::PathTooLong { .. })
        ));
        // A path that stops short names the problem rather than a root mismatch.
        let short = InclusionProof {
            leaf_index: 3,
            tree_size: 8,
            path: vec![h],
        };
        assert!(matches!(
            verify_inclusion_leaf_hash(&short, &h, &h),
            Err(MerkleError::PathTooShort { .. })
        ));
    }

    /// The root does not commit to the tree size (RFC 9162 relies on the signed tree
    /// head for that): the proof of the last of 5 leaves also verifies as "leaf 1 of 2",
    /// because both walks hash `node(MTH(D[0..4]), leaf)`. Inclusion itself is still
    /// proven; a caller that needs the position or the count takes `tree_size` from a
    /// trusted source (the block), as documented on [`root_from_inclusion_proof`].
    #[test]
    fn tree_size_is_not_bound_by_the_root() {
        let leaves = ct_leaves();
        let proof = inclusion_proof(&leaves[..5], 4).expect("proof");
        let root = tree_hash(&leaves[..5]);
        assert_eq!(verify_inclusion(&proof, &leaves[4], &root), Ok(()));
        let relabelled = InclusionProof {
            leaf_index: 1,
            tree_size: 2,
            path: proof.path.clone(),
        };
        assert_eq!(verify_inclusion(&relabelled, &leaves[4], &root), Ok(()));
    }

    #[test]
    fn json_is_hex() {
        let proof = ct_inclusion_vectors().remove(3);
        let json = serde_json::to_string(&proof).expect("json");
        assert_eq!(
            json,
            r#"{"leaf_index":2,"tree_size":3,"path":["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]}"#
        );
        let back: InclusionProof = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, proof);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn record_hashes(n: usize, seed: u64) -> Vec<Hash32> {
            (0..n as u64)
                .map(|i| crate::crypto::sha256(&[&seed.to_le_bytes(), &i.to_le_bytes()]))
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn iterative_matches_rfc_definition(n in 0usize..300, seed in any::<u64>()) {
                let hashes = record_hashes(n, seed);
                let leaves: Vec<Hash32> = hashes.iter().map(|h| leaf_hash(&h.0)).collect();
                prop_assert_eq!(records_root(&hashes), reference_root(&leaves));
                if n > 0 {
                    let m = (seed as usize) % n;
                    let proof = records_inclusion_proof(&hashes, m as u64)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(proof.path, reference_path(m, &leaves));
                }
            }

            #[test]
            fn every_leaf_verifies(n in 1usize..300, seed in any::<u64>()) {
                let hashes = record_hashes(n, seed);
                let root = records_root(&hashes);
                for (i, h) in hashes.iter().enumerate() {
                    let proof = records_inclusion_proof(&hashes, i as u64)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(verify_record_inclusion(&proof, h, &root), Ok(()));
                }
            }

            #[test]
            fn any_change_fails(
                n in 1usize..300,
                seed in any::<u64>(),
                pick in any::<usize>(),
                byte in 0usize..32,
                bit in 0u8..8,
                other in any::<u64>(),
            ) {
                let hashes = record_hashes(n, seed);
                let root = records_root(&hashes);
                let i = pick % n;
                let proof = records_inclusion_proof(&hashes, i as u64)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let leaf = hashes[i];
                let flip = |mut h: Hash32| { h.0[byte] ^= 1 << bit; h };

                // Any bit of any path hash.
                for k in 0..proof.path.len() {
                    let mut p = proof.clone();
                    p.path[k] = flip(p.path[k]);
                    prop_assert!(verify_record_inclusion(&p, &leaf, &root).is_err());
                }
                // The leaf and the root.
                prop_assert!(verify_record_inclusion(&proof, &flip(leaf), &root).is_err());
                prop_assert!(verify_record_inclusion(&proof, &leaf, &flip(root)).is_err());
                // Another index.
                let other_index = other % (n as u64 + 2);
                if other_index != i as u64 {
                    let mut p = proof.clone();
                    p.leaf_index = other_index;
                    prop_assert!(verify_record_inclusion(&p, &leaf, &root).is_err());
                }
                // Dropping or adding a path hash.
                if !proof.path.is_empty() {
                    let mut p = proof.clone();
                    p.path.pop();
                    prop_assert!(verify_record_inclusion(&p, &leaf, &root).is_err());
                }
                let mut p = proof.clone();
                p.path.push(root);
                prop_assert!(verify_record_inclusion(&p, &leaf, &root).is_err());
            }
        }
    }
}
