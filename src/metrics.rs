//! What `/metrics` reports, in the Prometheus text format (0.0.4). Requests and their latency
//! are this node's; the queue gauges are read from the database at scrape time, so every node
//! reports the queues all nodes share (sum requests across nodes, not queues).

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::store::operations::QueueDepths;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    action: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

/// The two background queues.
#[derive(Clone, Copy, Debug)]
pub enum Queue {
    Documents,
    Callbacks,
}

impl Queue {
    fn labels(self) -> QueueLabels {
        QueueLabels {
            queue: match self {
                Queue::Documents => "documents",
                Queue::Callbacks => "callbacks",
            },
        }
    }
}

/// Failed jobs counted by the process that ran them: document jobs and callback deliveries run
/// on threads and tasks that hold no edge state, and a process has one count however many
/// edges it serves.
static JOBS_FAILED: LazyLock<Family<QueueLabels, Counter>> = LazyLock::new(Family::default);

/// Counts a failed job: a document recorded as failed for good, or a callback delivery attempt
/// that failed (a callback is retried, never given up).
pub fn job_failed(queue: Queue) {
    JOBS_FAILED.get_or_create(&queue.labels()).inc();
}

/// The action label of a request whose action is not known (missing or not essbasic's): a
/// caller cannot make up label values.
pub const UNKNOWN_ACTION: &str = "unknown";

type LatencyFamily = Family<ActionLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    queue_depth: Family<QueueLabels, Gauge>,
    queue_oldest: Family<QueueLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("qianshu");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "API calls answered, by action and code (Ok or the error code)",
            requests.clone(),
        );
        let latency: LatencyFamily = Family::new_with_constructor(|| {
            Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0])
        });
        registry.register("request_duration_seconds", "Time to answer an API call, by action", latency.clone());
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "queue_jobs",
            "Jobs waiting or running in a queue shared by every node (documents, callbacks)",
            queue_depth.clone(),
        );
        let queue_oldest = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "queue_oldest_job_age_seconds",
            "Age of the oldest job of a queue shared by every node; 0 when it is empty",
            queue_oldest.clone(),
        );
        registry.register(
            "jobs_failed",
            "Jobs failed on this process: documents failed for good, callback delivery attempts failed",
            JOBS_FAILED.clone(),
        );
        Metrics { registry, requests, latency, queue_depth, queue_oldest }
    }

    /// Counts an answered API call.
    pub fn request(&self, action: &'static str, code: &'static str, took: Duration) {
        self.requests.get_or_create(&RequestLabels { action, code }).inc();
        self.latency.get_or_create(&ActionLabels { action }).observe(took.as_secs_f64());
    }

    /// The text a scrape answers, with the queues as `depths` gives them.
    pub fn render(&self, depths: &QueueDepths) -> String {
        for (queue, jobs, oldest) in [
            (Queue::Documents, depths.documents, depths.oldest_document_seconds),
            (Queue::Callbacks, depths.callbacks, depths.oldest_callback_seconds),
        ] {
            self.queue_depth.get_or_create(&queue.labels()).set(jobs);
            self.queue_oldest.get_or_create(&queue.labels()).set(oldest);
        }
        // Both failure series exist from the first scrape, so that a rate over them has a start.
        for queue in [Queue::Documents, Queue::Callbacks] {
            _ = JOBS_FAILED.get_or_create(&queue.labels());
        }
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        // The format ends every line, the last one too.
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }
}
