//! Contract documents: each flow's PDF, made from its template and the initiator's values.
//! Creation only queues a job (in the group's transaction); background workers take jobs from
//! the durable queue in the database. Whoever needs a document that is not made yet makes it on
//! the spot. Every render, the workers' and the on-demand ones, runs on the node's render
//! threads: at the lowest CPU priority, so that API calls keep the cores, and no more at once
//! than there are threads, so that memory is bounded by what that many documents need. A
//! signer's revisions are the API call itself, drawn while the signer waits: they run on
//! signing threads of their own, at normal priority, one per core.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::anyhow;
use bytes::Bytes;
use futures::FutureExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::blobs::BlobStore;
use crate::domain::ExternalId;
use crate::domain::document::{DynamicTable, ImageFit, TextStyle, set_text};
use crate::domain::evidence::SignatureCertificate;
use crate::domain::id::{FileId, FlowId};
use crate::domain::template::{Component, ComponentType, Template};
use crate::error::Failure;
use crate::pdf::compose::{Mark, PreparedTemplate, compose};
use crate::pdf::font::Fonts;
use crate::pdf::image::{ImageXObject, image_xobject};
use crate::pdf::pades;
use crate::pki::pades::EventSignature;
use crate::pki::{Credential, Pki, Subject};
use crate::store::Store;
use crate::store::documents::{Document, DocumentState, Lease, MAX_ATTEMPTS, Outcome};

/// Jobs a worker claims at once.
const BATCH: i64 = 8;
/// How long a caller waits for the documents it asked for, all of them together.
const WAIT: Duration = Duration::from_secs(30);

/// What a document is rendered with: [`render`], except in tests that watch or break renders.
type Renderer = fn(&Input, &Fonts) -> anyhow::Result<Vec<u8>>;

pub struct Synthesis {
    store: Store,
    blobs: BlobStore,
    fonts: Arc<Fonts>,
    templates: moka::sync::Cache<String, Arc<PreparedTemplate>>,
    images: moka::sync::Cache<String, Arc<ImageXObject>>,
    renderer: Renderer,
    /// Where templates are parsed, images decoded and documents rendered.
    render_threads: rayon::ThreadPool,
    /// Where signers' revisions are drawn: a group's contracts in parallel, and neither behind
    /// background renders nor at their priority (a busy machine starves nice 19 for seconds).
    signing_threads: rayon::ThreadPool,
    /// On-demand jobs claimed at once: as many as there are render threads, so that a claimed
    /// job waits for a render thread behind at most that many others and not past its lease.
    on_demand: Semaphore,
    wake: (Mutex<bool>, Condvar),
    stopping: AtomicBool,
    /// How long a worker holds a job before others may take it over (a worker that died), in ms.
    lease_ms: i64,
    /// How long `ensure` waits, [`WAIT`] but in tests.
    wait: Duration,
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
    /// `render_threads` renders at most run at once on this node (at least one).
    pub fn new(
        store: Store,
        blobs: BlobStore,
        fonts: Arc<Fonts>,
        lease: Duration,
        render_threads: usize,
    ) -> anyhow::Result<Arc<Synthesis>> {
        Synthesis::with_renderer(store, blobs, fonts, lease, render_threads, (render, WAIT))
    }

    fn with_renderer(
        store: Store,
        blobs: BlobStore,
        fonts: Arc<Fonts>,
        lease: Duration,
        render_threads: usize,
        (renderer, wait): (Renderer, Duration),
    ) -> anyhow::Result<Arc<Synthesis>> {
        let render_threads = render_threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(render_threads)
            .thread_name(|i| format!("render-{i}"))
            .start_handler(|_| lowest_priority())
            .build()?;
        let signing_threads = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("signing-{i}")).build()?;
        Ok(Arc::new(Synthesis {
            store,
            blobs,
            fonts,
            templates: moka::sync::Cache::builder().max_capacity(64).build(),
            images: moka::sync::Cache::builder().max_capacity(256).build(),
            renderer,
            render_threads: pool,
            signing_threads,
            on_demand: Semaphore::new(render_threads),
            wake: (Mutex::new(false), Condvar::new()),
            stopping: AtomicBool::new(false),
            lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
            wait,
        }))
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

