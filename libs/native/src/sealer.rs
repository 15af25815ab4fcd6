//! A student's personal fields sealed and opened under their own data key, a column at a time.
//!
//! The native half of `aid_chassis.fields` (`FieldCipher.seal_columns` / `open_columns`): the same
//! tokens byte for byte, `"pd1:" + base64url(0xA2 ‖ nonce ‖ AES-256-GCM(value, aad = field ␟ owner))`,
//! the nonce BLAKE2b-96 of (the bound part's length, the bound part, the value) keyed by
//! BLAKE2b-256(data key, personal "aid-dk-nonce"). The work runs without the GIL; a row this module
//! does not take (no data key, a key not of 32 bytes, a value that is already a token, a token that
//! does not open) is handed back by index for the Python path to decide, so every error is the
//! Python path's own. Nothing here logs or keeps a value.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};

/// The arguments as Python holds them (read in place, never copied).
type Keys = Vec<Option<PyBackedBytes>>;
type Column = Vec<Option<PyBackedStr>>;

const TOKEN: &str = "pd1:";
const STUDENT: u8 = 0xA2;
const NONCE: usize = 12;
const TAG: usize = 16;

/// A student's data key made ready: the cipher and the key of its deterministic nonces.
struct Student {
    aead: Aes256Gcm,
    nonce_key: [u8; 32],
}

impl Student {
    fn new(key: &[u8]) -> Option<Self> {
        if key.len() != 32 {
            return None;
        }
        let digest = blake2b_simd::Params::new().hash_length(32).personal(b"aid-dk-nonce").hash(key);
        let mut nonce_key = [0u8; 32];
        nonce_key.copy_from_slice(digest.as_bytes());
        Some(Student { aead: Aes256Gcm::new_from_slice(key).ok()?, nonce_key })
    }

    fn seal(&self, bound: &[u8], data: &[u8]) -> Option<String> {
        let mut state = blake2b_simd::Params::new().hash_length(NONCE).key(&self.nonce_key).to_state();
        state.update(&(bound.len() as u32).to_be_bytes()).update(bound).update(data);
        let nonce = state.finalize();
        let sealed = self.aead.encrypt(Nonce::from_slice(nonce.as_bytes()), Payload { msg: data, aad: bound }).ok()?;
        let mut blob = Vec::with_capacity(1 + NONCE + sealed.len());
        blob.push(STUDENT);
        blob.extend_from_slice(nonce.as_bytes());
        blob.extend_from_slice(&sealed);
        let mut token = String::with_capacity(TOKEN.len() + blob.len().div_ceil(3) * 4);
        token.push_str(TOKEN);
        URL_SAFE.encode_string(&blob, &mut token);
        Some(token)
    }

    fn open(&self, bound: &[u8], token: &str) -> Option<String> {
        let blob = URL_SAFE.decode(token.strip_prefix(TOKEN)?).ok()?;
        if blob.len() < 1 + NONCE + TAG || blob[0] != STUDENT {
            return None;
        }
        let (nonce, body) = blob[1..].split_at(NONCE);
        let plain = self.aead.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: bound }).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// Every row of every column through `each` (a student's cipher made once for all their fields);
/// a row `each` cannot take (None) is set aside by index, its values left None.
fn by_student<F>(keys: &Keys, owners: &[PyBackedStr], tags: &[Vec<u8>], columns: &[Column],
                 each: F) -> (Vec<Vec<Option<String>>>, Vec<usize>)
where
    F: Fn(&Student, &[u8], &str) -> Option<String>,
{
    let mut out: Vec<Vec<Option<String>>> = columns.iter().map(|_| Vec::with_capacity(owners.len())).collect();
    let mut left = Vec::new();
    let mut bound = Vec::new();
    for (row, (owner, key)) in owners.iter().zip(keys).enumerate() {
        let mut student: Option<Option<Student>> = None;
        let mut taken = true;
        let mut values: Vec<Option<String>> = Vec::with_capacity(columns.len());
        for (tag, column) in tags.iter().zip(columns) {
            let Some(value) = column[row].as_deref() else {
                values.push(None);
                continue;
            };
            let made = student.get_or_insert_with(|| key.as_ref().and_then(|k| Student::new(k)));
            bound.clear();
            bound.extend_from_slice(tag);
            bound.extend_from_slice(owner.as_bytes());
            match made.as_ref().and_then(|s| each(s, &bound, value)) {
                Some(done) => values.push(Some(done)),
                None => {
                    taken = false;
                    break;
                }
            }
        }
        if taken {
            for (column, value) in out.iter_mut().zip(values) {
                column.push(value);
            }
        } else {
            left.push(row);
            for column in out.iter_mut() {
                column.push(None);
            }
        }
    }
    (out, left)
}

