//! Kernel TCP sockets for the control channel (rust/glue_sock.c).
//!
//! # Context
//!
//! Everything here may sleep: create, use and drop sockets only in process
//! context (btcp's workqueue, module or pernet init/exit), never in a hook or
//! a timer. Only [`SocketEvents::on_event`] runs in atomic context, and its
//! job is to queue the work that then does the I/O.
//!
//! # Network namespaces
//!
//! Kernel sockets hold no reference on their namespace (nor do the sockets
//! accepted from them; 6.12 only takes a "passive" one, which keeps the
//! `struct net` allocated while the namespace is dismantled), so they do
//! not keep it alive: their owner, the per-namespace state, must drop every
//! [`KernelSocket`] of a namespace no later than that namespace's pernet
//! exit (cancel the work that uses them first), and there with
//! [`KernelSocket::abort`]. A graceful close (plain drop) can leave an
//! orphaned socket in FIN_WAIT1, CLOSING or LAST_ACK with retransmit timers
//! for minutes if the peer is gone; 6.12 purges only TIME_WAIT sockets of a
//! dead namespace, so such an orphan's timers would run in a dismantled
//! one. btcp's pernet exit runs before TCP's (it registered later).
//!
//! # Events
//!
//! [`KernelSocket::set_callback`] attaches an `Arc<T: SocketEvents>` that is
//! told, in atomic context (usually softirq), whenever data arrived (or a
//! connection is ready to accept), send space opened up after a send came
//! back short, or the TCP state changed (handshake done or failed, peer
//! closed, reset). Events are
//! edge-triggered and not replayed: after installing the callback, and
//! after every wake-up, the worker drains the socket until `accept`, `recv`
//! or `send` say "nothing now".
//!
//! Addresses and ports are in host byte order (`0x7f00_0001` is 127.0.0.1).

use super::bindings;
use super::net::Net;
use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::error::{code::EAGAIN, code::EINVAL, to_result, Error, Result};
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::ForeignOwnable;

/// Backlog of listening sockets (further capped by `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 64;

/// Receives a socket's events; see [`KernelSocket::set_callback`].
pub trait SocketEvents: Send + Sync + 'static {
    /// Called after the socket's own `sk_data_ready`, `sk_write_space` or
    /// `sk_state_change`: data or a connection to accept arrived, send space
    /// opened up, or the TCP state changed.
    ///
    /// Runs in atomic context (softirq, or process context with bottom
    /// halves disabled), on any CPU, concurrently with the socket's owner,
    /// with the socket's `sk_callback_lock` held for reading. It must not
    /// sleep and must not touch the socket: queue work instead, e.g.
    /// `workqueue::system().enqueue(Arc::from(this))`. A clone of `this`
    /// that is queued or dropped before returning is never the last
    /// reference (the socket holds one until its callback is removed), so
    /// `Self` is never dropped here.
    fn on_event(this: ArcBorrow<'_, Self>);
}

/// How [`KernelSocket::shutdown`] closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// No more receiving.
    Read,
    /// No more sending: a FIN goes out after the queued data.
    Write,
    /// Both.
    Both,
}

/// What [`KernelSocket::state`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The handshake is under way.
    Connecting,
    /// Established, and we may still send (the peer may have closed its
    /// side already; `recv` then reports [`Recv::Closed`] once drained).
    Connected,
    /// A listening socket.
    Listening,
    /// We shut down sending; the connection is winding down.
    Closing,
    /// Closed: the connection failed, was reset or is over.
    Closed,
}

/// The outcome of a successful [`KernelSocket::recv`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recv {
    /// This many bytes were received into the start of the buffer (at least
    /// one, unless the buffer was empty).
    Data(usize),
    /// Nothing to read now; the event callback fires when there is.
    WouldBlock,
    /// The peer closed its side and everything it sent has been read.
    Closed,
}

