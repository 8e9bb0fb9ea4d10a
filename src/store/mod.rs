//! Storage: one implementation over sqlx's `Any` driver serves SQLite and PostgreSQL with the
//! same SQL text (`$N` placeholders, portable types). Methods speak the domain's words; no
//! handler writes SQL. Dialect differences are confined to blocks marked `dialect:`.

mod cache;
pub mod callbacks;
pub mod documents;
mod evidence;
mod files;
mod fills;
mod flows;
mod group_commit;
pub mod lifecycle;
mod links;
pub mod operations;
pub mod pki;
pub mod reviews;
mod sealed;
pub mod signing;
mod snapshots;
mod tenancy;

pub use fills::LinkClaim;
pub use group_commit::GroupWriter;
pub use tenancy::TemplateQuery;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor, Transaction};

use crate::config::DatabaseUrl;
use crate::secrets::MasterKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a URL names; an unknown scheme is an error, never a new SQLite file.
    pub fn of(url: &DatabaseUrl) -> anyhow::Result<Backend> {
        let u = url.expose();
        if u.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if u.starts_with("postgres://") || u.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            bail!("database URL `{url}` has an unknown scheme: use sqlite://PATH or postgres://USER@HOST/DB")
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where write transactions run. SQLite allows one writer at a time: a single connection
    /// queues writers in the pool, fairly, instead of in SQLite's busy handler, which sleeps
    /// for milliseconds at a time. PostgreSQL writes through `pool`.
    writer: AnyPool,
    backend: Backend,
    cache: Option<Arc<cache::ReadCache>>,
    /// Seals and opens the secret columns (`sealed.rs`).
    master_key: Arc<MasterKey>,
    /// Business time (`Clock`), this store's own.
    clock: Clock,
    /// Begins every lease token this store hands out, so that a node stopping can give back
    /// every job it holds in one statement (`operations.rs`).
    lease_owner: Arc<str>,
}

/// A pooled connection idle this long is pinged before it is handed out (see `connect`).
const PING_WHEN_IDLE: Duration = Duration::from_secs(1);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Connects, creating the SQLite file if needed, brings the schema up to date, seals any
    /// secret still in plaintext and makes snapshots of templates stored before snapshots
    /// existed. Fails if a sealed secret does not open with `master_key`.
    pub async fn connect(url: &DatabaseUrl, master_key: MasterKey) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let mut raw = url.expose().to_owned();
        let mut pool = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(30))
            // A ping before every use is one more round trip on PostgreSQL. sqlx pings each
            // connection as it comes back to the pool (and closes it if that fails), so one
            // back within the second is alive but for a server restart in that second.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            });
        match backend {
            // dialect: SQLite takes its settings per connection, and allows one writer at a time.
            Backend::Sqlite => {
                let path = raw.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
                let path = path.split('?').next().unwrap_or(path);
                if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                }
                if !raw.contains("mode=") {
                    raw.push_str(if raw.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
                }
                pool = pool.max_connections(8);
            }
            Backend::Postgres => pool = pool.max_connections(16),
        }
        let options = AnyConnectOptions::from_str(&raw).with_context(|| format!("parsing database URL {url}"))?;
        let writer = match backend {
            // dialect: the writer leaves checkpoints to `checkpoints` below, so that their fsyncs
            // stall no commit.
            Backend::Sqlite => {
                sqlite_session(pool.clone().max_connections(1), "PRAGMA wal_autocheckpoint = 0;")
                    .connect_with(options.clone())
                    .await
            }
            Backend::Postgres => pool.clone().connect_with(options.clone()).await,
        }
        .with_context(|| format!("connecting to {url}"))?;
        MIGRATOR.run(&writer).await.with_context(|| format!("migrating {url}"))?;
        let pool = match backend {
            Backend::Sqlite => {
                sqlite_session(pool, "").connect_with(options).await.with_context(|| format!("connecting to {url}"))?
            }
            Backend::Postgres => writer.clone(),
        };
        let store = Store {
            pool,
            writer,
            backend,
            cache: None,
            master_key: Arc::new(master_key),
            clock: Clock::default(),
            lease_owner: operations::new_lease_owner(),
        };
        let started = match store.seal_plaintext_secrets().await {
            Ok(()) => store.snapshot_older_templates().await,
            Err(e) => Err(e),
        };
        if let Err(e) = started {
            store.close().await;
            return Err(e);
        }
        if backend == Backend::Sqlite {
            tokio::spawn(checkpoints(store.pool.clone()));
        }
        Ok(store)
    }

    /// Keeps what requests read for up to `ttl` (see `cache.rs`); zero keeps nothing.
    pub fn with_cache(mut self, ttl: Duration) -> Store {
        self.cache = (!ttl.is_zero()).then(|| Arc::new(cache::ReadCache::new(ttl)));
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The time business rules go by, in Unix seconds: deadlines, expiry of files and links.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// `now`, in milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The clock `now` reads, to move it (test helpers) or to hand to what stamps times.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// A transaction that writes. SQLite takes the write lock up front so that two writers
    /// wait for each other (busy_timeout) instead of failing when a reader upgrades.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            // dialect: BEGIN IMMEDIATE is SQLite's.
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// SQLite's settings live per connection: every new one gets them, and then `extra`.
fn sqlite_session(pool: AnyPoolOptions, extra: &'static str) -> AnyPoolOptions {
    pool.after_connect(move |conn, _| {
        Box::pin(async move {
            conn.execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
                 PRAGMA foreign_keys = ON;",
            )
            .await?;
            if !extra.is_empty() {
                conn.execute(extra).await?;
            }
            Ok(())
        })
    })
}

/// Moves the SQLite write-ahead log into the database every 50 ms, beside the writer
/// rather than inside its commits (PASSIVE never blocks it), until the store is closed.
async fn checkpoints(pool: AnyPool) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_all(&pool).await {
            tracing::warn!("WAL checkpoint failed: {e}");
        }
    }
}

/// Business time: the wall clock plus an offset that only moves forward, so that tests can make
/// deadlines and expiries pass without waiting. Each `Store` has its own (clones share it), so
/// in-process test stores do not move each other's time; nodes of one database do not share it
/// either. What must stay on the wall clock reads the free functions `now`/`now_ms` instead:
/// TC3 timestamps (the SDKs sign with real time), synthesis leases, resource ids.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> i64 {
        now().saturating_add(self.offset_seconds.load(Ordering::Relaxed))
    }

    pub fn now_ms(&self) -> i64 {
        now_ms().saturating_add(self.offset_seconds.load(Ordering::Relaxed).saturating_mul(1000))
    }

    /// Moves business time `seconds` forward (a negative value would let a deadline come back).
    pub fn advance(&self, seconds: u32) -> i64 {
        self.offset_seconds.fetch_add(i64::from(seconds), Ordering::Relaxed);
        self.now()
    }
}

/// Wall-clock time in Unix seconds, for what must not follow the business `Clock`.
pub fn now() -> i64 {
    now_ms() / 1000
}

/// Wall-clock time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A stored value that no longer parses: an internal error, never the client's.
fn corrupt(what: &str, value: &str) -> crate::error::Failure {
    crate::error::Failure::Internal(anyhow::anyhow!("stored {what} `{value}` is not valid"))
}

/// 0/1 columns, portable across both backends.
fn flag(b: bool) -> i64 {
    i64::from(b)
}
