//! The driver's conformance suite on tokio with every session's tasks on one
//! `IoThread` (a current-thread runtime of kafkite's own), while each test's
//! own future runs on another runtime on the test's thread: sessions made
//! and used from outside the runtime their tasks run on.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Instant;

use kafkite_tokio::{IoThread, Runtime, TokioRuntime};

/// The one `IoThread` of this test binary, never stopped (the process ends
/// with it).
fn io_thread() -> &'static IoThread {
    static IO: OnceLock<IoThread> = OnceLock::new();
    IO.get_or_init(|| IoThread::start("kafkite-io").expect("the IO thread starts"))
}

/// `TokioRuntime::on` the binary's `IoThread`, as `Default` (which the
/// suite makes its runtimes with).
#[derive(Debug, Clone)]
struct OnIoThread(TokioRuntime);

impl Default for OnIoThread {
    fn default() -> Self {
        OnIoThread(io_thread().runtime())
    }
}

impl Runtime for OnIoThread {
    type Tcp = <TokioRuntime as Runtime>::Tcp;

    fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = std::io::Result<Self::Tcp>> + Send {
        self.0.connect(host, port)
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        self.0.sleep_until(deadline)
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.0.spawn(task)
    }
}

/// The test's own future on a current-thread runtime of its own.
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

kafkite_driver::conformance_tests!(OnIoThread, block_on);