/// The event callback installed on a socket, owned by the socket.
///
/// # Invariants
///
/// `ctx` came from `Arc::<T>::into_foreign` for the `T` that `drop_ctx`
/// was instantiated with, and holds one reference count that this value
/// owns.
struct Installed {
    ctx: *const c_void,
    drop_ctx: unsafe fn(*const c_void),
}

/// An owned kernel TCP socket (listening or connected), released on drop.
///
/// # Invariants
///
/// `ptr` points to a live `struct btcp_sock` created by the glue, owned by
/// this value alone and released exactly once, in `Drop`. If `callback` is
/// `Some`, the glue calls `event_trampoline::<T>` with its `ctx` (for the
/// `T` of `callback`), and with nothing else; if `None`, no event callback
/// is installed. The socket's namespace outlives it (see the module docs).
pub struct KernelSocket {
    ptr: NonNull<bindings::btcp_sock>,
    callback: Option<Installed>,
}

// SAFETY: a kernel socket may be used and released from any process-context
// thread; the kernel serialises operations with the socket lock. The
// installed context is an `Arc<T>` with `T: Send + Sync`.
unsafe impl Send for KernelSocket {}
// SAFETY: every `&self` method is a kernel socket call that takes the
// socket lock or reads a single field locklessly (as `poll` does).
unsafe impl Sync for KernelSocket {}

/// The C side calls this in atomic context with the `ctx` installed by
/// `set_callback::<T>`.
///
/// # Safety
///
/// `ctx` must come from `Arc::<T>::into_foreign` and its reference must be
/// held by someone for the duration of the call.
unsafe extern "C" fn event_trampoline<T: SocketEvents>(ctx: *mut c_void) {
    // SAFETY: the glue only calls us with the installed `ctx`, under
    // `sk_callback_lock` held for reading; the socket removes the callback
    // under the write lock (so after this call returns) before it drops the
    // reference `ctx` holds, so the `Arc<T>` outlives the borrow.
    let this = unsafe { <Arc<T> as ForeignOwnable>::borrow(ctx.cast_const()) };
    T::on_event(this);
}

/// Drops the reference that an installed `ctx` holds.
///
/// # Safety
///
/// `ctx` must come from `Arc::<T>::into_foreign`, and no one may use it
/// afterwards.
unsafe fn drop_ctx<T: SocketEvents>(ctx: *const c_void) {
    // SAFETY: guaranteed by the caller: we take back the reference that
    // `into_foreign` handed out.
    drop(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(ctx) });
}

/// The initial network namespace, for tests: unlike any other it is never
/// torn down, so sockets in it may live as long as the module.
/// (`None` cannot happen in practice: the pointer is never null.)
pub fn init_net() -> Option<Net> {
    // SAFETY: `btcp_init_net` returns `&init_net`, which is valid for the
    // whole life of the kernel, so the `Net` cannot outlive it.
    unsafe { Net::from_raw(bindings::btcp_init_net()) }
}

/// Sleeps for at least `ms` milliseconds (`msleep`); process context only.
pub fn msleep(ms: u32) {
    // SAFETY: `msleep` has no preconditions beyond process context, which
    // the caller provides (documented).
    unsafe { bindings::btcp_msleep(ms) }
}

/// Turns the glue's "0 and `*out` set, or -errno" into an owned socket.
fn from_out(ret: i32, out: *mut bindings::btcp_sock) -> Result<KernelSocket> {
    to_result(ret)?;
    let ptr = NonNull::new(out).ok_or(EINVAL)?;
    // INVARIANT: the glue returned 0, so `out` is a new socket that only we
    // hold; no callback is installed on it, unless the caller installed one
    // in the glue call, which then stores it in `callback` right away.
    Ok(KernelSocket {
        ptr,
        callback: None,
    })
}

