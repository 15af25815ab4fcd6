//! Kafka record batches (magic 2, lz4) made from packed outbox rows, for `aid_chassis.outbox`.
//!
//! A packed row (`aid_chassis.bulk.pack_events`) is a zstd frame (an lz4 block if queued before),
//! its size prepended, of lines `key ␉ event id ␉ type ␉ dataschema ␉ dataversion ␉ data`. Each
//! line becomes the record the Python path makes (`bulk.unpack`): the key, the data as its value,
//! and the CloudEvents headers in the same order, then the row's own (its trace context). Each
//! record goes to the partition Kafka's default partitioner gives its key (murmur2), in row order;
//! a partition's records are cut into batches as aiokafka's compiled builder cuts them (header and
//! records, uncompressed, under `max_bytes`; a first record always fits). The producer's id, epoch
//! and sequence are set when the producer drains the batch (`stamp_batch`), which also writes the
//! checksum. Nothing here logs a value.

use pyo3::exceptions::{PyValueError, PyZeroDivisionError};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::PyBytes;

/// A packed row: its value, then its content type, source, time and spec version, and the
/// headers every one of its records ends with.
type Row = (PyBackedBytes, PyBackedBytes, PyBackedBytes, PyBackedBytes, PyBackedBytes, Vec<(PyBackedStr, PyBackedBytes)>);

const HEADER: usize = 61; // a record batch's header (magic 2)
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const PRODUCER_AT: usize = 43;
const LZ4: i16 = 3;

/// The record batches of `rows` (all of one topic, in outbox order) over `partitions`, as
/// (partition, records, batch) in the order they were cut. A row that does not unpack raises what
/// the Python path raises (`cramjam.DecompressionError` for a value that is not zstd or lz4, ValueError for
/// a line without its fields), naming its place in `rows`.
#[pyfunction]
pub(crate) fn record_batches(py: Python<'_>, rows: Vec<Row>, partitions: u32, max_bytes: usize,
                             timestamp: i64) -> PyResult<Vec<(u32, u32, Py<PyBytes>)>> {
    if partitions == 0 {  // what the Python path meets (a key's hash modulo 0): not a row's fault
        return Err(PyZeroDivisionError::new_err("a topic without partitions"));
    }
    let made = py.allow_threads(|| cut(&rows, partitions, max_bytes, timestamp)).map_err(|refused| refused.into_py_err(py))?;
    Ok(made.into_iter().map(|(partition, count, batch)| (partition, count, PyBytes::new(py, &batch).unbind())).collect())
}

/// A batch as the producer sends it: its producer id, epoch and first sequence written, and its
/// checksum (CRC-32C of everything from its attributes on).
#[pyfunction]
pub(crate) fn stamp_batch(py: Python<'_>, batch: PyBackedBytes, producer_id: i64, producer_epoch: i16,
                          base_sequence: i32) -> PyResult<Py<PyBytes>> {
    if batch.len() < HEADER {
        return Err(PyValueError::new_err("not a record batch"));
    }
    let mut out = batch.to_vec();
    py.allow_threads(|| {
        out[PRODUCER_AT..PRODUCER_AT + 8].copy_from_slice(&producer_id.to_be_bytes());
        out[PRODUCER_AT + 8..PRODUCER_AT + 10].copy_from_slice(&producer_epoch.to_be_bytes());
        out[PRODUCER_AT + 10..PRODUCER_AT + 14].copy_from_slice(&base_sequence.to_be_bytes());
        let crc = crc32c::crc32c(&out[ATTRIBUTES_AT..]);
        out[CRC_AT..ATTRIBUTES_AT].copy_from_slice(&crc.to_be_bytes());
    });
    Ok(PyBytes::new(py, &out).unbind())
}

/// One partition's batch being filled: its records, uncompressed, and how many.
#[derive(Default)]
struct Open {
    records: Vec<u8>,
    count: u32,
}

/// A packed row that does not unpack: its place, and whether its value is no zstd frame or lz4
/// block (of its size) at all.
struct Refused {
    row: usize,
    not_packed: bool,
}

impl Refused {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        let why = if self.not_packed { NOT_PACKED } else { "a line without its six fields" };
        let message = format!("packed outbox row {}: {why}", self.row);
        let decompression = || py.import("cramjam")?.getattr("DecompressionError")?.call1((message.clone(),));
        match self.not_packed.then(decompression) {
            Some(Ok(error)) => PyErr::from_value(error),
            _ => PyValueError::new_err(message),
        }
    }
}

