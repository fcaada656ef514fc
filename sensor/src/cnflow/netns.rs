//! Work that has to happen inside another network namespace, each time on
//! a thread of its own.
//!
//! `setns` moves only the calling thread. A long-lived thread that entered a
//! pod's namespace and then failed to come back would carry on inside the
//! pod. So the work runs on a new thread that enters the namespace, does its
//! one job (typically creating a socket, which stays bound to the namespace
//! it was made in) and ends there: nothing ever has to come back. A failure
//! ends only that thread's work and is returned to the caller.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::Duration;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// How long the caller waits for the thread: entering a namespace and
/// creating a socket take microseconds.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

/// Why work in a network namespace did not happen.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error("starting a thread for the namespace: {0}")]
    Spawn(io::Error),
    #[error("entering the network namespace: {0}")]
    Enter(io::Error),
    #[error("inside the network namespace: {0}")]
    Work(io::Error),
    #[error("the namespace thread did not answer within {ANSWER_WITHIN:?}")]
    TimedOut,
    #[error("the namespace thread ended without an answer")]
    Vanished,
}

impl NamespaceError {
    /// A stable label for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            NamespaceError::Spawn(_) => "spawn",
            NamespaceError::Enter(_) => "enter",
            NamespaceError::Work(_) => "work",
            NamespaceError::TimedOut => "timed_out",
            NamespaceError::Vanished => "vanished",
        }
    }
}

/// Runs `work` on a new thread inside the network namespace `namespace`
/// (an open `/proc/PID/ns/net`) and returns what it made.
pub fn in_network_namespace<T: Send + 'static>(
    namespace: OwnedFd,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, NamespaceError> {
    let (answer, answered) = sync_channel(1);
    std::thread::Builder::new()
        .name("netns-entry".into())
        .spawn(move || {
            let result =
                move_into_link_name_space(namespace.as_fd(), Some(LinkNameSpaceType::Network))
                    .map_err(|error| NamespaceError::Enter(error.into()))
                    .and_then(|()| work().map_err(NamespaceError::Work));
            // The caller may have given up waiting; the thread ends either way.
            let _ = answer.send(result);
        })
        .map_err(NamespaceError::Spawn)?;
    match answered.recv_timeout(ANSWER_WITHIN) {
        Ok(result) => result,
        Err(RecvTimeoutError::Timeout) => Err(NamespaceError::TimedOut),
        Err(RecvTimeoutError::Disconnected) => Err(NamespaceError::Vanished),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &str) -> OwnedFd {
        rustix::fs::open(
            path,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .expect(path)
    }

    fn own_namespace_inode() -> u64 {
        rustix::fs::stat("/proc/thread-self/ns/net")
            .expect("own namespace")
            .st_ino
    }

    #[test]
    fn a_descriptor_that_is_no_namespace_is_refused_before_any_work() {
        let before = own_namespace_inode();
        let result = in_network_namespace(open("/dev/null"), || -> io::Result<()> {
            panic!("work ran outside the namespace")
        });
        assert!(
            matches!(&result, Err(NamespaceError::Enter(_))),
            "{result:?}"
        );
        assert_eq!(result.map_err(|e| e.reason()), Err("enter"));
        assert_eq!(own_namespace_inode(), before, "the caller never moved");
    }

    /// Entering one's own namespace needs CAP_SYS_ADMIN like any other;
    /// without it the failure is reported, with it the work runs there and
    /// the caller stays where it was either way.
    #[test]
    fn work_runs_on_its_own_thread_in_the_namespace() {
        let before = own_namespace_inode();
        let caller = std::thread::current().id();
        let result = in_network_namespace(open("/proc/self/ns/net"), move || {
            Ok((own_namespace_inode(), std::thread::current().id() != caller))
        });
        match result {
            Ok((inside, other_thread)) => {
                assert_eq!(inside, before);
                assert!(other_thread, "the work ran on the caller's thread");
            }
            Err(error) => assert_eq!(error.reason(), "enter", "{error}"),
        }
        assert_eq!(own_namespace_inode(), before);
    }

    #[test]
    fn failing_or_panicking_work_is_reported_not_raised() {
        let failed = in_network_namespace(open("/proc/self/ns/net"), || -> io::Result<()> {
            Err(io::Error::other("no socket"))
        });
        let panicked = in_network_namespace(open("/proc/self/ns/net"), || -> io::Result<()> {
            panic!("work panicked")
        });
        // Without CAP_SYS_ADMIN neither work runs: entering fails first.
        for (result, expected) in [(failed, "work"), (panicked, "vanished")] {
            let reason = result.map_err(|e| e.reason()).expect_err("an error");
            assert!(reason == expected || reason == "enter", "{reason}");
        }
    }
}
