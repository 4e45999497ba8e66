//! A single-waiter wake-up flag for tasks of one executor: `notify` sets it
//! and wakes the waiting task; `wait` resolves once it is set (and clears it).
//! Notifications coalesce: many `notify` calls before the task runs wake it once.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct Notify {
    set: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Notify {
    pub fn notify(&self) {
        self.set.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Resolves at the next (or a pending) notification.
    pub fn wait(&self) -> Wait<'_> {
        Wait { notify: self }
    }
}

pub struct Wait<'a> {
    notify: &'a Notify,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.set.replace(false) {
            Poll::Ready(())
        } else {
            self.notify.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        }
    }
}
