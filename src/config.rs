//! Settings, layered in rising precedence: built-in defaults, an optional `qianshu.toml`, the
//! environment (`QIANSHU_<NAME>`) and command-line flags. Clap reads each flag and its
//! environment variable; figment puts the TOML file under them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::api::action::Action;
use crate::secrets::{self, MasterKey};

pub const DEFAULT_CONFIG_FILE: &str = "qianshu.toml";

/// Settings shared by every subcommand (they locate the database).
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct StoreFlags {
    /// TOML file with settings; flags and QIANSHU_* variables override it [default: ./qianshu.toml if present]
    #[arg(long, env = "QIANSHU_CONFIG", global = true)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and stored documents [default: ./data]
    #[arg(long, env = "QIANSHU_DATA_DIR", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB [default: sqlite file qianshu.db in the data dir]
    #[arg(long, env = "QIANSHU_DATABASE_URL", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Where documents are kept: a directory path or file:///DIR, or s3://BUCKET[/PREFIX] (S3-compatible;
    /// endpoint and keys from the usual AWS_* variables) [default: the blobs directory in the data dir]
    #[arg(long, env = "QIANSHU_BLOB_STORE", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_store: Option<String>,
    /// Key that seals secrets at rest (SecretKeys, callback keys, server keys): 64 hex characters,
    /// e.g. from `openssl rand -hex 32`; never stored in the database. Every node of one database
    /// needs the same key [default: a key generated into master.key in the data dir]
    #[arg(long, env = "QIANSHU_MASTER_KEY", global = true, hide_env_values = true)]
    #[serde(skip)]
    pub master_key: Option<SecretString>,
}

