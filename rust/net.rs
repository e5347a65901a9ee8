//! The network namespace a piece of btcp state belongs to, and sending or
//! delivering packets of btcp's own making in it.

use super::bindings;
use core::ptr::NonNull;
use kernel::error::{to_result, Result};

/// A network namespace, owned by the btcp state of that namespace.
///
/// # Invariants
///
/// `ptr` points to a live `struct net`. Only the pernet registration
/// creates a `Net` (in the namespace's init) and hands it to that
/// namespace's state, which the registration frees in the namespace's
/// exit, before the namespace goes away. `Net` is neither `Clone` nor
/// `Copy`, so it cannot outlive that state.
pub struct Net {
    ptr: NonNull<bindings::net>,
}

// SAFETY: a `struct net` may be used from any CPU and context; the calls
// below take their own locks and references.
unsafe impl Send for Net {}
// SAFETY: as above, `&Net` only allows thread-safe operations.
unsafe impl Sync for Net {}

impl Net {
    /// Wraps the namespace being set up.
    ///
    /// # Safety
    ///
    /// `ptr` must be a live namespace in its pernet init, and the `Net`
    /// must be dropped no later than that namespace's pernet exit.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::net) -> Option<Net> {
        NonNull::new(ptr).map(|ptr| Net { ptr })
    }

    /// The namespace, for wrappers that pass it to the kernel.
    pub(crate) fn as_ptr(&self) -> *mut bindings::net {
        self.ptr.as_ptr()
    }

    /// Queues the namespace's `PernetState::work` on btcp's workqueue. Any
    /// context; does nothing once the namespace is going away.
    pub fn kick(&self) {
        // SAFETY: by the type invariant the namespace is live and has btcp
        // state (the pernet registration created this `Net`).
        unsafe { bindings::btcp_pernet_kick(self.ptr.as_ptr()) }
    }

    /// Sends `packet`, a complete IPv4 packet with valid checksums, routed
    /// by its destination through LOCAL_OUT and POST_ROUTING. btcp's own
    /// hooks do not see it.
    pub fn send_ip(&self, packet: &[u8]) -> Result {
        let len = u32::try_from(packet.len()).map_err(|_| kernel::error::code::EINVAL)?;
        // SAFETY: by the type invariant the namespace is live; `packet` is
        // readable for `len` bytes and only copied.
        to_result(unsafe { bindings::btcp_send_ip(self.ptr.as_ptr(), packet.as_ptr().cast(), len) })
    }

    /// Delivers `packet`, a complete IPv4 packet with valid checksums, to
    /// this namespace's own stack as if it had arrived on the interface that
    /// leads to its source. It meets LOCAL_IN; what the stack sends in
    /// answer meets btcp's hooks from within this call, so the caller must
    /// hold no lock those hooks take.
    pub fn inject_ip(&self, packet: &[u8]) -> Result {
        let len = u32::try_from(packet.len()).map_err(|_| kernel::error::code::EINVAL)?;
        // SAFETY: as in `send_ip`.
        to_result(unsafe {
            bindings::btcp_inject_ip(self.ptr.as_ptr(), packet.as_ptr().cast(), len)
        })
    }
}

/// What [`Net::recycle_time_wait`] found on a 4-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeWait {
    /// No socket.
    None,
    /// A TIME-WAIT socket, now gone.
    Recycled,
    /// A socket in another state, left alone.
    Busy,
}

impl Net {
    /// Ends the local TCP's TIME-WAIT socket for segments from `from` to
    /// `to` (address, port; host order), as the stack does itself when it
    /// accepts a new SYN in TIME-WAIT. The caller must hold no lock btcp's
    /// hooks take.
    pub fn recycle_time_wait(&self, from: (u32, u16), to: (u32, u16)) -> TimeWait {
        // SAFETY: by the type invariant the namespace is live; the glue
        // only looks the 4-tuple up and drops the reference it takes.
        let r = unsafe {
            bindings::btcp_timewait_recycle(self.ptr.as_ptr(), from.0, from.1, to.0, to.1)
        };
        match r {
            0 => TimeWait::None,
            1 => TimeWait::Recycled,
            _ => TimeWait::Busy,
        }
    }
}

/// A listening socket's accept queue, as [`Net::listener`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcceptQueue {
    /// Connections waiting to be accepted.
    pub queued: u32,
    /// The queue's limit (the `listen()` backlog).
    pub limit: u32,
    /// How long the oldest has waited, in ms (0 if none).
    pub oldest_ms: u32,
}

impl Net {
    /// Whether `addr` (host order) is one of the namespace's own
    /// addresses (a VIP this node holds now).
    pub fn is_local_addr(&self, addr: u32) -> bool {
        // SAFETY: by the type invariant the namespace is live; the lookup
        // takes no reference it keeps.
        unsafe { bindings::btcp_addr_is_local(self.ptr.as_ptr(), addr) != 0 }
    }

    /// The accept queue of the TCP listener a SYN to `addr`:`port` (host
    /// order) would reach, if one listens. The caller must hold no lock
    /// btcp's hooks take.
    pub fn listener(&self, addr: u32, port: u16) -> Option<AcceptQueue> {
        let mut info = bindings::btcp_listener_info::default();
        // SAFETY: by the type invariant the namespace is live; `info` is
        // writable; the glue takes no reference it keeps.
        let r = unsafe { bindings::btcp_listener(self.ptr.as_ptr(), addr, port, &mut info) };
        (r == 1).then_some(AcceptQueue {
            queued: info.queued,
            limit: info.limit,
            oldest_ms: info.oldest_ms,
        })
    }
}

/// Milliseconds on the monotonic clock.
pub fn now_ms() -> u64 {
    // SAFETY: reading the clock has no preconditions.
    unsafe { bindings::btcp_now_ms() }
}

/// Fills `buf` from the kernel's cryptographically secure generator.
pub fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is writable for `buf.len()` bytes.
    unsafe { bindings::btcp_random_bytes(buf.as_mut_ptr().cast(), buf.len()) }
}

/// Milliseconds on the wall clock (for counters that must keep growing
/// across module reloads).
pub fn real_ms() -> u64 {
    // SAFETY: reading the clock has no preconditions.
    unsafe { bindings::btcp_real_ms() }
}

/// Queues a namespace's work from a socket's event callback (see
/// `KernelSocket::set_callback`).
///
/// # Invariants
///
/// `ptr` points to a live namespace with btcp state for as long as this
/// value exists: it is only made by `Net::kicker`, and only installed on
/// sockets that the namespace's state owns and releases (removing the
/// callback, whose reference is the last) before the namespace exits, the
/// rule every kernel socket of btcp already follows (rust/socket.rs).
pub struct NetKick {
    ptr: NonNull<bindings::net>,
}

// SAFETY: kicking is allowed from any context on any CPU.
unsafe impl Send for NetKick {}
// SAFETY: as above; `&NetKick` only kicks.
unsafe impl Sync for NetKick {}

impl Net {
    /// A callback target that kicks this namespace's work, for the
    /// namespace's own sockets.
    pub fn kicker(&self) -> Result<kernel::sync::Arc<NetKick>> {
        Ok(kernel::sync::Arc::new(
            NetKick { ptr: self.ptr },
            kernel::alloc::flags::GFP_KERNEL,
        )?)
    }
}

impl super::socket::SocketEvents for NetKick {
    fn on_event(this: kernel::sync::ArcBorrow<'_, Self>) {
        // SAFETY: by the type invariant the namespace and its btcp state
        // are live while a socket can still call us.
        unsafe { bindings::btcp_pernet_kick(this.ptr.as_ptr()) }
    }
}
