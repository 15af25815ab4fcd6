//! The native halves of `aid_chassis`: personal fields sealed and opened a column at a time
//! (`sealer`, for `aid_chassis.fields`), students' data keys issued a round at a time (`keys`, for
//! `aid_chassis.datakeys`) and Kafka record batches made from packed outbox rows
//! (`records`, for `aid_chassis.outbox`). Each is optional: without this module the chassis does
//! the same work in Python, with the same results.

use pyo3::prelude::*;

mod keys;
mod records;
mod sealer;

#[pymodule]
fn aid_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sealer::seal_columns, m)?)?;
    m.add_function(wrap_pyfunction!(sealer::open_columns, m)?)?;
    m.add_function(wrap_pyfunction!(sealer::open_under, m)?)?;
    m.add_function(wrap_pyfunction!(sealer::keys_for, m)?)?;
    m.add_function(wrap_pyfunction!(keys::buckets_of, m)?)?;
    m.add_function(wrap_pyfunction!(keys::issue_keys, m)?)?;
    m.add_function(wrap_pyfunction!(records::record_batches, m)?)?;
    m.add_function(wrap_pyfunction!(records::stamp_batch, m)?)?;
    Ok(())
}
