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

kafkite_conformance::conformance_tests!(OnIoThread, block_on);

/// Dropping an `IoThread` while a session and a producer made on it are
/// open stops their tasks: their calls then fail with `Closed`, they do
/// not wait for an event loop that is gone.
#[test]
fn dropping_the_io_thread_fails_calls_instead_of_hanging() {
    use kafkite_tokio::{
        ClientConfig, Error, ProduceError, Producer, ProducerConfig, ProducerRecord, Session,
    };
    use std::time::Duration;

    let peer = kafkite_conformance::shared(kafkite_conformance::PeerKind::Tansu);
    block_on(async {
        let io = IoThread::start("kafkite-io-dropped").expect("the IO thread starts");
        let config = ClientConfig::from_bootstrap(peer.bootstrap());
        let session = Session::connect_on(io.runtime(), config)
            .await
            .expect("connects");
        let producer = Producer::new(&session, ProducerConfig::default())
            .await
            .expect("a producer");
        drop(io);
        let bounded = |what: &str| format!("{what} still waits 10 s after the IO thread stopped");

        let listed = tokio::time::timeout(Duration::from_secs(10), session.list_topics())
            .await
            .unwrap_or_else(|_| panic!("{}", bounded("list_topics")));
        assert!(
            matches!(listed, Err(Error::Closed)),
            "list_topics: {listed:?}"
        );

        let record = ProducerRecord::new("after-the-io-thread").value(&b"v"[..]);
        let sent = tokio::time::timeout(Duration::from_secs(10), async {
            match producer.send(record).await {
                Ok(delivery) => delivery.await,
                Err(e) => Err(e),
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{}", bounded("send")));
        assert!(matches!(sent, Err(ProduceError::Closed)), "send: {sent:?}");

        tokio::time::timeout(Duration::from_secs(10), producer.close())
            .await
            .unwrap_or_else(|_| panic!("{}", bounded("producer close")));
        tokio::time::timeout(Duration::from_secs(10), session.close())
            .await
            .unwrap_or_else(|_| panic!("{}", bounded("session close")));
    });
}