fn check(keys: &Keys, owners: &[PyBackedStr], tags: &[Vec<u8>], columns: &[Column]) -> PyResult<()> {
    if keys.len() != owners.len() || tags.len() != columns.len() || columns.iter().any(|c| c.len() != owners.len()) {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "one data key per owner, one tag per column and one value per owner in every column",
        ));
    }
    Ok(())
}

/// Seal each column's values (`tags`: each column's `field ␟` bytes) under each owner's data key.
/// Returns the sealed columns and the rows left to the caller: a row with no data key or one not
/// of 32 bytes, or a value that is already a token (None values stay None).
#[pyfunction]
pub(crate) fn seal_columns(py: Python<'_>, keys: Keys, owners: Vec<PyBackedStr>, tags: Vec<Vec<u8>>,
                columns: Vec<Column>) -> PyResult<(Vec<Vec<Option<String>>>, Vec<usize>)> {
    check(&keys, &owners, &tags, &columns)?;
    Ok(py.allow_threads(|| {
        by_student(&keys, &owners, &tags, &columns, |student, bound, value| {
            if value.starts_with(TOKEN) {
                None
            } else {
                student.seal(bound, value.as_bytes())
            }
        })
    }))
}

/// Open each column's tokens sealed under each owner's data key. Returns the opened columns and
/// the rows left to the caller: any row with a value that is no such token, or does not open
/// (None values stay None).
#[pyfunction]
pub(crate) fn open_columns(py: Python<'_>, keys: Keys, owners: Vec<PyBackedStr>, tags: Vec<Vec<u8>>,
                columns: Vec<Column>) -> PyResult<(Vec<Vec<Option<String>>>, Vec<usize>)> {
    check(&keys, &owners, &tags, &columns)?;
    Ok(py.allow_threads(|| by_student(&keys, &owners, &tags, &columns, |student, bound, value| student.open(bound, value))))
}

/// Open blobs sealed under one key (the ring's sealing key: `prefix ‖ nonce ‖ ciphertext+tag`,
/// aad `tag ‖ owner`), a bank file's cards. Returns the opened values and the rows left to the
/// caller: a blob under another key, cut short, tampered, or not UTF-8 (all, for a key not of 32 bytes).
#[pyfunction]
pub(crate) fn open_under(py: Python<'_>, key: PyBackedBytes, prefix: PyBackedBytes, tag: Vec<u8>, owners: Vec<PyBackedStr>,
              blobs: Vec<PyBackedBytes>) -> PyResult<(Vec<Option<String>>, Vec<usize>)> {
    if blobs.len() != owners.len() {
        return Err(pyo3::exceptions::PyValueError::new_err("one blob per owner"));
    }
    Ok(py.allow_threads(|| {
        let aead = Aes256Gcm::new_from_slice(&key).ok();
        let (mut opened, mut left, mut bound) = (Vec::with_capacity(blobs.len()), Vec::new(), tag.clone());
        for (row, (blob, owner)) in blobs.iter().zip(&owners).enumerate() {
            bound.truncate(tag.len());
            bound.extend_from_slice(owner.as_bytes());
            let start = prefix.len() + NONCE;
            let plain = aead.as_ref().filter(|_| blob.starts_with(&prefix) && blob.len() >= start + TAG).and_then(|aead| {
                let nonce = Nonce::from_slice(&blob[prefix.len()..start]);
                aead.decrypt(nonce, Payload { msg: &blob[start..], aad: &bound }).ok()
            });
            match plain.and_then(|plain| String::from_utf8(plain).ok()) {
                Some(value) => opened.push(Some(value)),
                None => {
                    left.push(row);
                    opened.push(None);
                }
            }
        }
        (opened, left)
    }))
}

