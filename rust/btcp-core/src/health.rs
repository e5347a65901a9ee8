//! Health that sees the server: what a back-end's HEARTBEAT says of the
//! listening socket behind each service a front-end announced (is there
//! one, how full is its accept queue, how long has its oldest connection
//! waited to be accepted), and what a front-end makes of it.
//!
//! A node with no listener on a service gets none of its new connections
//! (each would cost a HANDOFF_NACK round trip); a node whose listener is
//! overloaded (its accept queue full, or its oldest connection waiting for
//! [`ACCEPT_STALL_MS`]: the server is stuck or frozen) gets them only when
//! every node that could take them is overloaded too.

use super::config::MAX_SERVICES;
use super::flow::Endpoint;

/// A connection that has waited this long in an accept queue means the
/// server is not accepting: a server that keeps up accepts in
/// milliseconds, one that is frozen (SIGSTOP, a stuck event loop) never.
pub const ACCEPT_STALL_MS: u32 = 1_000;

/// One service's listener on a back-end, as its HEARTBEAT reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Listener {
    /// The service (VIP:port) asked about.
    pub service: Endpoint,
    /// Whether a socket listens for it (on the VIP or a wildcard).
    pub listening: bool,
    /// Connections in its accept queue.
    pub queued: u32,
    /// Its accept queue's limit (the `listen()` backlog).
    pub limit: u32,
    /// How long the oldest connection in the queue has waited, in ms (0
    /// when it is empty).
    pub oldest_ms: u32,
}

/// What a front-end makes of a [`Listener`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Takes new connections.
    Serving,
    /// Takes new connections only when every other choice is overloaded.
    Overloaded,
    /// Takes no new connections.
    NoListener,
}

impl Listener {
    /// See [`Condition`]. A queue is full, as the stack sees it
    /// (`sk_acceptq_is_full`), once it holds more than its limit.
    pub fn condition(&self) -> Condition {
        if !self.listening {
            Condition::NoListener
        } else if self.queued > self.limit || self.oldest_ms >= ACCEPT_STALL_MS {
            Condition::Overloaded
        } else {
            Condition::Serving
        }
    }
}

/// Up to [`MAX_SERVICES`] listeners, as a HEARTBEAT carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Listeners {
    pub(crate) len: u8,
    pub(crate) entries: [Listener; MAX_SERVICES],
}

impl Listeners {
    /// No listener reported (a front-end then assumes each is serving).
    pub const NONE: Listeners = Listeners {
        len: 0,
        entries: [Listener {
            service: Endpoint::new(0, 0),
            listening: false,
            queued: 0,
            limit: 0,
            oldest_ms: 0,
        }; MAX_SERVICES],
    };

    /// The first [`MAX_SERVICES`] of `list`.
    pub fn of(list: impl IntoIterator<Item = Listener>) -> Listeners {
        let mut l = Listeners::NONE;
        for (slot, e) in l.entries.iter_mut().zip(list) {
            *slot = e;
            l.len = l.len.saturating_add(1);
        }
        l
    }

    /// The listeners, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Listener> {
        self.entries.iter().take(usize::from(self.len))
    }

    /// The report on `service`, if there is one.
    pub fn get(&self, service: Endpoint) -> Option<&Listener> {
        self.iter().find(|l| l.service == service)
    }
}

/// The services (by their index in the front-end's configuration) a node
/// should not get new connections of, or only as a last resort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unfit {
    no_listener: u8,
    overloaded: u8,
}

// One bit per service.
const _: () = assert!(MAX_SERVICES <= u8::BITS as usize);

impl Unfit {
    /// What `report` says of each of `services` (ours, in configuration
    /// order); a service it does not mention is taken as serving.
    pub fn assess<'a>(
        services: impl IntoIterator<Item = &'a Endpoint>,
        report: &Listeners,
    ) -> Unfit {
        let mut u = Unfit::default();
        for (i, s) in services.into_iter().take(MAX_SERVICES).enumerate() {
            let bit = 1u8 << i;
            match report.get(*s).map(Listener::condition) {
                Some(Condition::NoListener) => u.no_listener |= bit,
                Some(Condition::Overloaded) => u.overloaded |= bit,
                Some(Condition::Serving) | None => {}
            }
        }
        u
    }

    /// The condition of service `i` (none: a service we do not front).
    pub fn condition(&self, service: Option<usize>) -> Condition {
        let Some(bit) = service.and_then(|i| 1u8.checked_shl(u32::try_from(i).ok()?)) else {
            return Condition::Serving;
        };
        if self.no_listener & bit != 0 {
            Condition::NoListener
        } else if self.overloaded & bit != 0 {
            Condition::Overloaded
        } else {
            Condition::Serving
        }
    }

    /// Whether it may get a new connection of service `i`; with `strict`,
    /// not if it is overloaded.
    pub fn takes(&self, service: Option<usize>, strict: bool) -> bool {
        match self.condition(service) {
            Condition::Serving => true,
            Condition::Overloaded => !strict,
            Condition::NoListener => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: Endpoint = Endpoint::new(0x0a63_0064, 80);
    const TLS: Endpoint = Endpoint::new(0x0a63_0064, 443);

    fn listening(service: Endpoint, queued: u32, oldest_ms: u32) -> Listener {
        Listener {
            service,
            listening: true,
            queued,
            limit: 511,
            oldest_ms,
        }
    }

    #[test]
    fn a_listener_is_overloaded_when_its_queue_is_past_full_or_stalled() {
        assert_eq!(listening(WEB, 0, 0).condition(), Condition::Serving);
        assert_eq!(listening(WEB, 511, 999).condition(), Condition::Serving);
        assert_eq!(listening(WEB, 512, 0).condition(), Condition::Overloaded);
        let stalled = listening(WEB, 1, ACCEPT_STALL_MS);
        assert_eq!(stalled.condition(), Condition::Overloaded);
        let none = Listener {
            service: WEB,
            ..Listener::default()
        };
        assert_eq!(none.condition(), Condition::NoListener);
    }

    #[test]
    fn unfit_follows_the_front_ends_services_in_order() {
        let report = Listeners::of([
            Listener {
                service: TLS,
                ..Listener::default()
            },
            listening(WEB, 600, 0),
        ]);
        let u = Unfit::assess(&[WEB, TLS], &report);
        assert_eq!(u.condition(Some(0)), Condition::Overloaded);
        assert_eq!(u.condition(Some(1)), Condition::NoListener);
        assert!(u.takes(Some(0), false) && !u.takes(Some(0), true));
        assert!(!u.takes(Some(1), false));
        // Not reported, or not a service of ours: serving.
        let u = Unfit::assess(&[WEB], &Listeners::NONE);
        assert_eq!(u, Unfit::default());
        assert!(u.takes(None, true) && u.takes(Some(7), true) && u.takes(Some(99), true));
    }
}