impl KernelSocket {
    /// A TCP socket in `net`, bound to `addr:port` with `SO_REUSEADDR` and
    /// listening. Port 0 picks a free one (see [`KernelSocket::local`]).
    pub fn listen(net: &Net, addr: u32, port: u16) -> Result<KernelSocket> {
        let mut out = core::ptr::null_mut();
        // SAFETY: the namespace is live (`Net` invariant); `out` is
        // writable. The socket must be dropped before the namespace exits,
        // which the module docs make the owner's duty.
        let ret = unsafe {
            bindings::btcp_sock_listen(net.as_ptr(), addr, port, LISTEN_BACKLOG, &mut out)
        };
        from_out(ret, out)
    }

    /// A TCP socket in `net`, connecting to `addr:port` without waiting.
    /// `Ok` means the SYN is on its way (or the connection is already up):
    /// watch [`KernelSocket::state`] and [`KernelSocket::error`], waking up
    /// on the event callback's state changes.
    ///
    /// On loopback the handshake (or the RST refusing it) is usually over
    /// before this returns, so a callback installed afterwards never hears
    /// of it: use [`KernelSocket::connect_with_callback`] to be told.
    pub fn connect(net: &Net, addr: u32, port: u16) -> Result<KernelSocket> {
        let mut out = core::ptr::null_mut();
        // SAFETY: as in `listen`; no event callback.
        let ret = unsafe {
            bindings::btcp_sock_connect(
                net.as_ptr(),
                addr,
                port,
                None,
                core::ptr::null_mut(),
                &mut out,
            )
        };
        from_out(ret, out)
    }

    /// As [`KernelSocket::connect`], with `target` installed as the event
    /// callback (see [`KernelSocket::set_callback`]) before the SYN goes
    /// out, so the state change that ends the handshake, or the refusal,
    /// reaches it. The callback may already run before this returns.
    pub fn connect_with_callback<T: SocketEvents>(
        net: &Net,
        addr: u32,
        port: u16,
        target: Arc<T>,
    ) -> Result<KernelSocket> {
        let ctx = target.into_foreign();
        // INVARIANT: `ctx` came from `Arc::<T>::into_foreign` and holds one
        // reference, owned by `installed` from now on.
        let installed = Installed {
            ctx,
            drop_ctx: drop_ctx::<T>,
        };
        let mut out = core::ptr::null_mut();
        // SAFETY: as in `listen`; `ctx` holds a reference to a `T`, which
        // `event_trampoline::<T>` expects, kept until the callback is
        // removed: by the socket's owner, or by the glue before it fails.
        let ret = unsafe {
            bindings::btcp_sock_connect(
                net.as_ptr(),
                addr,
                port,
                Some(event_trampoline::<T>),
                ctx.cast_mut(),
                &mut out,
            )
        };
        match from_out(ret, out) {
            Ok(mut sock) => {
                sock.callback = Some(installed);
                Ok(sock)
            }
            Err(e) => {
                // The glue released the socket, callback first.
                drop_installed(Some(installed));
                Err(e)
            }
        }
    }

    fn as_ptr(&self) -> *mut bindings::btcp_sock {
        self.ptr.as_ptr()
    }

