//! Contract documents: each flow's PDF, made from its template and the initiator's values.
//! Creation only queues a job (in the group's transaction); background workers, threads at
//! the lowest CPU priority so that API calls keep the cores, take jobs from the durable queue
//! in the database. Whoever needs a document that is not made yet makes it on the spot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::anyhow;
use bytes::Bytes;
use tracing::{info, warn};

use crate::blobs::BlobStore;
use crate::domain::ExternalId;
use crate::domain::document::{DynamicTable, ImageFit, TextStyle, set_text};
use crate::domain::id::{FileId, FlowId};
use crate::domain::template::{ComponentType, Template};
use crate::error::Failure;
use crate::pdf::compose::{Mark, PreparedTemplate, compose};
use crate::pdf::font::Fonts;
use crate::pdf::image::{ImageXObject, image_xobject};
use crate::store::Store;
use crate::store::documents::{Document, DocumentState, Outcome};

/// Attempts before a job is recorded as failed.
const MAX_ATTEMPTS: i64 = 3;
/// Jobs a worker claims at once.
const BATCH: i64 = 8;
/// How long a caller waits for a document another worker is making.
const WAIT: Duration = Duration::from_secs(30);

pub struct Synthesis {
    store: Store,
    blobs: BlobStore,
    fonts: Arc<Fonts>,
    templates: moka::sync::Cache<String, Arc<PreparedTemplate>>,
    images: moka::sync::Cache<String, Arc<ImageXObject>>,
    wake: (Mutex<bool>, Condvar),
    stopping: AtomicBool,
    /// How long a worker holds a job before others may take it over (a worker that died), in ms.
    lease_ms: i64,
}

/// Everything one document is made from.
pub struct Input {
    pub template: Arc<Template>,
    pub prepared: Arc<PreparedTemplate>,
    pub fields: Vec<(String, String)>,
    /// Decoded images by the FileId a field names.
    pub images: HashMap<String, Arc<ImageXObject>>,
}

impl Synthesis {
    pub fn new(store: Store, blobs: BlobStore, fonts: Arc<Fonts>, lease: Duration) -> Arc<Synthesis> {
        Arc::new(Synthesis {
            store,
            blobs,
            fonts,
            templates: moka::sync::Cache::builder().max_capacity(64).build(),
            images: moka::sync::Cache::builder().max_capacity(256).build(),
            wake: (Mutex::new(false), Condvar::new()),
            stopping: AtomicBool::new(false),
            lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
        })
    }

    pub fn fonts(&self) -> &Arc<Fonts> {
        &self.fonts
    }

    /// Tells idle workers that jobs were queued.
    pub fn wake(&self) {
        let (lock, signal) = &self.wake;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        signal.notify_all();
    }

    /// Reads what a flow's document is made from.
    pub async fn load(&self, app: &ExternalId, flow_id: &FlowId) -> Result<Input, Failure> {
        let flow = self.store.flow(app, flow_id).await?.ok_or_else(|| anyhow!("flow {flow_id} vanished"))?;
        let template =
            self.store.template(app, &flow.template_id).await?.ok_or_else(|| {
                anyhow!("template {} of flow {} vanished", flow.template_id.as_str(), flow_id.as_str())
            })?;
        let prepared = self.made_from_blob(&self.templates, &template.pdf_sha256, PreparedTemplate::new).await?;
        let mut images = HashMap::new();
        for (id, value) in &flow.fields {
            if !template
                .components
                .iter()
                .any(|c| &c.component_id == id && c.component_type == ComponentType::FillImage)
            {
                continue;
            }
            let file_id = FileId::parse(Some(value), "value").map_err(|e| anyhow!(e.message))?;
            let file = self.store.file(app, &file_id).await?.ok_or_else(|| anyhow!("image {value} vanished"))?;
            let image = self.made_from_blob(&self.images, &file.sha256, |bytes| image_xobject(&bytes)).await?;
            images.insert(value.clone(), image);
        }
        Ok(Input { template, prepared, fields: flow.fields, images })
    }

