//! Every `tracing` event of a test process, at TRACE, kept in memory: to
//! check what the client logs (and what it must never log).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

/// The captured text so far.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything logged since the capture started, as text.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// One event's line, appended to the capture when written.
pub struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut all) = self.0.lock() {
            all.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> Self::Writer {
        CaptureWriter(self.0.clone())
    }
}

/// Captures every event of this process from now on, at every level and
/// from every thread (the drivers log from their own tasks). The first
/// call installs the process's subscriber; it must come before anything
/// else installs one, so a test binary that checks the capture holds only
/// tests that use it.
pub fn capture_every_log() -> CapturedLogs {
    static CAPTURE: OnceLock<CapturedLogs> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let logs = CapturedLogs::default();
            let installed = tracing_subscriber::fmt()
                .with_writer(logs.clone())
                .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
                .with_ansi(false)
                .try_init();
            assert!(
                installed.is_ok(),
                "another subscriber was installed first: the capture would be empty"
            );
            logs
        })
        .clone()
}
