//! [`Readiness`]: how a source tells the hub it has connected and declared what it reads,
//! so `/readyz` answers 200 only when a producer can publish without losing the message.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A flag a source sets once, after its first successful connect and topology declaration
/// (an AMQP queue declared and consumed, a Redis consumer group created, a pub/sub channel
/// subscribed). Cloning shares the flag. The hub waits for every source's flag before
/// `/readyz` turns 200 (see [`crate::Source::report_ready`]).
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    set: AtomicBool,
    notify: Notify,
}

impl Readiness {
    /// A flag that is not set yet.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// Marks the source ready (idempotent; later calls do nothing).
    pub fn set(&self) {
        if !self.0.set.swap(true, Ordering::SeqCst) {
            self.0.notify.notify_waiters();
        }
    }

    /// Whether [`Readiness::set`] was called.
    pub fn is_set(&self) -> bool {
        self.0.set.load(Ordering::SeqCst)
    }

    /// Waits until the flag is set.
    pub async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_when_the_flag_is_set() {
        let ready = Readiness::new();
        assert!(!ready.is_set());
        let waiter = tokio::spawn({
            let ready = ready.clone();
            async move { ready.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        ready.set();
        waiter.await.unwrap();
        assert!(ready.is_set());
        ready.set();
        ready.wait().await; // set already: returns at once
    }
}
