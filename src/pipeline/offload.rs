//! Rendering off the async workers. The workers answer webhooks and must answer within
//! MonitorQA's 10 s whatever a template does, so every render of a delivery runs on tokio's
//! blocking threads, at most [`concurrency`] at a time: a burst of heavy renders queues here
//! instead of taking every core from intake. Each render is also bounded by the render budget
//! ([`crate::template::budget`]), so a queued render waits at most a few seconds per render
//! ahead of it.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

/// Why an offloaded job gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffloadError {
    /// The job panicked (a bug in a template helper or in a dependency): the same input would
    /// panic again, so the caller treats it as permanent.
    #[error("rendering failed unexpectedly (a panic): {0}")]
    Panicked(String),
    /// The runtime is shutting down.
    #[error("the relay is stopping")]
    Stopping,
}

/// Renders at once: one core is left to the async workers (intake, health, the store) on a
/// machine that has more than one.
pub fn concurrency() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores.saturating_sub(1).max(1)
}

fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(concurrency()))
}

/// Runs `job` on a blocking thread once a render slot is free, and returns its result.
pub async fn run<T, F>(job: F) -> Result<T, OffloadError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let _slot = permits()
        .acquire()
        .await
        .map_err(|_| OffloadError::Stopping)?;
    tokio::task::spawn_blocking(job).await.map_err(|e| {
        if e.is_panic() {
            OffloadError::Panicked(panic_text(e.into_panic()))
        } else {
            OffloadError::Stopping
        }
    })
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "no message".to_owned(), |s| (*s).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_job_runs_off_the_async_thread_and_gives_its_result() {
        let caller = std::thread::current().id();
        let ran_on = run(|| std::thread::current().id()).await.unwrap();
        assert_ne!(ran_on, caller);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_not_a_crash() {
        let out = run(|| -> u8 { panic!("helper bug") }).await;
        assert_eq!(out, Err(OffloadError::Panicked("helper bug".into())));
    }
}