    /// Runs `work` on a render thread, after the renders queued before it; a panic in it is an
    /// error like any other, so that one poisonous input fails its own job and nothing else.
    pub async fn on_render_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        on_thread_of(&self.render_threads, work).await
    }

    /// Reads what a flow's document is made from.
    pub async fn load(&self, app: &ExternalId, flow_id: &FlowId) -> Result<Input, Failure> {
        let flow = self.store.flow(app, flow_id).await?.ok_or_else(|| anyhow!("flow {flow_id} vanished"))?;
        let template = self.store.flow_template(app, &flow).await?;
        let prepared = self.made_from_blob(&self.templates, &template.pdf_sha256, PreparedTemplate::new).await??;
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
            let image = self.image(&file.sha256).await??;
            images.insert(value.clone(), image);
        }
        Ok(Input { template, prepared, fields: flow.fields, images })
    }

    /// Image blob `sha256` as documents embed it, decoded once per node and kept for the
    /// renders; the inner error says why the bytes are not an image synthesis can use.
    pub async fn image(&self, sha256: &str) -> Result<anyhow::Result<Arc<ImageXObject>>, Failure> {
        self.made_from_blob(&self.images, sha256, |bytes| image_xobject(&bytes)).await
    }

    /// What `make` builds from blob `sha256`, kept in `cache` by the blob's hash; `make` runs
    /// on a render thread. The outer error is the server's (the blob cannot be read), the
    /// inner one `make`'s.
    async fn made_from_blob<T: Send + Sync + 'static>(
        &self,
        cache: &moka::sync::Cache<String, Arc<T>>,
        sha256: &str,
        make: impl FnOnce(Bytes) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<anyhow::Result<Arc<T>>, Failure> {
        if let Some(made) = cache.get(sha256) {
            return Ok(Ok(made));
        }
        let bytes = self.blobs.get(sha256).await?;
        let made = self.on_render_thread(move || make(bytes)).await.map(Arc::new);
        if let Ok(made) = &made {
            cache.insert(sha256.to_owned(), made.clone());
        }
        Ok(made)
    }

    /// The document's bytes, made on a render thread.
    async fn rendered(&self, input: Input) -> anyhow::Result<Vec<u8>> {
        let (renderer, fonts) = (self.renderer, self.fonts.clone());
        self.on_render_thread(move || renderer(&input, &fonts)).await
    }

    /// Makes a claimed job's document and records it; a failure is retried until the last
    /// attempt, which records it as failed.
    async fn run(&self, lease: &Lease) -> Result<(), Failure> {
        let flow_id = &lease.flow_id;
        let made = match self.load(&lease.app, flow_id).await {
            Ok(input) => self.rendered(input).await,
            Err(Failure::Client(e)) => Err(anyhow!(e.message)),
            Err(Failure::Internal(e)) => Err(e),
        };
        let outcome = match made {
            Ok(pdf) => Outcome::Ready { sha256: self.blobs.put(Bytes::from(pdf)).await? },
            Err(e) if lease.attempts < MAX_ATTEMPTS => {
                warn!(flow_id = flow_id.as_str(), attempts = lease.attempts, "synthesis failed, will retry: {e:#}");
                if !self.store.retry_document(lease, 1_000 * lease.attempts).await? {
                    info!(flow_id = flow_id.as_str(), "not retried: another worker holds the job (the lease ran out)");
                }
                return Ok(());
            }
            Err(e) => {
                warn!(flow_id = flow_id.as_str(), "synthesis failed for good: {e:#}");
                crate::metrics::job_failed(crate::metrics::Queue::Documents);
                Outcome::Failed { error: format!("{e:#}") }
            }
        };
        if !self.store.finish_document(lease, &outcome).await? {
            info!(
                flow_id = flow_id.as_str(),
                "not recorded: another worker recorded or holds the job (the lease ran out)"
            );
        }
        Ok(())
    }

    /// The documents of `flow_ids`, in order: each made now if it is not yet (or waited for,
    /// while another worker makes it), or why there is none. All are waited for together,
    /// [`WAIT`] at most; a document not ready by then says so.
    pub async fn ensure(
        &self,
        app: &ExternalId,
        flow_ids: &[FlowId],
    ) -> Result<Vec<Result<Document, String>>, Failure> {
        let deadline = Instant::now() + self.wait;
        futures::future::try_join_all(flow_ids.iter().map(|flow_id| self.ensure_one(app, flow_id, deadline))).await
    }

    async fn ensure_one(
        &self,
        app: &ExternalId,
        flow_id: &FlowId,
        deadline: Instant,
    ) -> Result<Result<Document, String>, Failure> {
        let still_being_made = || Ok(Err("the document is still being made; ask again shortly".to_owned()));
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
            if !doc.leased {
                let Ok(permit) = tokio::time::timeout_at(deadline, self.on_demand.acquire()).await else {
                    return still_being_made();
                };
                let _permit = permit.map_err(anyhow::Error::from)?;
                if let Some(lease) = self.store.claim_document(app, flow_id, self.lease_ms).await? {
                    self.run(&lease).await?;
                }
                continue;
            }
            if Instant::now() >= deadline {
                return still_being_made();
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
        // Besides waiting for renders, a worker reads rows and hashes documents: background work too.
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
            for (n, lease) in claimed.iter().enumerate() {
                if self.stopping.load(Ordering::SeqCst) {
                    if let Err(e) = rt.block_on(self.store.release_documents(&claimed[n..])) {
                        warn!("releasing {} synthesis jobs: {e:?}", claimed.len() - n);
                    }
                    break;
                }
                // Renders cannot panic past `on_render_thread`; this keeps the worker alive
                // through a panic anywhere else, leaving the job to its lease and the next claim.
                match rt.block_on(AssertUnwindSafe(self.run(lease)).catch_unwind()) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => warn!(flow_id = lease.flow_id.as_str(), "synthesis job: {e:?}"),
                    Err(panic) => warn!(
                        flow_id = lease.flow_id.as_str(),
                        "synthesis job panicked: {}",
                        crate::untrusted::panic_message(panic.as_ref())
                    ),
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

/// Runs `work` on one of `pool`'s threads; a panic in it is an error like any other, so that one
/// poisonous input fails its own job and nothing else.
async fn on_thread_of<T: Send + 'static>(
    pool: &rayon::ThreadPool,
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    pool.spawn(move || {
        let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(work)));
    });
    result.await?.unwrap_or_else(|panic| Err(anyhow!("panicked: {}", crate::untrusted::panic_message(panic.as_ref()))))
}