    /// Takes one established connection off a listening socket's queue,
    /// without waiting: `Ok(None)` when there is none now (the listener's
    /// event callback fires when one arrives). The new socket has no event
    /// callback; data may already be waiting on it.
    pub fn accept(&self) -> Result<Option<KernelSocket>> {
        let mut out = core::ptr::null_mut();
        // SAFETY: by the type invariant the socket is live; `out` is
        // writable.
        let ret = unsafe { bindings::btcp_sock_accept(self.as_ptr(), &mut out) };
        match from_out(ret, out) {
            Ok(sock) => Ok(Some(sock)),
            Err(e) if e == EAGAIN => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The socket's TCP state, summarised.
    pub fn state(&self) -> State {
        // SAFETY: by the type invariant the socket is live.
        let state = unsafe { bindings::btcp_sock_state(self.as_ptr()) };
        match state {
            bindings::btcp_sock_state_BTCP_SOCK_CONNECTING => State::Connecting,
            bindings::btcp_sock_state_BTCP_SOCK_CONNECTED => State::Connected,
            bindings::btcp_sock_state_BTCP_SOCK_LISTENING => State::Listening,
            bindings::btcp_sock_state_BTCP_SOCK_CLOSING => State::Closing,
            _ => State::Closed,
        }
    }

    /// Whether the handshake is done and we may still send.
    pub fn is_connected(&self) -> bool {
        self.state() == State::Connected
    }

    /// Whether the connection is dead: the pending socket error (e.g.
    /// `ECONNREFUSED` after a failed connect, `ECONNRESET`, `ETIMEDOUT`),
    /// without clearing it, or `ENOTCONN` if the socket is closed with no
    /// error left. `None` while connecting, connected, closing or listening.
    pub fn error(&self) -> Option<Error> {
        // SAFETY: by the type invariant the socket is live.
        let err = unsafe { bindings::btcp_sock_error(self.as_ptr()) };
        if err < 0 {
            Some(Error::from_errno(err))
        } else if self.state() == State::Closed {
            Some(Error::from_errno(-(kernel::bindings::ENOTCONN as i32)))
        } else {
            None
        }
    }

    /// Queues bytes from the start of `data` for sending, without waiting.
    ///
    /// Returns how many were queued, possibly fewer than `data.len()`;
    /// `Ok(0)` (for non-empty `data`) means none fit now: the send buffer
    /// is full, or the handshake is not done yet. The event callback fires
    /// when space opens up (or the state changes); send the rest then.
    /// Errors are final for the connection (`EPIPE` after shutdown or
    /// close, `ECONNRESET`, ...).
    pub fn send(&self, data: &[u8]) -> Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // SAFETY: by the type invariant the socket is live; `data` is
        // readable for its length and only copied.
        let ret =
            unsafe { bindings::btcp_sock_send(self.as_ptr(), data.as_ptr().cast(), data.len()) };
        match usize::try_from(ret) {
            Ok(n) => Ok(n),
            Err(_) if Error::from_errno(ret) == EAGAIN => Ok(0),
            Err(_) => Err(Error::from_errno(ret)),
        }
    }

    /// Receives into `buf` without waiting. An empty `buf` gives
    /// `Recv::Data(0)` without looking at the socket. Errors are final for
    /// the connection (`ECONNRESET`, ...).
    pub fn recv(&self, buf: &mut [u8]) -> Result<Recv> {
        if buf.is_empty() {
            return Ok(Recv::Data(0));
        }
        // SAFETY: by the type invariant the socket is live; `buf` is
        // writable for its length, and the kernel writes at most that much.
        let ret =
            unsafe { bindings::btcp_sock_recv(self.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        match usize::try_from(ret) {
            Ok(0) => Ok(Recv::Closed),
            Ok(n) => Ok(Recv::Data(n)),
            Err(_) if Error::from_errno(ret) == EAGAIN => Ok(Recv::WouldBlock),
            Err(_) => Err(Error::from_errno(ret)),
        }
    }

    /// Sets `TCP_NODELAY`: small frames go out at once.
    pub fn set_nodelay(&self) {
        // SAFETY: by the type invariant the socket is live.
        unsafe { bindings::btcp_sock_set_nodelay(self.as_ptr()) }
    }

    /// Sets `TCP_USER_TIMEOUT`: once sent data (or the SYN) has gone
    /// unacknowledged for `ms`, the kernel aborts the connection, which then
    /// reads as closed with `ETIMEDOUT`.
    pub fn set_user_timeout(&self, ms: u32) {
        // SAFETY: by the type invariant the socket is live.
        unsafe { bindings::btcp_sock_set_user_timeout(self.as_ptr(), ms) }
    }

    /// Shuts down one or both directions (`shutdown(2)`).
    pub fn shutdown(&self, how: Shutdown) -> Result {
        let how = match how {
            Shutdown::Read => 0,
            Shutdown::Write => 1,
            Shutdown::Both => 2,
        };
        // SAFETY: by the type invariant the socket is live.
        to_result(unsafe { bindings::btcp_sock_shutdown(self.as_ptr(), how) })
    }

    fn name(&self, peer: bool) -> Result<(u32, u16)> {
        let (mut addr, mut port) = (0u32, 0u16);
        // SAFETY: by the type invariant the socket is live; `addr` and
        // `port` are writable.
        to_result(unsafe {
            bindings::btcp_sock_name(self.as_ptr(), i32::from(peer), &mut addr, &mut port)
        })?;
        Ok((addr, port))
    }

    /// The peer's address and port (`ENOTCONN` if not connected).
    pub fn peer(&self) -> Result<(u32, u16)> {
        self.name(true)
    }

    /// Our own address and port.
    pub fn local(&self) -> Result<(u32, u16)> {
        self.name(false)
    }

    /// Installs `target` as the socket's event callback, replacing (and
    /// dropping) any previous one: from now on [`SocketEvents::on_event`]
    /// is called with it on every event. Events that happened before are
    /// not replayed: check the socket once afterwards (e.g. queue the work
    /// right away).
    pub fn set_callback<T: SocketEvents>(&mut self, target: Arc<T>) {
        let ctx = target.into_foreign();
        // SAFETY: by the type invariant the socket is live. `ctx` holds a
        // reference to a `T`, which `event_trampoline::<T>` expects, and we
        // keep it until the callback is removed.
        unsafe {
            bindings::btcp_sock_set_callback(
                self.as_ptr(),
                Some(event_trampoline::<T>),
                ctx.cast_mut(),
            )
        };
        // The glue no longer calls the previous callback (if any), so its
        // reference may go.
        // INVARIANT: `ctx` is installed with the trampoline for `T`, and
        // came from `Arc::<T>::into_foreign`.
        let old = self.callback.replace(Installed {
            ctx,
            drop_ctx: drop_ctx::<T>,
        });
        drop_installed(old);
    }

    /// Removes the event callback, dropping its reference. Once this
    /// returns, `on_event` is neither running nor called again for this
    /// socket.
    pub fn clear_callback(&mut self) {
        // SAFETY: by the type invariant the socket is live; no callback is
        // what `None` means.
        unsafe { bindings::btcp_sock_set_callback(self.as_ptr(), None, core::ptr::null_mut()) };
        drop_installed(self.callback.take());
    }

    /// Closes abortively: `SO_LINGER` with timeout 0, so an RST goes out and
    /// nothing (no FIN_WAIT or TIME_WAIT socket, no timer) outlives this
    /// call. The way to close in a namespace's pernet exit.
    pub fn abort(self) {
        // SAFETY: by the type invariant the socket is live; `self` is
        // dropped (released) right after.
        unsafe { bindings::btcp_sock_set_abortive(self.as_ptr()) };
    }
}

/// Drops the reference an event callback held, once the glue no longer
/// calls it.
fn drop_installed(installed: Option<Installed>) {
    if let Some(installed) = installed {
        // SAFETY: by the `Installed` invariant `ctx` holds a reference of
        // the type `drop_ctx` was instantiated with, which we own; the
        // callers removed it from the glue first, so no one uses it again.
        unsafe { (installed.drop_ctx)(installed.ctx) };
    }
}

/// Dropping closes gracefully, like `close(2)`: the event callback is
/// removed first, then a FIN goes out after the queued data (an RST if
/// received data was left unread), and TCP finishes the close on its own.
impl Drop for KernelSocket {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own the socket and release it
        // exactly once, here; the glue removes the event callback first.
        unsafe { bindings::btcp_sock_release(self.as_ptr()) };
        drop_installed(self.callback.take());
    }
}
