//! The two commands: `serve` and `apply`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::time::{Instant, timeout_at};
use tracing::{info, warn};

use crate::api::{self, AppState};
use crate::blobs::BlobStore;
use crate::config::{ServeSettings, StoreSettings};
use crate::secrets::{self, MasterKey};
use crate::store::Store;

async fn open(settings: &StoreSettings) -> anyhow::Result<(Store, BlobStore)> {
    let master_key = match &settings.master_key {
        Some(key) => key.clone(),
        None => {
            let path = settings.data_dir.join(secrets::KEY_FILE);
            let (key, created) = MasterKey::from_file_or_create(&path)?;
            let made = if created { "generated" } else { "read" };
            warn!(
                "no {}: secrets at rest are sealed with a key {made} in {}. In production set {0} (and keep \
                 the key apart from the data and its backups); every node of one database needs the same key",
                secrets::SETTING,
                path.display()
            );
            key
        }
    };
    let store = Store::connect(&settings.database_url, master_key).await?;
    let blobs = BlobStore::open(&settings.blob_store)?;
    Ok((store, blobs))
}

pub async fn apply(settings: StoreSettings, file: &Path) -> anyhow::Result<()> {
    let (store, blobs) = open(&settings).await?;
    let tenants = crate::tenants::load(file, &blobs, &store).await?;
    store.apply_tenants(&tenants).await.map_err(anyhow::Error::from).context("applying the tenants file")?;
    let templates: usize = tenants.iter().map(|t| t.templates.len()).sum();
    let organizations: usize = tenants.iter().map(|t| t.organizations.len()).sum();
    println!(
        "applied {}: {} application(s), {organizations} organization(s), {templates} template(s) to {}",
        file.display(),
        tenants.len(),
        settings.database_url
    );
    store.close().await;
    Ok(())
}

pub async fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    let (store, blobs) = open(&settings.store).await?;
    let store = store.with_cache(settings.cache_ttl);
    let demo = if settings.demo && store.has_no_application().await? {
        Some(crate::demo::load(&store, &blobs, &settings.store.data_dir).await?)
    } else {
        None
    };
    let listener =
        TcpListener::bind(&settings.listen).await.with_context(|| format!("listening on {}", settings.listen))?;
    let bound = listener.local_addr()?;
    let public_url = settings.public_url(bound);
    let state = state(&settings, store.clone(), blobs, &public_url).await?;
    let workers = state.synthesis.start_workers(settings.synthesis_workers, tokio::runtime::Handle::current());
    let auto_sign = state.signing.start_auto_sign();
    let expiry = state.expiry.start();
    let callbacks = crate::callbacks::Callbacks::new(store.clone(), settings.callback_allow_private)?.start();
    info!(database = %settings.store.database_url, "qianshu ready");
    if let Some(demo) = demo {
        println!("{}", demo.banner(&bound.to_string()));
    }
    // Tests and scripts read this line to learn the port when listening on port 0.
    println!("qianshu listening on http://{bound} (public URL {public_url})");
    let synthesis = state.synthesis.clone();
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signalled = {
        let stopping = stopping.clone();
        async move {
            shutdown().await;
            stopping.notify_one();
        }
    };
    let serving = api::connections::serve(listener, api::router(state), settings.edge.header_timeout, signalled);
    let mut serving = std::pin::pin!(serving);
    // Without requests in flight, serving ends as soon as the signal comes.
    let drained = tokio::select! {
        () = &mut serving => true,
        () = stopping.notified() => false,
    };
    // One drain for everything in progress: requests first, then the render in hand.
    let deadline = Instant::now() + settings.drain_timeout;
    if !drained && timeout_at(deadline, serving).await.is_err() {
        warn!(
            "requests still in flight after the drain timeout ({} ms) are cut off",
            settings.drain_timeout.as_millis()
        );
    }
    // A signing is one transaction: stopping between two leaves nothing half done.
    auto_sign.abort();
    expiry.abort();
    // A message being delivered now is handed back below, to be delivered again (at least once).
    callbacks.abort();
    _ = callbacks.await;
    synthesis.stop();
    let joined = tokio::task::spawn_blocking(move || workers.into_iter().for_each(|w| _ = w.join()));
    let renders_finished = timeout_at(deadline, joined).await.is_ok();
    if !renders_finished {
        warn!("a document render outlasted the drain timeout: its job goes back to the queue");
    }
    match store.release_leases().await {
        Ok((0, 0)) => {}
        Ok((documents, callbacks)) => {
            info!("handed back {documents} document job(s) and {callbacks} callback(s) for other nodes to take")
        }
        Err(e) => warn!("handing back this node's jobs (they return when their leases run out): {e:?}"),
    }
    // A render cut off may still hold a connection: closing would wait for it.
    if renders_finished {
        store.close().await;
    }
    info!("stopped");
    Ok(())
}

/// Writes a consistent copy of the SQLite database into `file`, which must not exist.
pub async fn backup(settings: StoreSettings, file: &Path) -> anyhow::Result<()> {
    crate::store::operations::backup(&settings.database_url, file).await?;
    println!("backed up {} into {}", settings.database_url, file.display());
    Ok(())
}

/// Everything the edge serves with, over an open store: the fonts, document synthesis (its
/// workers not started) and the edge's own state. `serve` and the in-process test harness
/// both build it here.
pub async fn state(
    settings: &ServeSettings,
    store: Store,
    blobs: BlobStore,
    public_url: &str,
) -> anyhow::Result<Arc<AppState>> {
    let font_paths = settings.fonts.clone();
    let fonts = Arc::new(crate::untrusted::parse(move || crate::pdf::font::Fonts::load(&font_paths)).await?);
    if fonts.any() {
        info!("fonts: {}", fonts.describe());
    } else {
        warn!("no CJK font found: contract documents cannot be made until --font (QIANSHU_FONT) names one");
    }
    if settings.test_helpers {
        warn!("test helpers are ON: anyone can read one-time codes and move the clock; never in production");
    }
    let synthesis = crate::synthesis::Synthesis::new(
        store.clone(),
        blobs.clone(),
        fonts,
        settings.synthesis_lease,
        settings.synthesis_workers,
    )?;
    Ok(Arc::new(AppState::new(store, blobs, synthesis, public_url, settings).await?))
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    info!("shutting down");
}
