//! Everything obsq writes: the data-root layout, the SQLite catalog, landing JSONL (`record`),
//! Parquet files through `object_store`, and the exactly-once ingest pipeline.

pub mod backfill;
pub mod catalog;
pub mod compact;
pub mod decode;
pub mod fault;
pub mod ingest;
pub mod landing;
pub mod layout;
pub mod objects;
pub mod sources;
pub mod tail;
pub mod writer;

pub use catalog::Catalog;
pub use landing::Recorder;
pub use layout::Layout;