fn cut(rows: &[Row], partitions: u32, max_bytes: usize, timestamp: i64) -> Result<Vec<(u32, u32, Vec<u8>)>, Refused> {
    let mut open: Vec<Open> = (0..partitions).map(|_| Open::default()).collect();
    let mut made = Vec::new();
    let mut record = Vec::new();
    for (at, (value, content_type, source, time, version, extra)) in rows.iter().enumerate() {
        let text = unpacked(value).ok_or(Refused { row: at, not_packed: true })?;
        for line in text.split(|&b| b == b'\n') {
            let fields: Vec<&[u8]> = line.splitn(6, |&b| b == b'\t').collect();
            let [key, event_id, kind, schema, dataversion, data] = fields[..] else {
                return Err(Refused { row: at, not_packed: false });
            };
            let headers: [(&[u8], &[u8]); 10] = [
                (b"content-type", content_type), (b"ce_id", event_id), (b"ce_source", source), (b"ce_type", kind),
                (b"ce_subject", key), (b"ce_time", time), (b"ce_dataschema", schema), (b"ce_specversion", version),
                (b"ce_dataversion", dataversion), (b"ce_partitionkey", key)];
            let partition = (murmur2(key) & 0x7FFF_FFFF) % partitions;
            let batch = &mut open[partition as usize];
            encode(&mut record, batch.count, key, data, &headers, extra);
            if batch.count > 0 && HEADER + batch.records.len() + record.len() >= max_bytes {
                made.push((partition, batch.count, finish(std::mem::take(batch), timestamp)));
                encode(&mut record, 0, key, data, &headers, extra);
            }
            batch.records.extend_from_slice(&record);
            batch.count += 1;
        }
    }
    for (partition, batch) in open.into_iter().enumerate() {
        if batch.count > 0 {
            made.push((partition as u32, batch.count, finish(batch, timestamp)));
        }
    }
    Ok(made)
}

/// A packed row's text: its size (little-endian u32), then a zstd frame or, in a row queued before
/// zstd, an lz4 block — told apart by the frame's magic number (as an lz4 block's start, a match
/// reaching before its text: no lz4 block's). A size larger than any row's, or than lz4 could
/// reach from its block (255 bytes a byte), is refused before anything is allocated for it; so is
/// a frame holding more or less than its size says.
fn unpacked(value: &[u8]) -> Option<Vec<u8>> {
    let size = u32::from_le_bytes(value.get(..4)?.try_into().ok()?) as usize;
    if value.get(4..8) == Some(&ZSTD_MAGIC[..]) {
        if size > MOST_PACKED_TEXT {
            return None;
        }
        return zstd::bulk::decompress(&value[4..], size).ok().filter(|text| text.len() == size);
    }
    if size > (value.len() - 4).saturating_mul(255) + 16 {
        return None;
    }
    lz4_flex::block::decompress_size_prepended(value).ok()
}

const NOT_PACKED: &str = "neither a zstd frame nor an lz4 block of its size"; // as `aid_chassis.bulk`'s
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const MOST_PACKED_TEXT: usize = 256 << 20; // as `aid_chassis.bulk.MOST_PACKED_TEXT`

/// One record (magic 2) into `out`: its length, attributes, timestamp delta 0, offset delta, key,
/// value and headers, every length a zigzag varint.
fn encode(out: &mut Vec<u8>, offset: u32, key: &[u8], value: &[u8], headers: &[(&[u8], &[u8])],
          extra: &[(PyBackedStr, PyBackedBytes)]) {
    let mut body = Vec::with_capacity(32 + key.len() + value.len() + 256);
    body.push(0); // attributes
    varint(&mut body, 0); // timestamp delta
    varint(&mut body, offset as i64);
    bytes(&mut body, key);
    bytes(&mut body, value);
    varint(&mut body, (headers.len() + extra.len()) as i64);
    for (name, text) in headers {
        bytes(&mut body, name);
        bytes(&mut body, text);
    }
    for (name, text) in extra {
        bytes(&mut body, name.as_bytes());
        bytes(&mut body, text);
    }
    out.clear();
    varint(out, body.len() as i64);
    out.extend_from_slice(&body);
}

fn bytes(out: &mut Vec<u8>, data: &[u8]) {
    varint(out, data.len() as i64);
    out.extend_from_slice(data);
}

fn varint(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

/// The batch: its header (producer state unset: id -1, epoch -1, sequence -1; no checksum yet)
/// and its records compressed as one lz4 frame of independent blocks.
fn finish(batch: Open, timestamp: i64) -> Vec<u8> {
    let mut compressed = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(batch.records.len() / 2));
    std::io::Write::write_all(&mut compressed, &batch.records).expect("writing to memory");
    let records = compressed.finish().expect("writing to memory");
    let mut out = Vec::with_capacity(HEADER + records.len());
    out.extend_from_slice(&0i64.to_be_bytes()); // base offset
    out.extend_from_slice(&((HEADER - 12 + records.len()) as i32).to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch: none (the broker sets it)
    out.push(2); // magic
    out.extend_from_slice(&0u32.to_be_bytes()); // checksum: stamp_batch
    out.extend_from_slice(&LZ4.to_be_bytes());
    out.extend_from_slice(&(batch.count as i32 - 1).to_be_bytes()); // last offset delta
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&(-1i64).to_be_bytes());
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out.extend_from_slice(&(batch.count as i32).to_be_bytes());
    out.extend_from_slice(&records);
    out
}

/// Kafka's murmur2 (the default partitioner's hash of a key).
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]).wrapping_mul(M);
        k ^= k >> 24;
        h = h.wrapping_mul(M) ^ k.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= (b as u32) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}