/// Synthesis must not take CPU from API calls: its threads run at nice 19. (A thread cannot
/// raise its priority again without privileges, so renders get threads of their own rather
/// than borrowing and lowering tokio's.)
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
    let marks = fill_marks(&input.template.components, &input.fields, &input.images, fonts)?;
    compose(&input.prepared, &marks, &pades::template_form_fields(&input.template), fonts)
}

/// One signing as a contract's revision makes it.
pub struct Signature {
    /// The signer's RecipientId in the contract's template.
    pub recipient_id: String,
    /// The signer's components in the contract, fill and signing ones.
    pub components: Vec<Component>,
    /// The form fields the contract carries ([`crate::pdf::pades::form_fields`]), for a
    /// contract made before contracts carried them.
    pub form_fields: Vec<crate::pdf::pades::FormField>,
    /// The signer's fill values, by ComponentId.
    pub values: Vec<(String, String)>,
    pub appearances: Vec<SignatureAppearance>,
    /// The day SIGN_DATE components show.
    pub date: time::Date,
    /// The signature's /Name.
    pub name: String,
    pub signed_at: time::OffsetDateTime,
    pub key: SigningKey,
    /// The signing completes the contract: the revision adds the document security store and
    /// a document timestamp (PAdES B-LTA).
    pub completes: bool,
}

/// What a signature is made with.
pub enum SigningKey {
    /// A certificate of its own, issued for this signing event.
    Event { name: String, organization: Option<String> },
    /// An organisation's automatic signature: its long-lived certificate.
    Organization(Arc<Credential>),
}

