//! [`IoThread`]: a thread of kafkite's own that runs its driver's tasks
//! (the event loop and the connections) on a current-thread tokio runtime.
//!
//! On a work-stealing runtime every hand-over between the event loop, a
//! connection task and the application may wake another worker, only for
//! it to find nothing to do and park again; at full producer speed that
//! parking is a sixth of the client's CPU. One thread that does all of
//! the client's IO, as librdkafka's broker threads and the Java client's
//! sender thread do, is woken once per hand-over instead.

use std::io;
use std::thread::JoinHandle;

use crate::TokioRuntime;

/// A thread running a current-thread tokio runtime for kafkite's tasks.
/// Make sessions on it with `Session::connect_on(io.runtime(), config)`;
/// they can then be used from any runtime or thread.
///
/// Dropping it stops the thread and with it every task still on it, so
/// close the sessions (and producers) made on it first.
#[derive(Debug)]
pub struct IoThread {
    runtime: TokioRuntime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl IoThread {
    /// Starts the thread, named `name`.
    pub fn start(name: &str) -> io::Result<IoThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Ends when the sender is used or dropped.
                let _ = runtime.block_on(stopped);
            })?;
        Ok(IoThread {
            runtime: TokioRuntime::on(handle),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The [`TokioRuntime`] that spawns on this thread.
    pub fn runtime(&self) -> TokioRuntime {
        self.runtime.clone()
    }
}

impl Drop for IoThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A panic on the thread was a task's; it has been reported.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkite_driver::Runtime;

    #[test]
    fn runs_tasks_on_its_own_thread_and_stops_when_dropped() {
        let io = IoThread::start("kafkite-io-test").expect("starts");
        let (tx, rx) = std::sync::mpsc::channel();
        // Spawned from a thread with no tokio runtime at all.
        io.runtime().spawn(async move {
            tokio::task::yield_now().await;
            let name = std::thread::current().name().map(str::to_owned);
            tx.send(name).expect("the test waits");
        });
        let ran_on = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the task ran");
        assert_eq!(ran_on.as_deref(), Some("kafkite-io-test"));

        // A task that never ends does not keep the thread from stopping.
        io.runtime().spawn(std::future::pending());
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(io);
            let _ = done_tx.send(());
        });
        done_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("dropping the IoThread stopped and joined its thread");
    }
}
