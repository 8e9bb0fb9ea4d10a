//! Rate limits shared through Redis: two `RateLimits` stand for two nodes. Needs the Redis named
//! by QIANSHU_TEST_REDIS_URL (default redis://127.0.0.1:6379); without one these tests say
//! SKIPPED, and fail when CI=true. Every test uses a key prefix of its own.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qianshu::api::action::Action;
use qianshu::config::RedisSettings;
use qianshu::ratelimit::RateLimits;

const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";
const CREATE: Action = Action::ChannelCreateFlowGroupByTemplates;

async fn test_redis() -> Option<String> {
    let url = std::env::var("QIANSHU_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS.to_owned());
    match ping(&url).await {
        Ok(()) => Some(url),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("Redis at {url} is required on CI: {e}");
            }
            let _ = writeln!(std::io::stderr(), "\nSKIPPED: this test needs Redis at {url}: {e}");
            None
        }
    }
}

async fn ping(url: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut connection = tokio::time::timeout(Duration::from_secs(5), client.get_multiplexed_async_connection())
        .await
        .map_err(|_| redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)))??;
    redis::cmd("PING").query_async(&mut connection).await
}

fn settings(url: &str, prefix: &str) -> RedisSettings {
    // Generous: a loaded CI machine must not make these nodes fall back to judging alone.
    RedisSettings { url: url.to_owned(), key_prefix: prefix.to_owned(), timeout: Duration::from_secs(2) }
}

fn unique_prefix() -> String {
    format!("qianshu-test-{}", uuid::Uuid::new_v4().simple())
}

/// Two nodes limited to `per_second` calls of [`CREATE`].
fn two_nodes(url: &str, prefix: &str, per_second: u32) -> (RateLimits, RateLimits) {
    let overrides = BTreeMap::from([(CREATE, per_second)]);
    let node = || RateLimits::shared(20, &overrides, &settings(url, prefix)).unwrap();
    (node(), node())
}

/// Calls allowed out of `calls`, alternating between the nodes, all in flight at once; and
/// whether they all were judged within one emission interval (else a call may have been allowed
/// by the time that passed, not by a shared limit failing).
async fn alternate(
    a: &RateLimits,
    b: &RateLimits,
    action: Action,
    app_id: &str,
    calls: usize,
    per_second: u32,
) -> (usize, bool) {
    let started = Instant::now();
    let verdicts = futures::future::join_all(
        (0..calls).map(|i| if i % 2 == 0 { a.allow(action, app_id) } else { b.allow(action, app_id) }),
    )
    .await;
    let within_one_interval = started.elapsed() < Duration::from_secs(1) / per_second;
    (verdicts.into_iter().filter(|allowed| *allowed).count(), within_one_interval)
}

/// Exactly `limit` when judged within one interval; otherwise at most one more per interval.
fn assert_one_limit(allowed: usize, limit: u32, within_one_interval: bool) {
    if within_one_interval {
        assert_eq!(allowed, limit as usize, "the two nodes together must allow exactly one limit");
    } else {
        assert!(allowed >= limit as usize && allowed < 2 * limit as usize, "allowed {allowed} of limit {limit}");
    }
}

#[tokio::test]
async fn two_nodes_sharing_redis_allow_one_limit_together() {
    let Some(url) = test_redis().await else { return };
    let (a, b) = two_nodes(&url, &unique_prefix(), 4);
    let (allowed, within) = alternate(&a, &b, CREATE, "app", 16, 4).await;
    // Alone, each node would allow 4: 8 in all.
    assert_one_limit(allowed, 4, within);
}

#[tokio::test]
async fn shared_limits_are_kept_per_application_and_action_and_expire_by_themselves() {
    let Some(url) = test_redis().await else { return };
    let prefix = unique_prefix();
    let (a, b) = two_nodes(&url, &prefix, 3);
    let (allowed, within) = alternate(&a, &b, CREATE, "app-one", 9, 3).await;
    assert_one_limit(allowed, 3, within);
    // Another application, and another action of the same one, still have their whole limit.
    let (other_app, within) = alternate(&a, &b, CREATE, "app-two", 9, 3).await;
    assert_one_limit(other_app, 3, within);
    let (other_action, within) = alternate(&a, &b, Action::DescribeTemplates, "app-one", 40, 20).await;
    assert_one_limit(other_action, 20, within);

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut connection).await.unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("{prefix}:app-one:ChannelCreateFlowGroupByTemplates"),
            format!("{prefix}:app-one:DescribeTemplates"),
            format!("{prefix}:app-two:ChannelCreateFlowGroupByTemplates"),
        ]
    );
    for key in keys {
        let ttl_ms: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut connection).await.unwrap();
        // No longer than the time the burst takes to drain: one second.
        assert!(ttl_ms > 0 && ttl_ms <= 1000, "{key} expires in {ttl_ms} ms");
    }
}

#[tokio::test]
async fn without_redis_each_node_judges_its_calls_alone() {
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}");
    let overrides = BTreeMap::from([(CREATE, 3)]);
    let node = || {
        let redis = RedisSettings { url: url.clone(), key_prefix: unique_prefix(), timeout: Duration::from_millis(50) };
        RateLimits::shared(20, &overrides, &redis).unwrap()
    };
    let (a, b) = (node(), node());
    let mut allowed = (0, 0);
    for _ in 0..6 {
        allowed.0 += usize::from(a.allow(CREATE, "app").await);
        allowed.1 += usize::from(b.allow(CREATE, "app").await);
    }
    assert_eq!(allowed, (3, 3), "each node allows its own limit");
    assert!(a.allow(Action::DescribeTemplates, "app").await);
}

/// A Redis of this test's own, on a free port, that it can stop and start again.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start(port: u16) -> Option<OwnRedis> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(OwnRedis { port, child })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn wait_for(url: &str) {
    for _ in 0..100 {
        if ping(url).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server at {url} did not answer");
}

#[tokio::test]
async fn limits_are_shared_again_once_redis_returns() {
    // The machine's Redis must not be stopped: this test runs a redis-server of its own.
    let Some(_) = test_redis().await else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let Some(mut redis) = OwnRedis::start(port) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("redis-server is required on CI");
        }
        let _ = writeln!(std::io::stderr(), "\nSKIPPED: this test needs the redis-server program");
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    wait_for(&url).await;
    let (a, b) = two_nodes(&url, &unique_prefix(), 2);
    let (allowed, within) = alternate(&a, &b, CREATE, "before", 6, 2).await;
    assert_one_limit(allowed, 2, within);

    redis.stop();
    let mut alone = (0, 0);
    for _ in 0..4 {
        alone.0 += usize::from(a.allow(CREATE, "during").await);
        alone.1 += usize::from(b.allow(CREATE, "during").await);
    }
    assert_eq!(alone, (2, 2), "while Redis is down each node allows its own limit");

    let mut redis = OwnRedis::start(port).expect("redis-server starts again");
    wait_for(&url).await;
    // Past the pause after a failure, the nodes ask Redis again (and reconnect to it).
    let mut shared_again = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (allowed, within) = alternate(&a, &b, CREATE, &uuid::Uuid::new_v4().to_string(), 6, 2).await;
        if allowed == 2 && within {
            shared_again = true;
            break;
        }
    }
    redis.stop();
    assert!(shared_again, "the nodes share their limits again once Redis answers");
}
