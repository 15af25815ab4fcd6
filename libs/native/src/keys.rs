//! Students' data keys issued a round at a time (`aid_chassis.datakeys.issued`): the key each
//! student has in their bucket's plaintext, or a new random one, and the plaintexts of the buckets
//! given new keys. The Python path (`datakeys.issued_in_python`) gives the same keys and buckets
//! (but for the new keys' random bytes). Nothing here logs or keeps a key.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyBytes, PyDict};

use crate::sealer::{binary_search, filed, held_buckets, ENTRY};

const KEY: usize = 32;

/// The buckets `owners` fall in, sorted, each once (those a round locks and reads).
#[pyfunction]
pub(crate) fn buckets_of(py: Python<'_>, owners: Vec<PyBackedStr>) -> Vec<u32> {
    py.allow_threads(|| {
        let mut buckets: Vec<u32> = owners.iter().map(|owner| filed(owner).0).collect();
        buckets.sort_unstable();
        buckets.dedup();
        buckets
    })
}

/// Each owner's data key, in the order of `owners` (one new key per student however often they
/// appear), and {bucket: its new plaintext} of the buckets given new keys, entries sorted by
/// student id. `plains`: the plaintexts of (at least) the owners' buckets that hold keys.
#[pyfunction]
pub(crate) fn issue_keys(py: Python<'_>, plains: &Bound<'_, PyDict>, owners: Vec<PyBackedStr>)
                         -> PyResult<(Vec<Py<PyBytes>>, HashMap<u32, Py<PyBytes>>)> {
    let filed: Vec<(u32, [u8; 32])> = py.allow_threads(|| owners.iter().map(|owner| filed(owner)).collect());
    let held = held_buckets(plains, &filed)?;
    let short = |bucket: &u32| held[bucket].as_ref().is_some_and(|plain| plain.len() % ENTRY != 0);
    if let Some((bucket, _)) = filed.iter().find(|(bucket, _)| short(bucket)) {  // the first in the owners' order
        return Err(PyValueError::new_err(format!("bucket {bucket}: its entries are cut short")));
    }
    let (keys, changed) = py.allow_threads(|| issue(&filed, &held))?;
    let keys = keys.iter().map(|key| PyBytes::new(py, key).unbind()).collect();
    let changed = changed.into_iter().map(|(bucket, plain)| (bucket, PyBytes::new(py, &plain).unbind())).collect();
    Ok((keys, changed))
}

type Issued = (Vec<[u8; KEY]>, HashMap<u32, Vec<u8>>);

fn issue(filed: &[(u32, [u8; 32])], held: &HashMap<u32, Option<PyBackedBytes>>) -> PyResult<Issued> {
    let stored = |bucket: &u32, sid: &[u8; 32]| -> Option<[u8; KEY]> {
        let plain = held.get(bucket)?.as_ref()?;
        let at = binary_search(plain, plain.len() / ENTRY, sid)? * ENTRY;
        plain[at + 32..at + ENTRY].try_into().ok()
    };
    // a student's id is unique to them (and names their bucket): the new keys' places by id
    let mut missing: HashMap<[u8; 32], usize, BuildHasherDefault<SidHasher>> =
        HashMap::with_capacity_and_hasher(filed.len(), BuildHasherDefault::default());
    let mut order: Vec<(u32, [u8; 32])> = Vec::new();
    let slots: Vec<Result<[u8; KEY], usize>> = filed.iter().map(|(bucket, sid)| match stored(bucket, sid) {
        Some(key) => Ok(key),
        None => Err(*missing.entry(*sid).or_insert_with(|| {
            order.push((*bucket, *sid));
            order.len() - 1
        })),
    }).collect();
    let mut pool = vec![0u8; KEY * order.len()];
    getrandom::getrandom(&mut pool).map_err(|_| PyValueError::new_err("no random bytes from the system"))?;
    let new_key = |index: usize| -> [u8; KEY] { pool[index * KEY..(index + 1) * KEY].try_into().expect("32 bytes") };
    let keys = slots.into_iter().map(|slot| slot.unwrap_or_else(new_key)).collect();
    let mut added: HashMap<u32, Vec<([u8; 32], [u8; KEY])>> = HashMap::new();
    for (index, (bucket, sid)) in order.iter().enumerate() {
        added.entry(*bucket).or_default().push((*sid, new_key(index)));
    }
    let changed = added.into_iter().map(|(bucket, mut entries)| {
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let before: &[u8] = held.get(&bucket).and_then(|plain| plain.as_deref()).unwrap_or(&[]);
        (bucket, merged(before, &entries))
    }).collect();
    Ok((keys, changed))
}

/// A hasher for students' ids (FxHash's fold over their 8-byte words): cheap where the default
/// (SipHash, proof against crafted keys) spent a fifth of a round's issuing; the ids are a keyed
/// hash of an ID number (or BLAKE2b), which no one can craft to collide.
#[derive(Default)]
struct SidHasher(u64);

impl Hasher for SidHasher {
    fn write(&mut self, bytes: &[u8]) {
        for word in bytes.chunks(8) {
            let mut padded = [0u8; 8];
            padded[..word.len()].copy_from_slice(word);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(padded)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A bucket's sorted entries with `entries` (sorted, none already there) merged in, in order.
fn merged(before: &[u8], entries: &[([u8; 32], [u8; KEY])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(before.len() + entries.len() * ENTRY);
    let mut old = before.chunks_exact(ENTRY).peekable();
    for (sid, key) in entries {
        while let Some(entry) = old.next_if(|entry| &entry[..32] < &sid[..]) {
            out.extend_from_slice(entry);
        }
        out.extend_from_slice(sid);
        out.extend_from_slice(key);
    }
    old.for_each(|entry| out.extend_from_slice(entry));
    out
}
