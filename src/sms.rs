//! Text messages to signers' mobiles (one-time signing codes): written to the log for
//! development, or POSTed to a webhook that passes them on to an SMS provider. Every message
//! sent is also kept, the last `OUTBOX_SIZE` of them, in the node's outbox, which the test
//! helpers (`GET /_qianshu/sms`) read so that tests can sign without a phone.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use tracing::{debug, info};

use crate::config::SmsSender;
use crate::store::Clock;

/// How many sent messages the outbox keeps.
pub const OUTBOX_SIZE: usize = 1000;

/// How long the webhook has to answer.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// A message as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub mobile: String,
    pub text: String,
    /// The one-time code `text` carries, if any.
    pub code: Option<String>,
    /// Unix seconds by the store's business clock.
    pub sent_at: i64,
}

#[derive(Clone)]
pub struct Sms {
    to: Destination,
    clock: Clock,
    outbox: Arc<Mutex<VecDeque<SentSms>>>,
}

#[derive(Clone)]
enum Destination {
    Log,
    Webhook { url: reqwest::Url, client: reqwest::Client },
}

/// What the webhook receives.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WebhookMessage<'a> {
    mobile: &'a str,
    text: &'a str,
}

impl Sms {
    /// A sender as `--sms-sender` says, stamping messages with `clock`.
    pub fn new(sender: &SmsSender, clock: Clock) -> anyhow::Result<Sms> {
        crate::crypto_provider::install();
        let to = match sender {
            SmsSender::Log => Destination::Log,
            SmsSender::Webhook(url) => Destination::Webhook {
                url: reqwest::Url::parse(url).context("the SMS webhook URL (--sms-sender)")?,
                client: reqwest::Client::builder()
                    .timeout(WEBHOOK_TIMEOUT)
                    .build()
                    .context("building the SMS webhook's HTTP client")?,
            },
        };
        Ok(Sms { to, clock, outbox: Arc::default() })
    }

    /// Sends `text` to `mobile`; `code` is the one-time code the text carries, kept for the
    /// test helpers. A message the webhook did not take (no answer within 10 s, or an answer
    /// other than 2xx) is an error and is not kept.
    pub async fn send(&self, mobile: &str, text: &str, code: Option<&str>) -> anyhow::Result<()> {
        match &self.to {
            // The text goes to the log on purpose: in development it is how the code arrives.
            Destination::Log => info!(mobile = %masked(mobile), "SMS: {text}"),
            Destination::Webhook { url, client } => {
                let body = serde_json::to_vec(&WebhookMessage { mobile, text })?;
                let answer = client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
                    // The URL may carry the provider's token: keep it out of errors and logs.
                    .map_err(|e| e.without_url())
                    .context("sending an SMS through the webhook")?;
                let status = answer.status();
                if !status.is_success() {
                    bail!("the SMS webhook answered HTTP {status}");
                }
                debug!(mobile = %masked(mobile), "SMS handed to the webhook");
            }
        }
        let mut outbox = self.outbox.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if outbox.len() == OUTBOX_SIZE {
            outbox.pop_front();
        }
        outbox.push_back(SentSms {
            mobile: mobile.to_owned(),
            text: text.to_owned(),
            code: code.map(str::to_owned),
            sent_at: self.clock.now(),
        });
        Ok(())
    }

    /// The messages sent by this node, oldest first (the last `OUTBOX_SIZE`).
    pub fn outbox(&self) -> Vec<SentSms> {
        self.outbox.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().cloned().collect()
    }
}

/// A mobile number for the log: all but its last four characters hidden.
fn masked(mobile: &str) -> String {
    let n = mobile.chars().count();
    mobile.chars().enumerate().map(|(i, c)| if i + 4 < n { '*' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::Router;
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use tokio::sync::mpsc;

    #[test]
    fn a_mobile_in_the_log_shows_only_its_last_four_digits() {
        assert_eq!(masked("13800138000"), "*******8000");
        assert_eq!(masked("8000"), "8000");
        assert_eq!(masked(""), "");
    }

    #[tokio::test]
    async fn the_log_sender_keeps_the_last_thousand_messages_oldest_first_by_the_business_clock() {
        let clock = Clock::default();
        let sms = Sms::new(&SmsSender::Log, clock.clone()).unwrap();
        sms.send("13800138000", "验证码 123456", Some("123456")).await.unwrap();
        let later = clock.advance(3600);
        sms.send("13900139000", "no code", None).await.unwrap();
        let outbox = sms.outbox();
        assert_eq!(outbox.len(), 2);
        assert_eq!(
            (outbox[0].mobile.as_str(), outbox[0].text.as_str(), outbox[0].code.as_deref()),
            ("13800138000", "验证码 123456", Some("123456"))
        );
        assert_eq!((outbox[1].mobile.as_str(), outbox[1].code.as_deref()), ("13900139000", None));
        assert!((later - 3601..=later - 3600).contains(&outbox[0].sent_at), "{} vs {later}", outbox[0].sent_at);
        assert!((later..=later + 1).contains(&outbox[1].sent_at), "{} vs {later}", outbox[1].sent_at);

        for i in 0..OUTBOX_SIZE {
            sms.send("13800138000", &format!("m{i}"), None).await.unwrap();
        }
        let outbox = sms.outbox();
        assert_eq!(outbox.len(), OUTBOX_SIZE);
        assert_eq!((outbox[0].text.as_str(), outbox[OUTBOX_SIZE - 1].text.as_str()), ("m0", "m999"));
    }

    /// A webhook on a loopback port that answers `status` and reports each request it gets.
    async fn webhook(status: StatusCode) -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = Router::new().route(
            "/sms",
            post(move |headers: HeaderMap, body: Bytes| async move {
                tx.send((headers, body)).unwrap();
                status
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms?token=secret", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, rx)
    }

    #[tokio::test]
    async fn the_webhook_receives_mobile_and_text_as_json_and_the_message_is_kept() {
        let (url, mut received) = webhook(StatusCode::NO_CONTENT).await;
        let sms = Sms::new(&SmsSender::Webhook(url), Clock::default()).unwrap();
        sms.send("13800138000", "您的签署验证码是 654321", Some("654321")).await.unwrap();
        let (headers, body) = received.recv().await.unwrap();
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(std::str::from_utf8(&body).unwrap(), r#"{"Mobile":"13800138000","Text":"您的签署验证码是 654321"}"#);
        let outbox = sms.outbox();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].code.as_deref(), Some("654321"));
    }

    #[tokio::test]
    async fn a_webhook_that_does_not_answer_2xx_is_an_error_and_nothing_is_kept() {
        let (url, mut received) = webhook(StatusCode::BAD_GATEWAY).await;
        let sms = Sms::new(&SmsSender::Webhook(url), Clock::default()).unwrap();
        let e = sms.send("13800138000", "x", None).await.unwrap_err();
        assert_eq!(e.to_string(), "the SMS webhook answered HTTP 502 Bad Gateway");
        assert!(received.recv().await.is_some());
        assert!(sms.outbox().is_empty());

        let nobody = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let sms = Sms::new(&SmsSender::Webhook(format!("http://{nobody}/sms?token=secret")), Clock::default()).unwrap();
        let e = format!("{:#}", sms.send("13800138000", "x", None).await.unwrap_err());
        assert!(e.starts_with("sending an SMS through the webhook: "), "{e}");
        assert!(!e.contains("secret"), "the URL's token leaked: {e}");
        assert!(sms.outbox().is_empty());
    }
}