/// Settings of `qianshu serve`.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct ServeFlags {
    /// Address to listen on; port 0 picks a free port (the chosen address is printed) [default: 127.0.0.1:8080]
    #[arg(long, env = "QIANSHU_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Base URL put into the links qianshu hands out [default: http://LISTEN]
    #[arg(long, env = "QIANSHU_PUBLIC_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes [default: 10485760]
    #[arg(long, env = "QIANSHU_MAX_BODY_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Request bodies held in memory at once, in bytes, across all requests; a body is read only
    /// once it fits, so slow or many callers cannot make the server hold more [default: 268435456]
    #[arg(long, env = "QIANSHU_MAX_BUFFERED_BODY_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_buffered_body_bytes: Option<usize>,
    /// How long a request body may take to arrive (and to find room to be held), in milliseconds
    /// [default: 60000]
    #[arg(long, env = "QIANSHU_BODY_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_timeout_ms: Option<u64>,
    /// How long a request may take from its headers to its answer, in milliseconds [default: 120000]
    #[arg(long, env = "QIANSHU_REQUEST_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,
    /// Requests (API calls and downloads) handled at once; more are answered RequestLimitExceeded
    /// (a download: 503) at once [default: 1024]
    #[arg(long, env = "QIANSHU_MAX_CONCURRENT_REQUESTS", value_parser = clap::value_parser!(u64).range(1..))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_requests: Option<u64>,
    /// How long a connection may take to send a request's headers, and may stay idle between
    /// requests, in milliseconds, before it is closed [default: 30000]
    #[arg(long, env = "QIANSHU_HEADER_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_timeout_ms: Option<u64>,
    /// Calls per second allowed per application and action [default: 20]
    #[arg(long, env = "QIANSHU_RATE_LIMIT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    /// Per-action overrides of the rate limit, as Action=N,Action=N
    #[arg(long, env = "QIANSHU_RATE_LIMITS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<String>,
    /// Redis shared by every node (redis://[:PASSWORD@]HOST[:PORT][/DB]): rate limits then hold
    /// across the cluster; without it, or while it is unreachable, each node keeps its own
    #[arg(long, env = "QIANSHU_REDIS_URL", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Prefix of qianshu's keys in Redis; clusters sharing one Redis need different ones [default: qianshu]
    #[arg(long, env = "QIANSHU_REDIS_KEY_PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_key_prefix: Option<String>,
    /// How long a call waits for Redis's verdict before this node judges it alone, in
    /// milliseconds [default: 5]
    #[arg(long, env = "QIANSHU_REDIS_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_timeout_ms: Option<u64>,
    /// How long credentials, applications, organizations, operators and templates read by a
    /// request are reused, in milliseconds; changes made by another node or `qianshu apply` show
    /// after at most this long; 0 turns caching off [default: 1000]
    #[arg(long, env = "QIANSHU_CACHE_TTL_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_ttl_ms: Option<u64>,
    /// Load the demo tenant (examples/demo-tenants.json) when the database has no application
    #[arg(long, env = "QIANSHU_DEMO", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<bool>,
    /// CJK font (TrueType/OpenType, .ttf/.otf/.ttc) for 黑体 and any font not set below
    /// [default: Noto Sans CJK SC where the system has it]
    #[arg(long, env = "QIANSHU_FONT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub font: Option<PathBuf>,
    /// CJK font for 宋体 [default: Noto Serif CJK SC where the system has it, else --font]
    #[arg(long, env = "QIANSHU_FONT_SONG")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub font_song: Option<PathBuf>,
    /// CJK font for 仿宋 [default: the 宋体 font]
    #[arg(long, env = "QIANSHU_FONT_FANGSONG")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub font_fangsong: Option<PathBuf>,
    /// Workers that synthesize contract documents in the background; 0 leaves the queue to
    /// other nodes (documents asked for are still made on demand). Also how many documents this
    /// node renders at once (at least one), at low CPU priority [default: 1]
    #[arg(long, env = "QIANSHU_SYNTHESIS_WORKERS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthesis_workers: Option<usize>,
    /// How long a worker holds a synthesis job; a node that dies leaves its jobs to others after
    /// this long (a node that stops cleanly hands them back at once) [default: 60000]
    #[arg(long, env = "QIANSHU_SYNTHESIS_LEASE_MS", value_parser = clap::value_parser!(u64).range(1..))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthesis_lease_ms: Option<u64>,
    /// How text messages (signing codes) are sent: `log` writes them to the log; an http:// or
    /// https:// URL receives each as a POST of {"Mobile", "Text"} in JSON [default: log]
    #[arg(long, env = "QIANSHU_SMS_SENDER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_sender: Option<String>,
    /// Serve the test helpers under /_qianshu/ (read the text messages sent, move this node's
    /// business clock); anyone who can reach the server can then read one-time codes: never in
    /// production [default: false]
    #[arg(long, env = "QIANSHU_TEST_HELPERS", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_helpers: Option<bool>,
    /// Let callbacks reach loopback, private and link-local addresses (checked after DNS
    /// resolution); otherwise such a CallbackUrl is refused and its messages wait [default: the
    /// value of --demo]
    #[arg(long, env = "QIANSHU_CALLBACK_ALLOW_PRIVATE", num_args = 0..=1, default_missing_value = "true")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_allow_private: Option<bool>,
    /// On SIGTERM (or Ctrl-C), how long requests in flight and document renders in progress
    /// may take to finish, in milliseconds; then the jobs still held are handed back to the
    /// queue for other nodes and the process exits [default: 30000]
    #[arg(long, env = "QIANSHU_DRAIN_TIMEOUT_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain_timeout_ms: Option<u64>,
    /// IP addresses of the reverse proxies in front of qianshu, comma-separated: a signing's
    /// client address is read from their `X-Forwarded-For`; from anyone else the header is
    /// ignored and the connection's peer is the client [default: none]
    #[arg(long, env = "QIANSHU_TRUSTED_PROXIES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxies: Option<String>,
    /// PEM certificate of a root CA to use instead of the one qianshu makes on first start; with
    /// --ca-key. Imported into the database by the first node that starts, which every node then
    /// shares; a database that already has another root refuses it [default: a root made on first start]
    #[arg(long, env = "QIANSHU_CA_CERT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// The private key of --ca-cert: PKCS#8 PEM, ECDSA P-256
    #[arg(long, env = "QIANSHU_CA_KEY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_key: Option<PathBuf>,
    /// An external RFC 3161 timestamp authority (http:// or https:// URL) for signatures'
    /// timestamps; POST /tsa still serves the built-in one [default: the built-in TSA]
    #[arg(long, env = "QIANSHU_TSA_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsa_url: Option<String>,
}