    /// What `make` builds from blob `sha256`, kept in `cache` by the blob's hash; `make` runs
    /// off the async threads.
    async fn made_from_blob<T: Send + Sync + 'static>(
        &self,
        cache: &moka::sync::Cache<String, Arc<T>>,
        sha256: &str,
        make: impl FnOnce(Bytes) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<Arc<T>, Failure> {
        if let Some(made) = cache.get(sha256) {
            return Ok(made);
        }
        let bytes = self.blobs.get(sha256).await?;
        let made = Arc::new(tokio::task::spawn_blocking(move || make(bytes)).await.map_err(anyhow::Error::from)??);
        cache.insert(sha256.to_owned(), made.clone());
        Ok(made)
    }

    /// The document's bytes: CPU only.
    pub fn render(&self, input: &Input) -> anyhow::Result<Vec<u8>> {
        render(input, &self.fonts)
    }

    /// Makes a claimed job's document and records it; a failure is retried until the last
    /// attempt, which records it as failed.
    async fn run(
        self: &Arc<Self>,
        app: &ExternalId,
        flow_id: &FlowId,
        attempts: i64,
        on_this_thread: bool,
    ) -> Result<(), Failure> {
        let made: anyhow::Result<Vec<u8>> = match self.load(app, flow_id).await {
            Ok(input) if on_this_thread => self.render(&input),
            Ok(input) => {
                let me = self.clone();
                tokio::task::spawn_blocking(move || me.render(&input))
                    .await
                    .map_err(anyhow::Error::from)
                    .and_then(|r| r)
            }
            Err(Failure::Client(e)) => Err(anyhow!(e.message)),
            Err(Failure::Internal(e)) => Err(e),
        };
        let outcome = match made {
            Ok(pdf) => Outcome::Ready { sha256: self.blobs.put(Bytes::from(pdf)).await? },
            Err(e) if attempts < MAX_ATTEMPTS => {
                warn!(flow_id = flow_id.as_str(), attempts, "synthesis failed, will retry: {e:#}");
                return self.store.retry_document(flow_id, 1_000 * attempts).await;
            }
            Err(e) => {
                warn!(flow_id = flow_id.as_str(), "synthesis failed for good: {e:#}");
                Outcome::Failed { error: format!("{e:#}") }
            }
        };
        if !self.store.finish_document(flow_id, &outcome).await? {
            info!(flow_id = flow_id.as_str(), "another worker recorded this document first (a lease ran out)");
        }
        Ok(())
    }