/// (the bucket, the student id) a student is filed under (`aid_chassis.datakeys.filed`).
pub(crate) fn filed(owner: &str) -> (u32, [u8; 32]) {
    let sid = student_id(owner);
    (((sid[0] as u32) << 4) | ((sid[1] as u32) >> 4), sid)
}

/// The 32 bytes a student is filed under (`aid_chassis.datakeys.student_id`): a student key's own
/// (64 hex digits), else the BLAKE2b-256 of the owner.
pub(crate) fn student_id(owner: &str) -> [u8; 32] {
    let text = owner.as_bytes();
    let mut sid = [0u8; 32];
    if text.len() == 64 {
        let mut bad = 0u8; // any digit not hex: its table entry's high bit
        for (at, pair) in text.chunks_exact(2).enumerate() {
            let (high, low) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
            bad |= high | low;
            sid[at] = (high << 4) | (low & 0x0F);
        }
        if bad & 0x80 == 0 {
            return sid;
        }
    }
    sid.copy_from_slice(blake2b_simd::Params::new().hash_length(32).hash(text).as_bytes());
    sid
}

/// Each byte's value as a hex digit (either case), or 0x80 for a byte that is none.
const HEX: [u8; 256] = {
    let mut table = [0x80u8; 256];
    let mut at = 0;
    while at < 10 {
        table[b'0' as usize + at] = at as u8;
        at += 1;
    }
    at = 0;
    while at < 6 {
        table[b'a' as usize + at] = 10 + at as u8;
        table[b'A' as usize + at] = 10 + at as u8;
        at += 1;
    }
    table
};

pub(crate) const ENTRY: usize = 64;

/// Each owner's data key from the buckets' plaintexts (a dict: bucket → sorted `student id ‖ key`
/// entries, `aid_chassis.datakeys.pack`); None for a student with none. Only the buckets the
/// owners fall in are read from the dict (one student's look-up costs one bucket, not 4,096).
#[pyfunction]
pub(crate) fn keys_for(py: Python<'_>, buckets: &Bound<'_, PyDict>, owners: Vec<PyBackedStr>) -> PyResult<Vec<Option<Py<PyBytes>>>> {
    let filed: Vec<(u32, [u8; 32])> = py.allow_threads(|| owners.iter().map(|owner| filed(owner)).collect());
    let held = held_buckets(buckets, &filed)?;
    let found: Vec<Option<(u32, usize)>> = py.allow_threads(|| {
        filed.iter().map(|(bucket, sid)| {
            let plain = held.get(bucket)?.as_ref()?;
            Some((*bucket, binary_search(plain, plain.len() / ENTRY, sid)? * ENTRY))
        }).collect()
    });
    Ok(found.into_iter()
        .map(|at| at.and_then(|(bucket, start)| {
            held[&bucket].as_ref().map(|plain| PyBytes::new(py, &plain[start + 32..start + ENTRY]).unbind())
        }))
        .collect())
}

/// {bucket: its plaintext in `buckets`, None when the dict has none} of the buckets `filed` falls
/// in, each read from the dict once (with the GIL).
pub(crate) fn held_buckets(buckets: &Bound<'_, PyDict>, filed: &[(u32, [u8; 32])])
                           -> PyResult<HashMap<u32, Option<PyBackedBytes>>> {
    let mut held: HashMap<u32, Option<PyBackedBytes>> = HashMap::new();
    for (bucket, _) in filed {
        if held.contains_key(bucket) {
            continue;
        }
        let plain = match buckets.get_item(bucket)? {
            Some(found) => Some(found.extract::<PyBackedBytes>()?),
            None => None,
        };
        held.insert(*bucket, plain);
    }
    Ok(held)
}

pub(crate) fn binary_search(plain: &[u8], entries: usize, sid: &[u8; 32]) -> Option<usize> {
    let (mut low, mut high) = (0, entries);
    while low < high {
        let middle = (low + high) / 2;
        match plain[middle * ENTRY..middle * ENTRY + 32].cmp(&sid[..]) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => return Some(middle),
        }
    }
    None
}