/// A database URL whose password never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // scheme://user:password@host → scheme://user:***@host
        if let Some((scheme, rest)) = self.0.split_once("://")
            && let Some((userinfo, host)) = rest.split_once('@')
            && let Some((user, _)) = userinfo.split_once(':')
        {
            return write!(f, "{scheme}://{user}:***@{host}");
        }
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub blob_store: BlobStoreUrl,
    /// `None`: the key file in the data dir (see `secrets::MasterKey::from_file_or_create`).
    pub master_key: Option<MasterKey>,
}

/// Where blobs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobStoreUrl {
    Local(PathBuf),
    /// `s3://BUCKET[/PREFIX]`, as given.
    S3(String),
}

impl BlobStoreUrl {
    pub fn parse(value: &str) -> anyhow::Result<BlobStoreUrl> {
        if value.starts_with("s3://") {
            Ok(BlobStoreUrl::S3(value.to_owned()))
        } else if let Some(path) = value.strip_prefix("file://") {
            Ok(BlobStoreUrl::Local(PathBuf::from(path)))
        } else if value.contains("://") {
            bail!("blob store `{value}` has an unknown scheme: use a directory, file:///DIR or s3://BUCKET[/PREFIX]")
        } else {
            Ok(BlobStoreUrl::Local(PathBuf::from(value)))
        }
    }
}

/// Where text messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsSender {
    /// Into the log (and the outbox the test helpers read): for development.
    Log,
    /// A POST of each message, as JSON, to this http:// or https:// URL.
    Webhook(String),
}

impl SmsSender {
    pub fn parse(value: &str) -> anyhow::Result<SmsSender> {
        if value == "log" {
            Ok(SmsSender::Log)
        } else if value.starts_with("http://") || value.starts_with("https://") {
            Ok(SmsSender::Webhook(value.to_owned()))
        } else {
            bail!("sms-sender `{value}` is neither `log` nor an http:// or https:// URL")
        }
    }
}

/// The fonts text is set in, by the names `ComponentExtra.Font` uses; `None` where unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FontPaths {
    pub hei: Option<PathBuf>,
    pub song: Option<PathBuf>,
    pub fangsong: Option<PathBuf>,
}

/// What the HTTP edge lets callers hold, so that no caller can exhaust memory, connections or
/// time (docs/ARCHITECTURE.md, "Limits at the edge").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    pub max_body_bytes: usize,
    pub max_buffered_body_bytes: usize,
    pub body_timeout: Duration,
    pub request_timeout: Duration,
    pub max_concurrent_requests: usize,
    pub header_timeout: Duration,
}

/// The Redis that makes rate limits cluster-wide (`--redis-url`).
#[derive(Clone)]
pub struct RedisSettings {
    /// May carry a password: never logged.
    pub url: String,
    pub key_prefix: String,
    pub timeout: Duration,
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &DatabaseUrl::new(self.url.clone()))
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub store: StoreSettings,
    pub listen: String,
    pub public_url: Option<String>,
    pub edge: EdgeLimits,
    pub rate_limit: u32,
    pub rate_limits: BTreeMap<Action, u32>,
    /// `None`: each node keeps its own rate limits.
    pub redis: Option<RedisSettings>,
    pub cache_ttl: Duration,
    pub demo: bool,
    pub fonts: FontPaths,
    pub synthesis_workers: usize,
    pub synthesis_lease: Duration,
    pub sms_sender: SmsSender,
    pub test_helpers: bool,
    pub callback_allow_private: bool,
    /// How long a stopping node waits for requests and renders in progress.
    pub drain_timeout: Duration,
    pub trusted_proxies: Vec<IpAddr>,
    pub pki: crate::pki::PkiSettings,
}

impl ServeSettings {
    /// The public base URL, once the listening address is known.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}")).trim_end_matches('/').to_owned()
    }
}

