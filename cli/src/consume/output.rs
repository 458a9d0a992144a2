//! Printing consumed records in the `-f` format to stdout, buffered, with
//! a flush whenever the consumer has nothing ready (so an interactive
//! reader sees records as they come) and before anything is committed.
//!
//! A reader that goes away (`kafkite consume | head`) is a normal end, not
//! an error: writes then report [`Flow::Closed`].

use std::io::{self, BufWriter, StdoutLock, Write};

use kafkite_smol::ConsumedRecord;

use crate::error::CliError;
use crate::format::{Format, HeaderView, RecordView};

/// Whether to go on writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Stdout's reader is gone.
    Closed,
}

pub struct Output {
    format: Format,
    out: BufWriter<StdoutLock<'static>>,
    line: Vec<u8>,
}

impl Output {
    pub fn new(format: Format) -> Self {
        Output {
            format,
            out: BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            line: Vec::new(),
        }
    }

    pub fn write(&mut self, record: &ConsumedRecord) -> Result<Flow, CliError> {
        let headers: Vec<HeaderView<'_>> = record
            .headers
            .iter()
            .map(|h| HeaderView {
                name: h.key,
                value: h.value,
            })
            .collect();
        let view = RecordView {
            topic: &record.topic,
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp,
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: &headers,
        };
        self.line.clear();
        self.format.render(&view, &mut self.line);
        flow(self.out.write_all(&self.line))
    }

    pub fn flush(&mut self) -> Result<Flow, CliError> {
        flow(self.out.flush())
    }
}

fn flow(result: io::Result<()>) -> Result<Flow, CliError> {
    match result {
        Ok(()) => Ok(Flow::Continue),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Flow::Closed),
        Err(e) => Err(CliError::Stdout(e)),
    }
}
