//! Record data: RecordBatch v2, legacy MessageSet v0/v1, and compression.