impl Synthesis {
    /// A contract's next revision: its latest one (`base`) plus one PAdES signature (an
    /// incremental update filling the signer's fields and signing, B-T), and, when the signing
    /// completes the contract, the updates that make it B-LTA; the new revision's SHA-256, its
    /// bytes stored as a blob, and the signature's certificate.
    pub async fn revise(
        &self,
        base: &str,
        signature: Signature,
        pki: Arc<Pki>,
    ) -> anyhow::Result<(String, SignatureCertificate)> {
        let bytes = self.blobs.get(base).await?;
        let fonts = self.fonts.clone();
        let (pdf, certificate) = on_thread_of(&self.signing_threads, move || {
            let s = signature;
            let marks = signing_marks(&s.components, &s.values, &HashMap::new(), &s.appearances, s.date, &fonts)?;
            let with_fields = pades::add_missing_form_fields(&bytes, &s.form_fields)?;
            let latest = with_fields.as_deref().unwrap_or(&bytes);
            let event;
            let credential = match &s.key {
                SigningKey::Event { name, organization } => {
                    event = pki.event_credential(Subject { name, organization: organization.as_deref() })?;
                    &event
                }
                SigningKey::Organization(credential) => &**credential,
            };
            let cms = EventSignature::new(credential, pki.timestamper());
            let signer = pades::Signer {
                recipient_id: &s.recipient_id,
                components: &s.components,
                name: &s.name,
                signed_at: s.signed_at,
            };
            let mut pdf = pades::sign(latest, &signer, &marks, &fonts, &cms)?;
            if s.completes {
                pdf = crate::pki::pades::long_term(&pdf, &pki)?;
            }
            Ok((pdf, cms.certificate()))
        })
        .await?;
        Ok((self.blobs.put(Bytes::from(pdf)).await?, certificate))
    }
}

impl Synthesis {
    /// A report's PDF, set on the render threads like every document.
    pub async fn render_report(
        &self,
        blocks: Vec<crate::pdf::report::Block>,
        footer: String,
    ) -> anyhow::Result<Vec<u8>> {
        let fonts = self.fonts.clone();
        self.on_render_thread(move || crate::pdf::report::render(&blocks, &footer, &fonts)).await
    }
}

/// What each filled component draws, on each of its boxes: `fields` are values by ComponentId,
/// each of a component in `components`; `images` are decoded images by the FileId a
/// `FILL_IMAGE` value names.
pub fn fill_marks(
    components: &[Component],
    fields: &[(String, String)],
    images: &HashMap<String, Arc<ImageXObject>>,
    fonts: &Fonts,
) -> anyhow::Result<Vec<Mark>> {
    let mut marks = Vec::new();
    for (id, value) in fields {
        let c = components
            .iter()
            .find(|c| &c.component_id == id)
            .ok_or_else(|| anyhow!("component {id} is not among the components filled"))?;
        let at = || format!("component {id}");
        let p = c.placement;
        match c.component_type {
            ComponentType::Text
            | ComponentType::MultiLineText
            | ComponentType::Date
            | ComponentType::Selector
            | ComponentType::District
            | ComponentType::SignMultiLineText
            | ComponentType::SignSelector
            | ComponentType::SignOpinion => {
                let style = TextStyle::parse(c.extra.as_deref(), "ComponentExtra").map_err(|e| anyhow!(e.message))?;
                fonts.get(style.font)?;
                let lines = set_text(value, &style, p.width, p.height, fonts)
                    .map_err(|e| anyhow!("{}: {}", at(), e.describe(p.width, p.height, style.size)))?;
                marks.push(Mark::Text { page: p.page, rect: p, lines, style });
            }
            ComponentType::CheckBox => marks.push(Mark::Check { page: p.page, rect: p, checked: value == "true" }),
            ComponentType::FillImage => {
                let image = images.get(value).ok_or_else(|| anyhow!("{}: image {value} not loaded", at()))?;
                let fit = ImageFit::parse(c.extra.as_deref(), "ComponentExtra").map_err(|e| anyhow!(e.message))?;
                marks.push(Mark::Image { page: p.page, rect: p, image: image.clone(), fit });
            }
            ComponentType::DynamicTable => {
                let table = DynamicTable::parse(value, "value").map_err(|e| anyhow!(e.message))?;
                fonts.get(TextStyle::default().font)?;
                marks.push(Mark::Table { page: p.page, rect: p, table });
            }
            // Attachments are files beside the contract, not marks on it; signing components
            // are drawn from the signer's appearances ([`signing_marks`]).
            _ => {}
        }
    }
    Ok(marks)
}

/// What a signer's signature or seal looks like.
#[derive(Debug, Clone)]
pub enum SignatureAppearance {
    /// A hand-drawn signature: the image the signing page sent (a PNG with a transparent
    /// background), drawn in each `SIGN_SIGNATURE` box keeping its proportions, centred.
    Drawn(Arc<ImageXObject>),
    /// The signer's name typed: one line in a CJK font in each `SIGN_SIGNATURE` box, as large
    /// as fits, centred.
    Typed(String),
    /// The organisation's seal image (from the tenants file) in each `SIGN_SEAL` box.
    Seal(Arc<ImageXObject>),
    /// The round red seal drawn from the organisation's name (for one without a seal image) in
    /// each `SIGN_SEAL` box.
    GeneratedSeal(String),
}

