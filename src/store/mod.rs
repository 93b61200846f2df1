//! Everything obsq writes: the data-root layout, the commit log and its SQLite index, landing
//! JSONL (`record`), Parquet files through `object_store`, and the exactly-once ingest pipeline.

pub mod backfill;
pub mod catalog;
pub mod commit;
pub mod compact;
pub mod decode;
pub mod drift;
pub mod fault;
pub mod heap;
pub mod index;
pub mod ingest;
pub mod landing;
pub mod layout;
pub mod log;
pub mod objects;
pub mod quarantine;
pub mod repair;
pub mod sources;
pub mod tail;
pub mod writer;

pub use catalog::Catalog;
pub use landing::Recorder;
pub use layout::Layout;