/// The file layer, with the defaults under it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layered {
    data_dir: PathBuf,
    database_url: Option<String>,
    blob_store: Option<String>,
    master_key: Option<SecretString>,
    listen: String,
    public_url: Option<String>,
    max_body_bytes: usize,
    max_buffered_body_bytes: usize,
    body_timeout_ms: u64,
    request_timeout_ms: u64,
    max_concurrent_requests: u64,
    header_timeout_ms: u64,
    rate_limit: u32,
    rate_limits: Option<RateLimits>,
    redis_url: Option<String>,
    redis_key_prefix: String,
    redis_timeout_ms: u64,
    cache_ttl_ms: u64,
    demo: bool,
    font: Option<PathBuf>,
    font_song: Option<PathBuf>,
    font_fangsong: Option<PathBuf>,
    synthesis_workers: usize,
    synthesis_lease_ms: u64,
    sms_sender: String,
    test_helpers: bool,
    /// No default of its own: unset, it follows `demo`.
    callback_allow_private: Option<bool>,
    drain_timeout_ms: u64,
    trusted_proxies: Option<String>,
    ca_cert: Option<PathBuf>,
    ca_key: Option<PathBuf>,
    tsa_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RateLimits {
    Table(BTreeMap<String, u32>),
    List(String),
}

#[derive(Serialize)]
struct Defaults {
    data_dir: &'static str,
    listen: &'static str,
    max_body_bytes: usize,
    max_buffered_body_bytes: usize,
    body_timeout_ms: u64,
    request_timeout_ms: u64,
    max_concurrent_requests: u64,
    header_timeout_ms: u64,
    rate_limit: u32,
    redis_key_prefix: &'static str,
    redis_timeout_ms: u64,
    cache_ttl_ms: u64,
    demo: bool,
    synthesis_workers: usize,
    synthesis_lease_ms: u64,
    sms_sender: &'static str,
    test_helpers: bool,
    drain_timeout_ms: u64,
}

const DEFAULTS: Defaults = Defaults {
    data_dir: "./data",
    listen: "127.0.0.1:8080",
    max_body_bytes: 10 * 1024 * 1024,
    max_buffered_body_bytes: 256 * 1024 * 1024,
    body_timeout_ms: 60_000,
    request_timeout_ms: 120_000,
    max_concurrent_requests: 1024,
    header_timeout_ms: 30_000,
    rate_limit: 20,
    redis_key_prefix: "qianshu",
    redis_timeout_ms: 5,
    cache_ttl_ms: 1000,
    demo: false,
    synthesis_workers: 1,
    synthesis_lease_ms: 60_000,
    sms_sender: "log",
    test_helpers: false,
    drain_timeout_ms: 30_000,
};

fn layered(store: &StoreFlags, serve: &ServeFlags) -> anyhow::Result<Layered> {
    let mut figment = Figment::from(Serialized::defaults(DEFAULTS));
    match &store.config {
        Some(path) if !path.exists() => bail!("config file {} does not exist", path.display()),
        Some(path) => figment = figment.merge(Toml::file_exact(path)),
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
            figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
        }
        None => {}
    }
    figment = figment.merge(Serialized::defaults(store)).merge(Serialized::defaults(serve));
    let mut layered: Layered = figment.extract().context("reading settings")?;
    // The key skips figment's layers above the file so that it is never serialized.
    if let Some(key) = &store.master_key {
        layered.master_key = Some(key.clone());
    }
    Ok(layered)
}

impl StoreSettings {
    pub fn load(flags: &StoreFlags) -> anyhow::Result<StoreSettings> {
        Self::from_layered(&layered(flags, &ServeFlags::default())?)
    }

    fn from_layered(l: &Layered) -> anyhow::Result<StoreSettings> {
        let database_url = match &l.database_url {
            Some(url) => DatabaseUrl::new(url.clone()),
            None => DatabaseUrl::new(format!("sqlite://{}", l.data_dir.join("qianshu.db").display())),
        };
        let blob_store = match &l.blob_store {
            Some(url) => BlobStoreUrl::parse(url)?,
            None => BlobStoreUrl::Local(l.data_dir.join("blobs")),
        };
        let master_key = l
            .master_key
            .as_ref()
            .map(|k| MasterKey::from_hex(k.expose_secret(), secrets::SETTING))
            .transpose()
            .context("the master key (--master-key, QIANSHU_MASTER_KEY or master_key in the settings file)")?;
        Ok(StoreSettings { data_dir: l.data_dir.clone(), database_url, blob_store, master_key })
    }
}

