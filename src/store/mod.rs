//! Storage: one implementation over sqlx's `Any` driver serves SQLite and PostgreSQL with the
//! same SQL text (`$N` placeholders, portable types). Methods speak the domain's words; no
//! handler writes SQL. Dialect differences are confined to blocks marked `dialect:`.

mod flows;
mod tenancy;

pub use tenancy::TemplateQuery;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Transaction};

use crate::config::DatabaseUrl;

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
    backend: Backend,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Connects, creating the SQLite file if needed, and brings the schema up to date.
    pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let mut raw = url.expose().to_owned();
        let mut pool = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
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
                pool = pool.max_connections(8).after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                        Ok(())
                    })
                });
            }
            Backend::Postgres => pool = pool.max_connections(16),
        }
        let options = AnyConnectOptions::from_str(&raw).with_context(|| format!("parsing database URL {url}"))?;
        let pool = pool.connect_with(options).await.with_context(|| format!("connecting to {url}"))?;
        MIGRATOR.run(&pool).await.with_context(|| format!("migrating {url}"))?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction that writes. SQLite takes the write lock up front so that two writers
    /// wait for each other (busy_timeout) instead of failing when a reader upgrades.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            // dialect: BEGIN IMMEDIATE is SQLite's.
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// 0/1 columns, portable across both backends.
fn flag(b: bool) -> i64 {
    i64::from(b)
}
