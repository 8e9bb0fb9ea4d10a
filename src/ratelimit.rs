//! Per-application, per-action call rates (Tencent's "默认接口请求频率限制：20次/秒"): one
//! account's burst never throttles another, nor another action.
//!
//! Alone, a node keeps them in memory with governor's keyed GCRA limiters. With `--redis-url`
//! every node judges a call by one atomic GCRA script in Redis, so the limit holds across the
//! cluster; while Redis cannot answer within `--redis-timeout-ms` the node falls back to its own
//! limiters (each node then allows up to the limit), says so once per outage, and returns to
//! Redis by itself once it answers again.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use governor::{DefaultKeyedRateLimiter, Quota};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tracing::{info, warn};

use crate::api::action::Action;
use crate::config::RedisSettings;

/// GCRA as governor keeps it, in microseconds of Redis's own clock (`TIME`), so that the nodes'
/// clocks need not agree: a call is allowed when the account's theoretical arrival time, pushed
/// one emission interval on, stays within the burst tolerance (limit × interval) of now. The key
/// expires when that time has passed, so an idle account leaves nothing behind.
const GCRA: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > tolerance then return 0 end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
return 1
";

/// After Redis failed to answer, calls are judged locally for this long before Redis is asked
/// again, so an outage costs one timeout per node and period, not one per call.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub struct RateLimits {
    /// Calls per second, indexed by [`Action::index`].
    per_second: Vec<NonZeroU32>,
    /// Indexed by [`Action::index`].
    local: Vec<DefaultKeyedRateLimiter<String>>,
    shared: Option<Shared>,
}

struct Shared {
    connection: ConnectionManager,
    script: redis::Script,
    key_prefix: String,
    timeout: Duration,
    /// Where Redis is, for the log (the URL may carry a password).
    address: String,
    outage: Mutex<Outage>,
}

#[derive(Default)]
struct Outage {
    /// Set while Redis is failing: when to ask it again.
    retry_at: Option<Instant>,
}

impl RateLimits {
    /// Limits kept by this node alone.
    pub fn new(default_per_second: u32, overrides: &BTreeMap<Action, u32>) -> RateLimits {
        let per_second: Vec<NonZeroU32> = Action::ALL
            .iter()
            .map(|a| {
                NonZeroU32::new(overrides.get(a).copied().unwrap_or(default_per_second)).unwrap_or(NonZeroU32::MIN)
            })
            .collect();
        let local = per_second.iter().map(|n| DefaultKeyedRateLimiter::keyed(Quota::per_second(*n))).collect();
        RateLimits { per_second, local, shared: None }
    }

    /// Limits shared by every node that uses the same Redis and key prefix. The connection is made
    /// in the background: a node starts, judging calls locally, even while Redis is down.
    pub fn shared(
        default_per_second: u32,
        overrides: &BTreeMap<Action, u32>,
        redis: &RedisSettings,
    ) -> anyhow::Result<RateLimits> {
        let client = redis::Client::open(redis.url.as_str()).context("--redis-url is not a redis:// URL")?;
        let address = client.get_connection_info().addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(redis.timeout.max(Duration::from_millis(100))))
            .set_response_timeout(Some(redis.timeout))
            .set_number_of_retries(1)
            .set_max_delay(RETRY_AFTER);
        let connection = ConnectionManager::new_lazy_with_config(client, config).context("connecting to Redis")?;
        // Connecting now, in the background, spares the first calls the wait.
        let mut warm = connection.clone();
        tokio::spawn(async move {
            let _: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut warm).await;
        });
        let mut limits = RateLimits::new(default_per_second, overrides);
        limits.shared = Some(Shared {
            connection,
            script: redis::Script::new(GCRA),
            key_prefix: redis.key_prefix.clone(),
            timeout: redis.timeout,
            address,
            outage: Mutex::new(Outage::default()),
        });
        Ok(limits)
    }

    /// Does `app_id` still have room for one more call of `action` now?
    pub async fn allow(&self, action: Action, app_id: &str) -> bool {
        if let Some(shared) = &self.shared
            && let Some(allowed) = shared.allow(action, app_id, self.per_second[action.index()]).await
        {
            return allowed;
        }
        self.local[action.index()].check_key(&app_id.to_owned()).is_ok()
    }
}

impl Shared {
    /// Redis's verdict, or `None` when it is down or late and the node must judge alone.
    async fn allow(&self, action: Action, app_id: &str, per_second: NonZeroU32) -> Option<bool> {
        if self.outage.lock().expect("outage lock").retry_at.is_some_and(|at| Instant::now() < at) {
            return None;
        }
        let interval = 1_000_000 / u64::from(per_second.get());
        let tolerance = interval * u64::from(per_second.get());
        // The prefix separates clusters (and test runs) sharing one Redis.
        let key = format!("{}:{app_id}:{action}", self.key_prefix);
        let verdict = tokio::time::timeout(self.timeout, self.evaluate(&key, interval, tolerance)).await;
        let mut outage = self.outage.lock().expect("outage lock");
        match verdict {
            Ok(Ok(allowed)) => {
                if outage.retry_at.take().is_some() {
                    info!(redis = %self.address, "Redis answers again: rate limits are cluster-wide again");
                }
                Some(allowed)
            }
            failed => {
                if outage.retry_at.is_none() {
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => format!("no answer within {} ms", self.timeout.as_millis()),
                    };
                    warn!(redis = %self.address, %why, "Redis is unreachable: rate limits are judged per node until it answers");
                }
                outage.retry_at = Some(Instant::now() + RETRY_AFTER);
                None
            }
        }
    }

    /// One round trip as a rule: `EVALSHA`, and `EVAL` (which also caches the script) only when
    /// this Redis has not seen the script yet, e.g. after a restart.
    async fn evaluate(&self, key: &str, interval: u64, tolerance: u64) -> redis::RedisResult<bool> {
        let mut connection = self.connection.clone();
        let by_hash = redis::cmd("EVALSHA")
            .arg(self.script.get_hash())
            .arg(1)
            .arg(key)
            .arg(interval)
            .arg(tolerance)
            .query_async::<i64>(&mut connection)
            .await;
        let allowed = match by_hash {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                redis::cmd("EVAL")
                    .arg(GCRA)
                    .arg(1)
                    .arg(key)
                    .arg(interval)
                    .arg(tolerance)
                    .query_async::<i64>(&mut connection)
                    .await?
            }
            other => other?,
        };
        Ok(allowed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_over_the_limit_is_refused_for_that_account_and_action_only() {
        let limits = RateLimits::new(20, &BTreeMap::from([(Action::DescribeTemplates, 5)]));
        let mut allowed = 0;
        for _ in 0..45 {
            allowed += usize::from(limits.allow(Action::ChannelCreateFlowGroupByTemplates, "a").await);
        }
        assert_eq!(allowed, 20);
        assert!(limits.allow(Action::ChannelCreateFlowGroupByTemplates, "b").await);
        assert!(limits.allow(Action::DescribeFlowDetailInfo, "a").await);
        let mut allowed = 0;
        for _ in 0..10 {
            allowed += usize::from(limits.allow(Action::DescribeTemplates, "a").await);
        }
        assert_eq!(allowed, 5);
    }
}
