//! tansu's sqlite storage, made to hold under load.
//!
//! tansu 0.6 keeps record headers in a `header` table without any index, and reads
//! each fetched record's headers with its own query: every fetch scans the whole
//! table once per record, so consuming slows down with the square of the log's size
//! (10,000 records of seven CloudEvents headers each were enough to stall the broker
//! for tens of seconds and time out every consumer's session). Tenure adds the index
//! those queries need, once per storage file, while the broker is stopped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// The index Tenure adds to tansu's `header` table.
pub const HEADER_INDEX: &str = "tenure_header_record";

/// The file of a `sqlite://FILE` storage URL (relative to the working directory, as
/// tansu reads it); `None` for other storage.
pub fn sqlite_file(storage: &str) -> Option<PathBuf> {
    storage
        .strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// Whether `file` already has Tenure's header index. A file tansu has not run on yet
/// has neither its tables nor the index.
pub fn is_prepared(file: &Path) -> Result<bool, rusqlite::Error> {
    has_schema_object(file, "index", HEADER_INDEX)
}

/// Whether tansu has created its `header` table in `file`.
pub fn has_header_table(file: &Path) -> Result<bool, rusqlite::Error> {
    has_schema_object(file, "table", "header")
}

/// Whether `file` exists and its schema holds an object of `kind` named `name`.
fn has_schema_object(file: &Path, kind: &str, name: &str) -> Result<bool, rusqlite::Error> {
    if !file.exists() {
        return Ok(false);
    }
    let db = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let found: i64 = db.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = ?1 AND name = ?2",
        [kind, name],
        |r| r.get(0),
    )?;
    Ok(found == 1)
}

/// Adds the header index to `file`; the broker must not be running on it.
pub fn prepare(file: &Path) -> Result<(), rusqlite::Error> {
    let db = Connection::open(file)?;
    db.busy_timeout(Duration::from_secs(30))?;
    db.execute_batch(&format!(
        "CREATE INDEX IF NOT EXISTS {HEADER_INDEX} ON header (topition, offset_id)"
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_added_once_to_a_file_with_tansus_header_table() {
        let dir = std::env::temp_dir().join(format!("tenure-sqlite-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("broker.db");
        let _ = std::fs::remove_file(&file);
        assert!(!is_prepared(&file).unwrap());
        assert!(!has_header_table(&file).unwrap());
        Connection::open(&file)
            .unwrap()
            .execute_batch(
                "CREATE TABLE header (topition integer, offset_id integer, k blob, v blob)",
            )
            .unwrap();
        assert!(has_header_table(&file).unwrap());
        assert!(!is_prepared(&file).unwrap());
        prepare(&file).unwrap();
        prepare(&file).unwrap();
        assert!(is_prepared(&file).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_sqlite_urls_name_a_file() {
        assert_eq!(
            sqlite_file("sqlite://.tenure/broker.db"),
            Some(PathBuf::from(".tenure/broker.db"))
        );
        assert_eq!(sqlite_file("memory://tansu/"), None);
        assert_eq!(sqlite_file("sqlite://"), None);
    }
}
