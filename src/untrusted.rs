//! Parsing bytes a caller supplied (PDFs, images, font files): off the async runtime, so a slow
//! parse never holds a thread that answers requests; one parse per core at a time, so
//! concurrent uploads cannot add up their decoding memory; and under `catch_unwind`, so a parser
//! bug is an error about that file, never a crash.
//!
//! The parsers themselves are bounded (see `pdf` and `pdf::image`): nothing here can stop a
//! parse that runs for ever, so none may.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use anyhow::anyhow;
use tokio::sync::Semaphore;

static PARSES: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// What `parse` makes of the bytes it owns, or why it cannot; a panic is such an error.
pub async fn parse<T: Send + 'static>(parse: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> anyhow::Result<T> {
    let _permit = PARSES.acquire().await.map_err(|_| anyhow!("the parser pool is closed"))?;
    tokio::task::spawn_blocking(|| parse_here(parse)).await.map_err(|e| anyhow!("the parse was cancelled: {e}"))?
}

/// [`parse`] on this thread, for code that is not async.
fn parse_here<T>(parse: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    catch_unwind(AssertUnwindSafe(parse))
        .unwrap_or_else(|panic| Err(anyhow!("reading it failed unexpectedly ({})", panic_message(panic.as_ref()))))
}

/// What a panic said, for an error or the log.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_parse_is_an_error_and_a_good_one_a_value() {
        let e = parse(|| -> anyhow::Result<()> { panic!("index out of bounds") }).await.unwrap_err();
        assert_eq!(e.to_string(), "reading it failed unexpectedly (index out of bounds)");
        let e = parse(|| -> anyhow::Result<()> { panic!("{} of {}", 3, 4) }).await.unwrap_err();
        assert_eq!(e.to_string(), "reading it failed unexpectedly (3 of 4)");
        assert_eq!(parse(|| Ok(7)).await.unwrap(), 7);
        assert_eq!(
            parse(|| -> anyhow::Result<()> { Err(anyhow!("it is bad")) }).await.unwrap_err().to_string(),
            "it is bad"
        );
    }
}
