//! Housekeeping the scheduler runs on each node: taxonomies downloaded from the static
//! server and swapped into the running service, old temporary directories removed.
//! May use `infra`, `taxonomy`, `config`.

pub mod taxonomy_refresh;
pub mod tmp_cleanup;