    /// The document of `flow_id`, made now if it is not yet (or waited for, while another
    /// worker makes it), or why there is none.
    pub async fn ensure(
        self: &Arc<Self>,
        app: &ExternalId,
        flow_id: &FlowId,
    ) -> Result<Result<Document, String>, Failure> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let Some(doc) = self.store.document(app, flow_id).await? else {
                return Ok(Err("the contract has no document".into()));
            };
            match doc.state {
                DocumentState::Ready => return Ok(Ok(doc)),
                DocumentState::Failed => {
                    return Ok(Err(format!("the document could not be made: {}", doc.error.unwrap_or_default())));
                }
                DocumentState::Pending => {}
            }
            if !doc.leased
                && let Some(attempts) = self.store.claim_document(app, flow_id, self.lease_ms).await?
            {
                self.run(app, flow_id, attempts, false).await?;
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(Err("the document is still being made; ask again shortly".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `n` worker threads on `runtime`; they run until [`Synthesis::stop`].
    pub fn start_workers(
        self: &Arc<Self>,
        n: usize,
        runtime: tokio::runtime::Handle,
    ) -> Vec<std::thread::JoinHandle<()>> {
        (0..n)
            .map(|i| {
                let me = self.clone();
                let rt = runtime.clone();
                std::thread::Builder::new()
                    .name(format!("synthesis-{i}"))
                    .spawn(move || me.work(&rt))
                    .expect("starting a synthesis thread")
            })
            .collect()
    }

    fn work(self: Arc<Self>, rt: &tokio::runtime::Handle) {
        lowest_priority();
        while !self.stopping.load(Ordering::SeqCst) {
            let claimed = match rt.block_on(self.store.claim_documents(BATCH, self.lease_ms)) {
                Ok(c) => c,
                Err(e) => {
                    warn!("claiming synthesis jobs: {e:?}");
                    self.idle(Duration::from_secs(1));
                    continue;
                }
            };
            if claimed.is_empty() {
                self.idle(Duration::from_secs(1));
                continue;
            }
            for (n, job) in claimed.iter().enumerate() {
                if self.stopping.load(Ordering::SeqCst) {
                    let rest: Vec<FlowId> = claimed[n..].iter().map(|job| job.flow_id.clone()).collect();
                    if let Err(e) = rt.block_on(self.store.release_documents(&rest)) {
                        warn!("releasing {} synthesis jobs: {e:?}", rest.len());
                    }
                    break;
                }
                if let Err(e) = rt.block_on(self.run(&job.app, &job.flow_id, job.attempts, true)) {
                    warn!(flow_id = job.flow_id.as_str(), "synthesis job: {e:?}");
                }
            }
        }
    }

    fn idle(&self, at_most: Duration) {
        let (lock, signal) = &self.wake;
        let mut woken = lock.lock().unwrap_or_else(|e| e.into_inner());
        if !*woken && !self.stopping.load(Ordering::SeqCst) {
            woken = signal.wait_timeout(woken, at_most).unwrap_or_else(|e| e.into_inner()).0;
        }
        *woken = false;
    }

    /// Asks the workers to stop after the job in hand; unstarted claimed jobs go back.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake();
    }
}

/// Background synthesis must not take CPU from API calls: its threads run at nice 19.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority only reads its arguments; on Linux, who = 0 with PRIO_PROCESS
        // names the calling thread.
        let r = unsafe { libc::setpriority(libc::PRIO_PROCESS as _, 0, 19) };
        if r != 0 {
            info!("could not lower the synthesis thread's priority: {}", std::io::Error::last_os_error());
        }
    }
}

/// A document from its inputs, with `fonts`: what the workers run for each job.
pub fn render(input: &Input, fonts: &Fonts) -> anyhow::Result<Vec<u8>> {
    let marks = marks(input, fonts)?;
    compose(&input.prepared, &marks, fonts)
}

/// What each filled component draws, on each of its boxes.
fn marks(input: &Input, fonts: &Fonts) -> anyhow::Result<Vec<Mark>> {
    let mut marks = Vec::new();
    for (id, value) in &input.fields {
        let c = input
            .template
            .components
            .iter()
            .find(|c| &c.component_id == id)
            .ok_or_else(|| anyhow!("component {id} is no longer in the template"))?;
        let at = || format!("component {id}");
        let p = c.placement;
        match c.component_type {
            ComponentType::Text
            | ComponentType::MultiLineText
            | ComponentType::Date
            | ComponentType::Selector
            | ComponentType::District => {
                let style = TextStyle::parse(c.extra.as_deref(), "ComponentExtra").map_err(|e| anyhow!(e.message))?;
                fonts.get(style.font)?;
                let lines = set_text(value, &style, p.width, p.height, fonts)
                    .map_err(|e| anyhow!("{}: {}", at(), e.describe(p.width, p.height, style.size)))?;
                marks.push(Mark::Text { page: p.page, rect: p, lines, style });
            }
            ComponentType::CheckBox => marks.push(Mark::Check { page: p.page, rect: p, checked: value == "true" }),
            ComponentType::FillImage => {
                let image = input.images.get(value).ok_or_else(|| anyhow!("{}: image {value} not loaded", at()))?;
                let fit = ImageFit::parse(c.extra.as_deref(), "ComponentExtra").map_err(|e| anyhow!(e.message))?;
                marks.push(Mark::Image { page: p.page, rect: p, image: image.clone(), fit });
            }
            ComponentType::DynamicTable => {
                let table = DynamicTable::parse(value, "value").map_err(|e| anyhow!(e.message))?;
                fonts.get(TextStyle::default().font)?;
                marks.push(Mark::Table { page: p.page, rect: p, table });
            }
            // Attachments are files beside the contract, not marks on it.
            _ => {}
        }
    }
    Ok(marks)
}