impl ServeSettings {
    pub fn load(store: &StoreFlags, serve: &ServeFlags) -> anyhow::Result<ServeSettings> {
        let l = layered(store, serve)?;
        let rate_limits = match &l.rate_limits {
            None => BTreeMap::new(),
            Some(RateLimits::Table(t)) => {
                t.iter().map(|(a, n)| Ok((parse_action(a)?, *n))).collect::<anyhow::Result<_>>()?
            }
            Some(RateLimits::List(s)) => parse_rate_limits(s)?,
        };
        if l.synthesis_lease_ms == 0 {
            bail!("synthesis-lease-ms must be at least 1");
        }
        for (name, value) in [
            ("body-timeout-ms", l.body_timeout_ms),
            ("request-timeout-ms", l.request_timeout_ms),
            ("max-concurrent-requests", l.max_concurrent_requests),
            ("header-timeout-ms", l.header_timeout_ms),
        ] {
            if value == 0 {
                bail!("{name} must be at least 1");
            }
        }
        if l.max_body_bytes > l.max_buffered_body_bytes {
            bail!(
                "max-body-bytes ({}) is more than max-buffered-body-bytes ({}): a body that large could never be read",
                l.max_body_bytes,
                l.max_buffered_body_bytes
            );
        }
        if l.rate_limit == 0 || rate_limits.values().any(|n| *n == 0) {
            bail!("rate limits must be at least 1 call per second");
        }
        if l.redis_timeout_ms == 0 {
            bail!("redis-timeout-ms must be at least 1");
        }
        let redis = l.redis_url.as_ref().map(|url| RedisSettings {
            url: url.clone(),
            key_prefix: l.redis_key_prefix.clone(),
            timeout: Duration::from_millis(l.redis_timeout_ms),
        });
        Ok(ServeSettings {
            store: StoreSettings::from_layered(&l)?,
            listen: l.listen.clone(),
            public_url: l.public_url.clone(),
            edge: EdgeLimits {
                max_body_bytes: l.max_body_bytes,
                max_buffered_body_bytes: l.max_buffered_body_bytes,
                body_timeout: Duration::from_millis(l.body_timeout_ms),
                request_timeout: Duration::from_millis(l.request_timeout_ms),
                max_concurrent_requests: usize::try_from(l.max_concurrent_requests).unwrap_or(usize::MAX),
                header_timeout: Duration::from_millis(l.header_timeout_ms),
            },
            rate_limit: l.rate_limit,
            rate_limits,
            redis,
            cache_ttl: Duration::from_millis(l.cache_ttl_ms),
            demo: l.demo,
            fonts: FontPaths { hei: l.font.clone(), song: l.font_song.clone(), fangsong: l.font_fangsong.clone() },
            synthesis_workers: l.synthesis_workers,
            synthesis_lease: Duration::from_millis(l.synthesis_lease_ms),
            sms_sender: SmsSender::parse(&l.sms_sender)?,
            test_helpers: l.test_helpers,
            callback_allow_private: l.callback_allow_private.unwrap_or(l.demo),
            drain_timeout: Duration::from_millis(l.drain_timeout_ms),
            trusted_proxies: parse_trusted_proxies(l.trusted_proxies.as_deref().unwrap_or_default())?,
            pki: pki_settings(&l)?,
        })
    }
}

/// `--trusted-proxies`: IP addresses, comma-separated.
pub fn parse_trusted_proxies(s: &str) -> anyhow::Result<Vec<IpAddr>> {
    s.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| a.parse().map_err(|_| anyhow::anyhow!("trusted-proxies: `{a}` is not an IP address")))
        .collect()
}

fn pki_settings(l: &Layered) -> anyhow::Result<crate::pki::PkiSettings> {
    let ca = match (&l.ca_cert, &l.ca_key) {
        (Some(certificate), Some(key)) => {
            Some(crate::pki::CaFiles { certificate: certificate.clone(), key: key.clone() })
        }
        (None, None) => None,
        _ => bail!("ca-cert and ca-key go together: give both, or neither for the root qianshu makes"),
    };
    if let Some(url) = &l.tsa_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        bail!("tsa-url `{url}` is not an http:// or https:// URL");
    }
    Ok(crate::pki::PkiSettings { ca, tsa_url: l.tsa_url.clone() })
}