/// Under the star of a generated seal.
pub const GENERATED_SEAL_CAPTION: &str = "合同专用章";

/// What a signer draws when signing: their fill values (`fields`, by ComponentId, drawn as the
/// initiator's are) and, in their signing boxes, a signature (`Drawn` or `Typed`) in each
/// `SIGN_SIGNATURE`, a seal (`Seal` or `GeneratedSeal`) in each `SIGN_SEAL` and `date` as
/// `YYYY年MM月DD日` in each `SIGN_DATE` (in the box's `ComponentExtra` font, at its size or
/// smaller to fit on one line, centred). `components` are the signer's own: a value for any
/// other component, a signing box whose appearance is not among `appearances`, and signing
/// components not drawn yet (paging seals and signatures, legal-person seals, combinations)
/// are errors naming the component.
pub fn signing_marks(
    components: &[Component],
    fields: &[(String, String)],
    images: &HashMap<String, Arc<ImageXObject>>,
    appearances: &[SignatureAppearance],
    date: time::Date,
    fonts: &Fonts,
) -> anyhow::Result<Vec<Mark>> {
    let mut marks = fill_marks(components, fields, images, fonts)?;
    let date = format!("{:04}年{:02}月{:02}日", date.year(), u8::from(date.month()), date.day());
    let centred = ImageFit { stretch: false, center: true };
    for c in components {
        let (p, id) = (c.placement, &c.component_id);
        let missing = |what: &str| anyhow!("component {id} ({}) needs {what}", c.component_type.as_str());
        match c.component_type {
            ComponentType::SignSignature => {
                let mark = appearances.iter().find_map(|a| match a {
                    SignatureAppearance::Drawn(image) => {
                        Some(Ok(Mark::Image { page: p.page, rect: p, image: image.clone(), fit: centred }))
                    }
                    SignatureAppearance::Typed(name) => Some(
                        crate::pdf::sign::typed_signature(name, p, fonts).map_err(|e| anyhow!("component {id}: {e:#}")),
                    ),
                    _ => None,
                });
                marks.push(mark.ok_or_else(|| missing("a signature"))??);
            }
            ComponentType::SignSeal => {
                let mark = appearances.iter().find_map(|a| match a {
                    SignatureAppearance::Seal(image) => {
                        Some(Mark::Image { page: p.page, rect: p, image: image.clone(), fit: centred })
                    }
                    SignatureAppearance::GeneratedSeal(organization) => Some(Mark::Seal {
                        page: p.page,
                        rect: p,
                        organization: organization.clone(),
                        caption: Some(GENERATED_SEAL_CAPTION.to_owned()),
                    }),
                    _ => None,
                });
                marks.push(mark.ok_or_else(|| missing("a seal"))?);
            }
            ComponentType::SignDate => {
                let style = TextStyle::parse(c.extra.as_deref(), "ComponentExtra").map_err(|e| anyhow!(e.message))?;
                fonts.get(style.font)?;
                marks.push(
                    crate::pdf::sign::fitted_line(&date, p, style, fonts)
                        .map_err(|e| anyhow!("component {id}: {e:#}"))?,
                );
            }
            ComponentType::SignPagingSignature
            | ComponentType::SignPagingSeal
            | ComponentType::SignLegalPersonSeal
            | ComponentType::SignVirtualCombination => {
                anyhow::bail!("component {id}: {} is not drawn yet", c.component_type.as_str())
            }
            _ => {}
        }
    }
    Ok(marks)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::domain::flow::{Flow, FlowGroup, FlowGroupName, FlowOptions, FlowStatus};
    use crate::domain::id::{FlowGroupId, TemplateId};
    use crate::domain::template::SnapshotId;

    const APP: &str = "qianshuTestAppB00000000000000000";
    const POISON: &str = "poison";

    static POISON_RENDERS: AtomicUsize = AtomicUsize::new(0);

    /// Stands for a render with a bug that some value triggers.
    fn render_panicking_on_poison(input: &Input, _: &Fonts) -> anyhow::Result<Vec<u8>> {
        if input.fields.iter().any(|(_, value)| value == POISON) {
            POISON_RENDERS.fetch_add(1, Ordering::SeqCst);
            panic!("a bug that {POISON} triggers");
        }
        Ok(b"%PDF-1.7 made".to_vec())
    }

    fn app() -> ExternalId {
        ExternalId::parse(Some(APP), "test").unwrap()
    }

    const TEMPLATE: &str = "bTemplate0000000000000000000000B";

    /// A group of application B's (tests/fixtures/tenants.json) on the `snapshot` of its
    /// template, one contract per value.
    fn group(values: &[&str], snapshot: &SnapshotId) -> FlowGroup {
        let id = |s: &str| ExternalId::parse(Some(s), "test").unwrap();
        FlowGroup {
            app_id: id(APP),
            flow_group_id: FlowGroupId::generate(),
            name: FlowGroupName::parse(Some("合同组"), "FlowGroupName").unwrap(),
            organization_open_id: id("b_org"),
            operator_open_id: id("b_op"),
            created_on: 1_800_000_000,
            flows: values
                .iter()
                .map(|value| Flow {
                    flow_id: FlowId::generate(),
                    group: None,
                    organization_open_id: "b_org".into(),
                    operator_open_id: "b_op".into(),
                    template_id: TemplateId::parse(Some(TEMPLATE), "t").unwrap(),
                    template_snapshot: snapshot.clone(),
                    name: format!("合同 {value}"),
                    options: FlowOptions::default(),
                    status: FlowStatus::Init,
                    flow_message: None,
                    deadline: 1_800_000_100,
                    created_on: 1_800_000_000,
                    approvers: Vec::new(),
                    fields: vec![("F1".into(), (*value).to_owned())],
                    document_task: None,
                })
                .collect(),
        }
    }

    /// The documents of `flows` once none is PENDING any more.
    async fn finished(store: &Store, flows: &[Flow]) -> Vec<Document> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut docs = Vec::new();
            for f in flows {
                docs.push(store.document(&app(), &f.flow_id).await.unwrap().unwrap());
            }
            if docs.iter().all(|d| d.state != DocumentState::Pending) {
                return docs;
            }
            assert!(Instant::now() < deadline, "documents still pending: {docs:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A store with the fixture tenants and a group whose contracts hold `values`, and a
    /// `Synthesis` over it with `render_threads`, `renderer` and `wait`.
    async fn queued(
        values: &[&str],
        render_threads: usize,
        renderer: (Renderer, Duration),
    ) -> (tempfile::TempDir, Store, FlowGroup, Arc<Synthesis>) {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::config::DatabaseUrl::new(format!("sqlite://{}", dir.path().join("q.db").display()));
        let key = crate::secrets::MasterKey::from_hex(&"5e".repeat(32), "the test key").unwrap();
        let store = Store::connect(&url, key).await.unwrap();
        let blobs = BlobStore::local(&dir.path().join("blobs")).unwrap();
        let tenants =
            crate::tenants::load(std::path::Path::new("tests/fixtures/tenants.json"), &blobs, &store).await.unwrap();
        store.apply_tenants(&tenants).await.unwrap();
        let template = TemplateId::parse(Some(TEMPLATE), "t").unwrap();
        let group = group(values, &store.template(&app(), &template).await.unwrap().unwrap().snapshot);
        store.create_flow_group(&group).await.unwrap();
        let fonts = Arc::new(Fonts::load(&Default::default()).unwrap());
        let synthesis =
            Synthesis::with_renderer(store.clone(), blobs, fonts, Duration::from_secs(60), render_threads, renderer)
                .unwrap();
        (dir, store, group, synthesis)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_render_that_panics_fails_its_job_after_three_attempts_and_the_worker_goes_on() {
        let (_dir, store, before, synthesis) =
            queued(&["first", POISON, "last"], 1, (render_panicking_on_poison, WAIT)).await;
        let workers = synthesis.start_workers(1, tokio::runtime::Handle::current());

        let docs = finished(&store, &before.flows).await;
        assert_eq!(
            docs.iter().map(|d| d.state).collect::<Vec<_>>(),
            [DocumentState::Ready, DocumentState::Failed, DocumentState::Ready]
        );
        assert_eq!(docs[1].error.as_deref(), Some("panicked: a bug that poison triggers"));
        assert_eq!(POISON_RENDERS.load(Ordering::SeqCst), 3);

        let after = group(&["after"], &before.flows[0].template_snapshot);
        store.create_flow_group(&after).await.unwrap();
        synthesis.wake();
        assert_eq!(finished(&store, &after.flows).await[0].state, DocumentState::Ready);
        assert!(!workers[0].is_finished(), "the worker that met the panics made the later document");
        synthesis.stop();
        tokio::task::spawn_blocking(move || workers.into_iter().for_each(|w| w.join().unwrap())).await.unwrap();
    }

    #[cfg(target_os = "linux")]
    static RENDERING: AtomicUsize = AtomicUsize::new(0);
    #[cfg(target_os = "linux")]
    static MOST_AT_ONCE: AtomicUsize = AtomicUsize::new(0);
    #[cfg(target_os = "linux")]
    static PRIORITIES: Mutex<Vec<i32>> = Mutex::new(Vec::new());

    /// Records how many renders run at once and at which priority (nice value).
    #[cfg(target_os = "linux")]
    fn render_watched(_: &Input, _: &Fonts) -> anyhow::Result<Vec<u8>> {
        let now = RENDERING.fetch_add(1, Ordering::SeqCst) + 1;
        MOST_AT_ONCE.fetch_max(now, Ordering::SeqCst);
        // SAFETY: getpriority only reads its arguments; who = 0 names the calling thread.
        let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS as _, 0) };
        PRIORITIES.lock().unwrap().push(nice);
        std::thread::sleep(Duration::from_millis(100));
        RENDERING.fetch_sub(1, Ordering::SeqCst);
        Ok(b"%PDF-1.7 made".to_vec())
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn signers_revisions_are_drawn_on_threads_of_their_own_at_the_priority_of_api_calls() {
        let (_dir, _store, _group, synthesis) = queued(&["1"], 1, (render, WAIT)).await;
        // SAFETY: getpriority only reads its arguments; who = 0 names the calling thread.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS as _, 0) };
        let caller = nice();
        let (drawn_at, thread) = on_thread_of(&synthesis.signing_threads, move || {
            Ok((nice(), std::thread::current().name().map(String::from)))
        })
        .await
        .unwrap();
        assert_eq!(drawn_at, caller);
        assert!(thread.is_some_and(|name| name.starts_with("signing-")));
        assert_eq!(
            synthesis.signing_threads.current_num_threads(),
            std::thread::available_parallelism().unwrap().get()
        );
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn documents_asked_for_together_are_made_at_the_lowest_priority_and_no_more_at_once_than_render_threads() {
        let values = ["1", "2", "3", "4", "5", "6"];
        let (_dir, _store, group, synthesis) = queued(&values, 2, (render_watched, WAIT)).await;
        let ids: Vec<FlowId> = group.flows.iter().map(|f| f.flow_id.clone()).collect();
        let docs = synthesis.ensure(&app(), &ids).await.unwrap();
        let made: Vec<(FlowId, DocumentState)> =
            docs.into_iter().map(|d| d.map(|d| (d.flow_id, d.state)).unwrap()).collect();
        assert_eq!(made, ids.iter().map(|id| (id.clone(), DocumentState::Ready)).collect::<Vec<_>>());
        assert_eq!(MOST_AT_ONCE.load(Ordering::SeqCst), 2);
        assert_eq!(*PRIORITIES.lock().unwrap(), [19; 6]);
    }

    #[tokio::test]
    async fn documents_another_worker_holds_are_waited_for_together_under_one_deadline() {
        let wait = Duration::from_millis(400);
        let (_dir, store, group, synthesis) = queued(&["1", "2", "3"], 1, (render, wait)).await;
        let held = store.claim_documents(8, 60_000).await.unwrap();
        assert_eq!(held.len(), 3);
        let ids: Vec<FlowId> = group.flows.iter().map(|f| f.flow_id.clone()).collect();
        let asked = Instant::now();
        let docs = synthesis.ensure(&app(), &ids).await.unwrap();
        let waited = asked.elapsed();
        assert_eq!(docs, vec![Err("the document is still being made; ask again shortly".to_owned()); 3]);
        assert!(waited >= wait && waited < 2 * wait, "waited {waited:?}, not {wait:?} for all three together");
    }
}
