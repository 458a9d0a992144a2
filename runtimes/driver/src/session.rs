//! [`Session`]: the user's handle on a running client: its connections,
//! metadata and requests.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kafkite::admin::Phrasing;
use kafkite::client::{
    ApiVersionTable, ClientConfig, ClusterMetadata, RequestError, RequestOptions, Response, Target,
};
use kafkite::protocol::{AnyRequest, AnyResponse, ApiKey, Request, VersionRange};
use kafkite::security::TlsConnector;

use crate::error::Error;
use crate::event_loop::command::{Command, Snapshot};
use crate::event_loop::EventLoop;
use crate::runtime::Runtime;

/// A connection to a Kafka cluster: brokers discovered from the bootstrap
/// servers, one connection per broker with versions negotiated, requests
/// routed to the broker they belong to.
///
/// Cheap to clone; every clone drives the same client. The client closes
/// when [`Session::close`] is called or the last clone is dropped.
pub struct Session<R: Runtime> {
    inner: Arc<Inner<R>>,
}

struct Inner<R> {
    runtime: R,
    config: ClientConfig,
    commands: async_channel::Sender<Command>,
    snapshot: Arc<Mutex<Snapshot>>,
    /// Topics added with [`Session::add_topics`]. A refresh asks for them
    /// even when the cache has dropped them (a topic the broker did not
    /// know yet, just after its creation, is dropped from the cache).
    wanted: Mutex<BTreeSet<String>>,
    /// Names the producers (and later consumers) living in the event loop.
    next_component: AtomicU64,
}

