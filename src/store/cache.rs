//! A short-lived, per-node cache of what nearly every request reads and almost nothing writes:
//! credentials, applications, sub-organisations, operators and templates. Writes through this
//! node drop the entries they change; changes made elsewhere (another node, `qianshu apply`)
//! show after at most the time-to-live. A time-to-live of zero turns the cache off (the store
//! then holds none).

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use secrecy::SecretString;

use crate::domain::ExternalId;
use crate::domain::id::TemplateId;
use crate::domain::template::{SnapshotId, Template};
use crate::domain::tenancy::{Application, Operator, Organization};

const CAPACITY: u64 = 100_000;
/// Snapshots are whole templates, larger than the other entries.
const SNAPSHOTS: u64 = 10_000;

pub(super) struct ReadCache {
    pub credentials: Cache<String, Option<(ExternalId, SecretString)>>,
    pub applications: Cache<ExternalId, Option<Application>>,
    pub organizations: Cache<(ExternalId, ExternalId), Option<Organization>>,
    pub operators: Cache<(ExternalId, ExternalId, ExternalId), Option<Operator>>,
    pub templates: Cache<(ExternalId, TemplateId), Option<Arc<Template>>>,
    /// Template snapshots, which never change: kept without a time-to-live, and not dropped
    /// by `clear`.
    pub snapshots: Cache<(ExternalId, SnapshotId), Arc<Template>>,
}

fn cache<K, V>(ttl: Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder().max_capacity(CAPACITY).time_to_live(ttl).build()
}

impl ReadCache {
    pub fn new(ttl: Duration) -> ReadCache {
        ReadCache {
            credentials: cache(ttl),
            applications: cache(ttl),
            organizations: cache(ttl),
            operators: cache(ttl),
            templates: cache(ttl),
            snapshots: Cache::builder().max_capacity(SNAPSHOTS).build(),
        }
    }

    pub fn clear(&self) {
        self.credentials.invalidate_all();
        self.applications.invalidate_all();
        self.organizations.invalidate_all();
        self.operators.invalidate_all();
        self.templates.invalidate_all();
    }
}

/// The cached value of `key`, or what `load` reads (then cached).
pub(super) async fn through<K, V, F>(cache: Option<&Cache<K, V>>, key: K, load: F) -> Result<V, crate::error::Failure>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    F: Future<Output = Result<V, crate::error::Failure>>,
{
    let Some(cache) = cache else { return load.await };
    if let Some(v) = cache.get(&key) {
        return Ok(v);
    }
    let v = load.await?;
    cache.insert(key, v.clone());
    Ok(v)
}