fn parse_action(name: &str) -> anyhow::Result<Action> {
    name.trim().parse().map_err(|_| anyhow::anyhow!("rate-limits: `{name}` is not an essbasic action"))
}

/// `Action=N,Action=N`.
pub fn parse_rate_limits(s: &str) -> anyhow::Result<BTreeMap<Action, u32>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (action, n) = pair.split_once('=').with_context(|| format!("rate-limits: `{pair}` is not Action=N"))?;
            let n = n.trim().parse().with_context(|| format!("rate-limits: `{pair}` is not Action=N"))?;
            Ok((parse_action(action)?, n))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_password_never_prints() {
        let url = DatabaseUrl::new("postgres://qs:hunter2@db.example:5432/qianshu");
        assert_eq!(format!("{url:?}"), "postgres://qs:***@db.example:5432/qianshu");
        assert_eq!(url.to_string(), "postgres://qs:***@db.example:5432/qianshu");
        assert_eq!(DatabaseUrl::new("sqlite://data/q.db").to_string(), "sqlite://data/q.db");
    }

    #[test]
    fn the_master_key_comes_from_the_flag_over_the_file_and_never_echoes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        let from_file = "11".repeat(32);
        std::fs::write(&file, format!("master_key = \"{from_file}\"\n")).unwrap();
        let store = StoreFlags { config: Some(file.clone()), ..Default::default() };
        let key = StoreSettings::load(&store).unwrap().master_key.unwrap();
        let sealed = MasterKey::from_hex(&from_file, "x").unwrap().seal(PLACE, "v");
        assert_eq!(key.open(PLACE, &sealed).unwrap().expose_secret(), "v");
        assert_eq!(key.origin(), "--master-key (QIANSHU_MASTER_KEY)");

        let flag = StoreFlags { master_key: Some("22".repeat(32).into()), ..store.clone() };
        let key = StoreSettings::load(&flag).unwrap().master_key.unwrap();
        assert!(key.open(PLACE, &sealed).is_err(), "the flag wins over the file");
        assert!(!format!("{:?}", StoreSettings::load(&flag).unwrap()).contains("2222"));

        let typo = StoreFlags { master_key: Some(format!("{}zz", "33".repeat(31)).into()), ..store };
        let e = format!("{:#}", StoreSettings::load(&typo).unwrap_err());
        assert_eq!(
            e,
            "the master key (--master-key, QIANSHU_MASTER_KEY or master_key in the settings file): must be 64 \
             hex characters (32 bytes), such as `openssl rand -hex 32` prints"
        );
        assert!(StoreSettings::load(&StoreFlags::default()).unwrap().master_key.is_none());
    }

    const PLACE: secrets::Place<'static> = secrets::Place { table: "t", column: "c", row: "r" };

    #[test]
    fn rate_limit_overrides_parse_by_action_name() {
        let m = parse_rate_limits("ChannelCreateFlowGroupByTemplates=100, DescribeTemplates=5").unwrap();
        assert_eq!(m[&Action::ChannelCreateFlowGroupByTemplates], 100);
        assert_eq!(m[&Action::DescribeTemplates], 5);
        assert!(parse_rate_limits("NoSuchAction=1").unwrap_err().to_string().contains("NoSuchAction"));
        assert!(parse_rate_limits("DescribeTemplates").is_err());
    }

    #[test]
    fn flags_beat_the_file_which_beats_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nrate_limit = 7\n[rate_limits]\nDescribeTemplates = 3\n")
            .unwrap();
        let store = StoreFlags { config: Some(file.clone()), ..Default::default() };
        let s = ServeSettings::load(&store, &ServeFlags::default()).unwrap();
        assert_eq!((s.listen.as_str(), s.rate_limit, s.edge.max_body_bytes), ("0.0.0.0:9000", 7, 10 * 1024 * 1024));
        assert_eq!(s.rate_limits[&Action::DescribeTemplates], 3);
        assert_eq!(s.store.database_url.expose(), "sqlite://./data/qianshu.db");
        let serve = ServeFlags { listen: Some("127.0.0.1:1".into()), ..Default::default() };
        let s = ServeSettings::load(&store, &serve).unwrap();
        assert_eq!((s.listen.as_str(), s.rate_limit), ("127.0.0.1:1", 7));
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let store = StoreFlags { config: Some(file), ..Default::default() };
        let e = format!("{:#}", ServeSettings::load(&store, &ServeFlags::default()).unwrap_err());
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn the_synthesis_settings_come_from_the_file_and_a_zero_lease_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "synthesis_workers = 3\nsynthesis_lease_ms = 2500\n").unwrap();
        let store = StoreFlags { config: Some(file.clone()), ..Default::default() };
        let s = ServeSettings::load(&store, &ServeFlags::default()).unwrap();
        assert_eq!((s.synthesis_workers, s.synthesis_lease), (3, std::time::Duration::from_millis(2500)));
        let s = ServeSettings::load(&StoreFlags::default(), &ServeFlags::default()).unwrap();
        assert_eq!((s.synthesis_workers, s.synthesis_lease), (1, std::time::Duration::from_secs(60)));
        std::fs::write(&file, "synthesis_lease_ms = 0\n").unwrap();
        let e = ServeSettings::load(&store, &ServeFlags::default()).unwrap_err().to_string();
        assert_eq!(e, "synthesis-lease-ms must be at least 1");
    }

    #[test]
    fn trusted_proxies_are_ip_addresses_and_none_by_default() {
        let s = ServeSettings::load(&StoreFlags::default(), &ServeFlags::default()).unwrap();
        assert!(s.trusted_proxies.is_empty());
        let flags = ServeFlags { trusted_proxies: Some("10.0.0.1, ::1".into()), ..Default::default() };
        let s = ServeSettings::load(&StoreFlags::default(), &flags).unwrap();
        assert_eq!(s.trusted_proxies, vec!["10.0.0.1".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]);
        let e = parse_trusted_proxies("10.0.0.0/8").unwrap_err().to_string();
        assert_eq!(e, "trusted-proxies: `10.0.0.0/8` is not an IP address");
    }

    #[test]
    fn the_sms_sender_is_the_log_or_a_web_url_and_test_helpers_are_off_unless_asked() {
        let s = ServeSettings::load(&StoreFlags::default(), &ServeFlags::default()).unwrap();
        assert_eq!((s.sms_sender, s.test_helpers), (SmsSender::Log, false));
        let flags = ServeFlags {
            sms_sender: Some("https://sms.example/send?token=t".into()),
            test_helpers: Some(true),
            ..Default::default()
        };
        let s = ServeSettings::load(&StoreFlags::default(), &flags).unwrap();
        assert_eq!(s.sms_sender, SmsSender::Webhook("https://sms.example/send?token=t".into()));
        assert!(s.test_helpers);
        let flags = ServeFlags { sms_sender: Some("ftp://sms.example".into()), ..Default::default() };
        let e = ServeSettings::load(&StoreFlags::default(), &flags).unwrap_err().to_string();
        assert_eq!(e, "sms-sender `ftp://sms.example` is neither `log` nor an http:// or https:// URL");
    }

    #[test]
    fn redis_is_off_unless_a_url_is_given_and_its_password_never_prints() {
        assert!(ServeSettings::load(&StoreFlags::default(), &ServeFlags::default()).unwrap().redis.is_none());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "redis_url = \"redis://:hunter2@10.0.0.5:6380/1\"\nredis_key_prefix = \"staging\"\n")
            .unwrap();
        let store = StoreFlags { config: Some(file.clone()), ..Default::default() };
        let redis = ServeSettings::load(&store, &ServeFlags::default()).unwrap().redis.unwrap();
        assert_eq!(
            (redis.url.as_str(), redis.key_prefix.as_str(), redis.timeout),
            ("redis://:hunter2@10.0.0.5:6380/1", "staging", Duration::from_millis(5))
        );
        assert!(!format!("{redis:?}").contains("hunter2"));
        let flags = ServeFlags { redis_timeout_ms: Some(40), ..Default::default() };
        assert_eq!(ServeSettings::load(&store, &flags).unwrap().redis.unwrap().timeout, Duration::from_millis(40));
        std::fs::write(&file, "redis_url = \"redis://127.0.0.1\"\nredis_timeout_ms = 0\n").unwrap();
        let e = ServeSettings::load(&store, &ServeFlags::default()).unwrap_err().to_string();
        assert_eq!(e, "redis-timeout-ms must be at least 1");
    }

    #[test]
    fn the_ca_files_go_together_and_the_tsa_url_is_a_web_url() {
        let load = |flags: ServeFlags| ServeSettings::load(&StoreFlags::default(), &flags).map(|s| s.pki);
        assert_eq!(load(ServeFlags::default()).unwrap(), crate::pki::PkiSettings::default());
        let both = ServeFlags {
            ca_cert: Some("ca.pem".into()),
            ca_key: Some("ca.key".into()),
            tsa_url: Some("https://tsa.example/tsr".into()),
            ..Default::default()
        };
        let pki = load(both.clone()).unwrap();
        let files = crate::pki::CaFiles { certificate: "ca.pem".into(), key: "ca.key".into() };
        assert_eq!((pki.ca, pki.tsa_url.as_deref()), (Some(files), Some("https://tsa.example/tsr")));
        let e = load(ServeFlags { ca_key: None, ..both.clone() }).unwrap_err().to_string();
        assert_eq!(e, "ca-cert and ca-key go together: give both, or neither for the root qianshu makes");
        let e = load(ServeFlags { tsa_url: Some("tsa.example".into()), ..both }).unwrap_err().to_string();
        assert_eq!(e, "tsa-url `tsa.example` is not an http:// or https:// URL");
    }

    #[test]
    fn callbacks_reach_private_addresses_only_when_asked_or_in_the_demo() {
        let load = |demo, allow| {
            let flags = ServeFlags { demo, callback_allow_private: allow, ..Default::default() };
            ServeSettings::load(&StoreFlags::default(), &flags).unwrap().callback_allow_private
        };
        assert!(!load(None, None));
        assert!(load(None, Some(true)));
        assert!(load(Some(true), None));
        assert!(!load(Some(true), Some(false)));
    }

    #[test]
    fn the_edge_limits_come_from_the_file_and_flags_and_must_be_consistent() {
        let defaults = ServeSettings::load(&StoreFlags::default(), &ServeFlags::default()).unwrap().edge;
        let expected = EdgeLimits {
            max_body_bytes: 10 * 1024 * 1024,
            max_buffered_body_bytes: 256 * 1024 * 1024,
            body_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
            max_concurrent_requests: 1024,
            header_timeout: Duration::from_secs(30),
        };
        assert_eq!(defaults, expected);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("q.toml");
        std::fs::write(&file, "body_timeout_ms = 5\nmax_concurrent_requests = 3\nheader_timeout_ms = 7\n").unwrap();
        let store = StoreFlags { config: Some(file.clone()), ..Default::default() };
        let flags =
            ServeFlags { request_timeout_ms: Some(9), max_buffered_body_bytes: Some(1 << 30), ..Default::default() };
        let edge = ServeSettings::load(&store, &flags).unwrap().edge;
        assert_eq!(
            edge,
            EdgeLimits {
                body_timeout: Duration::from_millis(5),
                request_timeout: Duration::from_millis(9),
                max_concurrent_requests: 3,
                header_timeout: Duration::from_millis(7),
                max_buffered_body_bytes: 1 << 30,
                ..expected
            }
        );
        let flags = ServeFlags { max_buffered_body_bytes: Some(1000), ..Default::default() };
        let e = ServeSettings::load(&StoreFlags::default(), &flags).unwrap_err().to_string();
        assert_eq!(
            e,
            "max-body-bytes (10485760) is more than max-buffered-body-bytes (1000): a body that large could never be read"
        );
        std::fs::write(&file, "header_timeout_ms = 0\n").unwrap();
        let e = ServeSettings::load(&store, &ServeFlags::default()).unwrap_err().to_string();
        assert_eq!(e, "header-timeout-ms must be at least 1");
    }
}
