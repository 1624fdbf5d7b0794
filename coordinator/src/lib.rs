//! gptsweep's coordinator: reads sweep files, plans runs, hands them to workers over gRPC
//! and keeps everything in SQLite.

pub mod sweep;