impl<R: Runtime> Clone for Session<R> {
    fn clone(&self) -> Self {
        Session {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<R: Runtime> std::fmt::Debug for Session<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("bootstrap_servers", &self.inner.config.bootstrap_servers)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime + Default> Session<R> {
    /// Connects on the runtime `R::default()`: see [`Session::connect_on`].
    pub async fn connect(config: ClientConfig) -> Result<Self, Error> {
        Session::connect_on(R::default(), config).await
    }
}

impl<R: Runtime> Session<R> {
    /// Starts the client's event loop on `runtime` and waits for the first
    /// cluster metadata. Fails after the config's request timeout with
    /// [`Error::Bootstrap`], which names the bootstrap servers and the last
    /// connection errors.
    pub async fn connect_on(runtime: R, config: ClientConfig) -> Result<Self, Error> {
        if config.bootstrap_servers.is_empty() {
            return Err(Error::NoBootstrapServers);
        }
        // Certificates and keys are read once, here, for every connection.
        let tls = match &config.tls {
            Some(settings) => Some(TlsConnector::new(settings).map_err(Error::TlsSettings)?),
            None => None,
        };
        let (commands, command_rx) = async_channel::unbounded();
        // Unbounded: producers bound their records by bytes (see
        // `buffer_gauge`), and every other command is one per awaiting call.
        let (bootstrapped, bootstrap_rx) = async_channel::bounded(1);
        let snapshot = Arc::new(Mutex::new(Snapshot::default()));
        let event_loop = EventLoop::new(
            runtime.clone(),
            (config.clone(), tls),
            command_rx,
            Arc::clone(&snapshot),
            bootstrapped,
        );
        runtime.spawn(event_loop.run());
        let session = Session {
            inner: Arc::new(Inner {
                runtime,
                config,
                commands,
                snapshot,
                wanted: Mutex::new(BTreeSet::new()),
                next_component: AtomicU64::new(1),
            }),
        };
        bootstrap_rx.recv().await.map_err(|_| Error::Closed)??;
        Ok(session)
    }

    /// Sends `request` to `target` and waits for its typed response.
    pub async fn send<Req>(&self, target: Target, request: Req) -> Result<Req::Response, Error>
    where
        Req: Request + Into<AnyRequest>,
        Req::Response: TryFrom<AnyResponse>,
    {
        self.send_with(target, request, RequestOptions::default())
            .await
    }

    /// Like [`Session::send`], with per-request options (versions allowed,
    /// timeout).
    pub async fn send_with<Req>(
        &self,
        target: Target,
        request: Req,
        options: RequestOptions,
    ) -> Result<Req::Response, Error>
    where
        Req: Request + Into<AnyRequest>,
        Req::Response: TryFrom<AnyResponse>,
    {
        let answer = self.call(target, request, options).await?;
        Ok(answer.body)
    }

    /// The latest cluster metadata, as of the last event the client handled.
    pub fn metadata(&self) -> ClusterMetadata {
        self.lock().metadata.clone()
    }

    /// Asks for metadata of the brokers and of the topics known or added,
    /// and waits for the answer.
    pub async fn refresh_metadata(&self) -> Result<ClusterMetadata, Error> {
        let mut topics: BTreeSet<String> = self.lock().metadata.topics.keys().cloned().collect();
        topics.extend(self.wanted().iter().cloned());
        let topics: Vec<String> = topics.into_iter().collect();
        self.fetch_metadata(&topics).await
    }

    /// Adds topics to the ones the client keeps metadata for, and waits for
    /// their metadata. Topics are not created.
    pub async fn add_topics<S: AsRef<str>>(&self, topics: &[S]) -> Result<ClusterMetadata, Error> {
        let topics: Vec<String> = topics.iter().map(|t| t.as_ref().to_string()).collect();
        self.wanted().extend(topics.iter().cloned());
        self.command(Command::AddTopics(topics.clone())).await?;
        self.fetch_metadata(&topics).await
    }

    /// The versions negotiated with a broker, once the client has connected
    /// to it.
    pub fn broker_versions(&self, node: i32) -> Option<ApiVersionTable> {
        self.lock().versions.get(&node).cloned()
    }

    /// Finishes the requests in flight, closes every connection and stops
    /// the event loop. Requests made after this fail. Returns when the
    /// sockets are closed (at once if they already are).
    pub async fn close(&self) {
        let (reply, done) = async_channel::bounded(1);
        if self.command(Command::Close { reply }).await.is_ok() {
            // An error means the loop has already stopped: closed as well.
            let _ = done.recv().await;
        }
    }

    /// The config the session was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The runtime the session runs on.
    pub fn runtime(&self) -> &R {
        &self.inner.runtime
    }

    // ---- for the admin methods ----

    /// Sends and waits, keeping the version and broker of the answer.
    pub(crate) async fn call<Req>(
        &self,
        target: Target,
        request: Req,
        options: RequestOptions,
    ) -> Result<Answer<Req::Response>, Error>
    where
        Req: Request + Into<AnyRequest>,
        Req::Response: TryFrom<AnyResponse>,
    {
        let pending = self.submit(target, request.into(), options).await?;
        pending.wait().await
    }

    /// Hands a request to the event loop; the returned handle waits for its
    /// answer. Submitting several before waiting lets them run at once.
    pub(crate) async fn submit<T>(
        &self,
        target: Target,
        request: AnyRequest,
        options: RequestOptions,
    ) -> Result<Pending<T>, Error> {
        let api = request.api_key();
        let (reply, answer) = async_channel::bounded(1);
        let command = Command::Send {
            target: target.clone(),
            request: Box::new(request),
            options,
            reply,
        };
        self.command(command).await?;
        Ok(Pending {
            api,
            target,
            answer,
            _type: PhantomData,
        })
    }

    /// Sends the first phrasing the target broker can take, newest first.
    /// When it can take none, the error is the last `UnsupportedVersion`.
    pub(crate) async fn call_phrased<Req>(
        &self,
        target: Target,
        phrasings: Vec<Phrasing<Req>>,
        timeout: Option<std::time::Duration>,
    ) -> Result<Answer<Req::Response>, Error>
    where
        Req: Request + Into<AnyRequest>,
        Req::Response: TryFrom<AnyResponse>,
    {
        let mut last = Error::Closed;
        for phrasing in phrasings {
            let options = RequestOptions {
                versions: phrasing.versions,
                timeout,
                ..RequestOptions::default()
            };
            match self.call(target.clone(), phrasing.request, options).await {
                Err(e) if e.is_unsupported_version() => last = e,
                other => return other,
            }
        }
        Err(last)
    }

    /// Fetches metadata for `topics` (brokers only when empty) through the
    /// core, which applies the answer to its cache, and returns the cache.
    async fn fetch_metadata(&self, topics: &[String]) -> Result<ClusterMetadata, Error> {
        let phrasings = kafkite::admin::topic_metadata_requests(topics);
        self.call_phrased(Target::AnyBroker, phrasings, None)
            .await?;
        Ok(self.metadata())
    }

    /// Sleeps until `deadline` on the session's runtime: a timer for code
    /// that is generic over the runtime.
    pub async fn sleep_until(&self, deadline: Instant) {
        self.inner.runtime.sleep_until(deadline).await
    }

    pub(crate) async fn command(&self, command: Command) -> Result<(), Error> {
        self.inner
            .commands
            .send(command)
            .await
            .map_err(|_| Error::Closed)
    }

    /// Hands a command over without waiting (the channel is unbounded).
    pub(crate) fn command_now(&self, command: Command) -> Result<(), Error> {
        self.inner
            .commands
            .try_send(command)
            .map_err(|_| Error::Closed)
    }

    /// How many times the event loop has woken (for an input, a deadline
    /// or a command). An idle client wakes only for its heartbeats and
    /// metadata refreshes; this shows it.
    pub fn wakeups(&self) -> u64 {
        self.inner
            .snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .wakeups
    }

    pub(crate) fn next_component_id(&self) -> u64 {
        self.inner.next_component.fetch_add(1, Ordering::Relaxed)
    }

    fn wanted(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.inner
            .wanted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.inner
            .snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A typed response with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Answer<T> {
    pub body: T,
    pub version: i16,
    #[allow(dead_code)]
    pub broker: i32,
}

/// A submitted request's answer, to wait for.
pub(crate) struct Pending<T> {
    api: ApiKey,
    target: Target,
    answer: async_channel::Receiver<Result<Response, RequestError>>,
    _type: PhantomData<fn() -> T>,
}

impl<T: TryFrom<AnyResponse>> Pending<T> {
    pub(crate) async fn wait(self) -> Result<Answer<T>, Error> {
        let (api, target) = (self.api, self.target);
        let response = self
            .answer
            .recv()
            .await
            .map_err(|_| Error::Closed)?
            .map_err(|source| Error::Request {
                api,
                target,
                source: Box::new(source),
            })?;
        let Some(body) = response.body else {
            return Err(Error::NoResponse { api });
        };
        let unexpected = Error::UnexpectedResponse {
            api,
            version: response.version,
            broker: response.broker,
        };
        let body = T::try_from(body).map_err(|_| unexpected)?;
        Ok(Answer {
            body,
            version: response.version,
            broker: response.broker,
        })
    }
}

/// Every version this build speaks: for phrasings that fit all of them.
pub(crate) const ANY_VERSION: VersionRange = VersionRange {
    min: 0,
    max: i16::MAX,
};
