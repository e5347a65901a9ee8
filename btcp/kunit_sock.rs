// SPDX-License-Identifier: GPL-2.0
//! KUnit cases for the control channel's kernel pieces: HMAC-SHA256 from the
//! crypto API (`kernel_ext::hmac`) and kernel TCP sockets
//! (`kernel_ext::socket`) over 127.0.0.1 in the initial namespace. Each
//! case returns 0, or the line (in this file) of the first failed check.
//! KUnit runs cases in process context, so they may sleep; every wait is
//! bounded.

use core::ffi::c_int;
use core::sync::atomic::{AtomicU32, Ordering};

use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};
use kernel::workqueue::{self, impl_has_work, new_work, Work, WorkItem};

use crate::btcp_core::wire::{self, Heartbeat, ListenerBytes, Message, WireError};
use crate::kernel_ext::hmac::{HmacSha256, MAC_LEN};
use crate::kernel_ext::socket::{self, KernelSocket, Recv, Shutdown, SocketEvents, State};

/// Fails the case at the current line unless `$cond` holds.
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            return line!() as c_int;
        }
    };
}

/// Unwraps `Some`/`Ok`, or fails the case at the current line.
macro_rules! take {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return line!() as c_int,
        }
    };
}

const LOOPBACK: u32 = 0x7f00_0001;
/// Fixed, high ports, outside the ephemeral range (32768-60999).
const PORT_ROUNDTRIP: u16 = 61_731;
const PORT_REFUSED: u16 = 61_732;

/// How often and how long the cases poll: `msleep(1)` sleeps two jiffies
/// (8 ms at the lab's HZ=250), so about 5 s in all, at most.
const POLL_MS: u32 = 1;
const POLL_ROUNDS: u32 = 625;

/// Calls `f` until it gives `Some`, sleeping between tries, for a few
/// seconds at most.
fn poll<R>(mut f: impl FnMut() -> Option<R>) -> Option<R> {
    for _ in 0..POLL_ROUNDS {
        if let Some(r) = f() {
            return Some(r);
        }
        socket::msleep(POLL_MS);
    }
    None
}

fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn from_hex(s: &str) -> Option<[u8; MAC_LEN]> {
    let mut out = [0u8; MAC_LEN];
    let b = s.as_bytes();
    if b.len() != 2 * MAC_LEN {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = (hex_nibble(*b.get(2 * i)?)? << 4) | hex_nibble(*b.get(2 * i + 1)?)?;
    }
    Some(out)
}

/// HMAC-SHA256 against RFC 4231 test cases 1, 2 and 6 (a key longer than a
/// block), verification in constant time, and the core's `Mac` trait.
#[no_mangle]
pub(crate) extern "C" fn btcp_kunit_hmac_rfc4231() -> c_int {
    let long_key = [0xaau8; 131];
    let cases: [(&[u8], &[u8], &str); 3] = [
        (
            &[0x0b; 20],
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            &long_key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
    ];
    for (key, data, want) in cases {
        let want = take!(from_hex(want));
        let mac = take!(HmacSha256::new(key).ok());
        check!(mac.tag(data).ok() == Some(want));
        // The same keyed transform gives the same tag again.
        check!(mac.tag(data).ok() == Some(want));
        check!(mac.verify_tag(data, &want).is_ok());
        let mut bad = want;
        if let Some(b) = bad.get_mut(31) {
            *b ^= 1;
        }
        let ebadmsg = Error::from_errno(-(kernel::bindings::EBADMSG as i32));
        check!(mac.verify_tag(data, &bad) == Err(ebadmsg));
        check!(mac.verify_tag(b"other data", &want) == Err(ebadmsg));
    }
    // No authentication without a key.
    check!(HmacSha256::new(&[]).is_err());

    // Sealing and checking a control frame through the core's codec.
    let mac = take!(HmacSha256::new(b"cluster key").ok());
    let other = take!(HmacSha256::new(b"cluster kez").ok());
    let msg = Message::Heartbeat(Heartbeat {
        node_id: 3,
        active_flows: 7,
        load: 420,
        timestamp_ms: 1_700_000_000_000,
        listeners: ListenerBytes::NONE,
    });
    let mut buf = [0u8; 256];
    let n = take!(msg.encode_sealed(3, 4, 9, &mac, &mut buf).ok());
    let frame = take!(buf.get(..n));
    let (decoded, used) = take!(wire::decode_verified(frame, &mac).ok());
    check!(used == n && decoded.message == msg && decoded.header.seq == 9);
    check!(wire::decode_verified(frame, &other).err() == Some(WireError::BadMac));
    if let Some(b) = buf.get_mut(n / 2) {
        *b ^= 0x40;
    }
    check!(wire::decode_verified(take!(buf.get(..n)), &mac).err() == Some(WireError::BadMac));
    0
}

/// Event callbacks dropped so far (by `Drop` of the callback types), to
/// check that sockets give back their references.
static DROPPED: AtomicU32 = AtomicU32::new(0);

/// Counts the events of one socket.
struct EventCount {
    events: AtomicU32,
}

impl EventCount {
    fn new() -> Option<Arc<Self>> {
        Arc::new(
            EventCount {
                events: AtomicU32::new(0),
            },
            GFP_KERNEL,
        )
        .ok()
    }

    fn count(&self) -> u32 {
        self.events.load(Ordering::Relaxed)
    }
}

impl SocketEvents for EventCount {
    fn on_event(this: ArcBorrow<'_, Self>) {
        this.events.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for EventCount {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the control channel does with an event: wake a work item from
/// softirq, which then runs in process context.
#[pin_data(PinnedDrop)]
struct Waker {
    events: AtomicU32,
    runs: AtomicU32,
    #[pin]
    work: Work<Waker>,
}

impl_has_work! {
    impl HasWork<Self> for Waker { self.work }
}

impl Waker {
    fn new() -> Option<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Waker {
                events: AtomicU32::new(0),
                runs: AtomicU32::new(0),
                work <- new_work!("btcp_kunit::Waker::work"),
            }),
            GFP_KERNEL,
        )
        .ok()
    }
}

impl SocketEvents for Waker {
    fn on_event(this: ArcBorrow<'_, Self>) {
        this.events.fetch_add(1, Ordering::Relaxed);
        // Already queued: the returned clone is dropped here, never the last
        // reference (the socket holds one).
        let _ = workqueue::system().enqueue(Arc::from(this));
    }
}

impl WorkItem for Waker {
    type Pointer = Arc<Waker>;

    fn run(this: Arc<Waker>) {
        this.runs.fetch_add(1, Ordering::Relaxed);
    }
}

#[pinned_drop]
impl PinnedDrop for Waker {
    fn drop(self: Pin<&mut Self>) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Byte `i` of the test stream: not periodic in any small power of two.
fn pattern(i: usize) -> u8 {
    (i ^ (i >> 8) ^ (i >> 13).wrapping_mul(7)) as u8
}

/// Sends `total` pattern bytes from `tx` to `rx`, receiving as it goes (the
/// socket buffers hold less than that), and checks every byte. 0 or the
/// failing line.
fn transfer(tx: &KernelSocket, rx: &KernelSocket, total: usize) -> c_int {
    let mut chunk = [0u8; 1024];
    let mut buf = [0u8; 1500];
    let (mut sent, mut got) = (0usize, 0usize);
    let mut idle = 0u32;
    while got < total {
        let mut progress = false;
        if sent < total {
            let n = chunk.len().min(total - sent);
            let part = take!(chunk.get_mut(..n));
            for (k, b) in part.iter_mut().enumerate() {
                *b = pattern(sent + k);
            }
            let done = take!(tx.send(part).ok());
            check!(done <= n);
            sent += done;
            progress |= done > 0;
        }
        match rx.recv(&mut buf) {
            Ok(Recv::Data(n)) => {
                check!(n > 0 && got + n <= sent);
                for (k, b) in take!(buf.get(..n)).iter().enumerate() {
                    check!(*b == pattern(got + k));
                }
                got += n;
                progress = true;
            }
            Ok(Recv::WouldBlock) => {}
            Ok(Recv::Closed) | Err(_) => return line!() as c_int,
        }
        if progress {
            idle = 0;
        } else {
            idle += 1;
            check!(idle < POLL_ROUNDS);
            socket::msleep(POLL_MS);
        }
    }
    check!(sent == total && got == total);
    0
}

/// Listen, connect, accept, a 64 KiB transfer checked byte for byte, the
/// reply, half-close and close seen by the peer, event callbacks (one of
/// them waking a work item), and the callbacks' references given back.
#[no_mangle]
pub(crate) extern "C" fn btcp_kunit_sock_roundtrip() -> c_int {
    let dropped_before = DROPPED.load(Ordering::Relaxed);
    let net = take!(socket::init_net());
    let on_listener = take!(EventCount::new());
    let on_client = take!(EventCount::new());
    let waker = take!(Waker::new());

    let mut listener = take!(KernelSocket::listen(&net, LOOPBACK, PORT_ROUNDTRIP).ok());
    check!(listener.state() == State::Listening);
    check!(listener.local().ok() == Some((LOOPBACK, PORT_ROUNDTRIP)));
    check!(listener.error().is_none());
    listener.set_callback(on_listener.clone());
    // Nothing to accept yet.
    check!(matches!(listener.accept(), Ok(None)));
    // A second listener on the same address and port is refused.
    check!(KernelSocket::listen(&net, LOOPBACK, PORT_ROUNDTRIP).is_err());
    // What a back-end's HEARTBEAT says of it (`Net::listener`): listening,
    // its queue empty; nothing listens on the refused case's port.
    let q = take!(net.listener(LOOPBACK, PORT_ROUNDTRIP));
    check!(q.queued == 0 && q.limit > 0 && q.oldest_ms == 0);
    check!(net.listener(LOOPBACK, PORT_REFUSED).is_none());

    let mut client = take!(KernelSocket::connect_with_callback(
        &net,
        LOOPBACK,
        PORT_ROUNDTRIP,
        on_client.clone()
    )
    .ok());
    client.set_nodelay();
    // The connection waits in the accept queue until it is accepted.
    check!(poll(|| net
        .listener(LOOPBACK, PORT_ROUNDTRIP)
        .filter(|q| q.queued == 1))
    .is_some());
    let mut server = take!(poll(|| listener.accept().ok().flatten()));
    check!(net.listener(LOOPBACK, PORT_ROUNDTRIP).map(|q| q.queued) == Some(0));
    // The listener was told about the connection to accept.
    check!(on_listener.count() >= 1);
    check!(poll(|| client.is_connected().then_some(())).is_some());
    // The client was told that the handshake completed.
    check!(on_client.count() >= 1);
    check!(client.error().is_none() && server.error().is_none());
    check!(server.state() == State::Connected);

    let (client_addr, client_port) = take!(client.local().ok());
    check!(client_addr == LOOPBACK && client_port != 0);
    check!(server.peer().ok() == Some((client_addr, client_port)));
    check!(client.peer().ok() == Some((LOOPBACK, PORT_ROUNDTRIP)));
    check!(listener.peer().is_err());

    server.set_callback(waker.clone());
    let mut buf = [0u8; 64];
    check!(matches!(server.recv(&mut buf), Ok(Recv::WouldBlock)));
    check!(matches!(server.recv(&mut []), Ok(Recv::Data(0))));
    check!(client.send(&[]).ok() == Some(0));

    let line = transfer(&client, &server, 64 * 1024);
    if line != 0 {
        return line;
    }
    // Data arriving fired the server's callback, whose work item ran.
    check!(waker.events.load(Ordering::Relaxed) >= 1);
    check!(poll(|| (waker.runs.load(Ordering::Relaxed) >= 1).then_some(())).is_some());

    // Send until the buffers are full (`Ok(0)`), then drain the receiver:
    // the sender's callback is told that space opened up.
    let mut chunk = [0u8; 1024];
    let mut queued = 0usize;
    loop {
        for (k, b) in chunk.iter_mut().enumerate() {
            *b = pattern(queued + k);
        }
        let n = take!(client.send(&chunk).ok());
        if n == 0 {
            break;
        }
        queued += n;
        check!(queued < 64 << 20);
    }
    check!(queued > 0);
    let client_events = on_client.count();
    let mut got = 0usize;
    check!(
        poll(|| {
            while let Ok(Recv::Data(n)) = server.recv(&mut chunk) {
                let ok = chunk
                    .get(..n)
                    .is_some_and(|b| b.iter().enumerate().all(|(k, x)| *x == pattern(got + k)));
                if !ok {
                    return Some(false);
                }
                got += n;
            }
            (got == queued).then_some(true)
        }) == Some(true)
    );
    check!(poll(|| (on_client.count() > client_events).then_some(())).is_some());
    check!(client.send(b"x").ok() == Some(1));
    check!(poll(|| matches!(server.recv(&mut buf), Ok(Recv::Data(1))).then_some(())).is_some());
    check!(buf.first() == Some(&b'x'));

    // The other way round, a small reply.
    check!(server.send(b"pong").ok() == Some(4));
    let n = take!(poll(|| match client.recv(&mut buf) {
        Ok(Recv::Data(n)) => Some(n),
        _ => None,
    }));
    check!(buf.get(..n) == Some(&b"pong"[..]));

    // Half-close: the server reads the end of the stream, can still send.
    let server_events = waker.events.load(Ordering::Relaxed);
    check!(client.shutdown(Shutdown::Write).is_ok());
    check!(client.state() == State::Closing);
    check!(client.send(b"x").is_err());
    check!(poll(|| matches!(server.recv(&mut buf), Ok(Recv::Closed)).then_some(())).is_some());
    check!(waker.events.load(Ordering::Relaxed) > server_events);
    check!(server.is_connected()); // CLOSE_WAIT: we may still send
    check!(server.send(b"bye").ok() == Some(3));
    let n = take!(poll(|| match client.recv(&mut buf) {
        Ok(Recv::Data(n)) => Some(n),
        _ => None,
    }));
    check!(buf.get(..n) == Some(&b"bye"[..]));

    // Full close: the client sees the end of the stream, with its callback.
    let client_events = on_client.count();
    drop(server);
    check!(poll(|| matches!(client.recv(&mut buf), Ok(Recv::Closed)).then_some(())).is_some());
    check!(on_client.count() > client_events);

    // Replacing a callback gives back the old one's reference at once.
    let dropped_now = DROPPED.load(Ordering::Relaxed);
    client.set_callback(take!(EventCount::new()));
    check!(DROPPED.load(Ordering::Relaxed) == dropped_now);
    drop(on_client);
    check!(DROPPED.load(Ordering::Relaxed) == dropped_now + 1);
    client.clear_callback();
    check!(DROPPED.load(Ordering::Relaxed) == dropped_now + 2);

    drop(client);
    listener.abort();
    drop(on_listener);
    // The waker goes once its work item, if still queued, has run.
    drop(waker);
    check!(
        poll(|| (DROPPED.load(Ordering::Relaxed) == dropped_before + 4).then_some(())).is_some()
    );
    0
}

/// A connection to a port nobody listens on fails with `ECONNREFUSED`,
/// reported by `error()` and announced by the callback installed with the
/// connect; sending on it and accepting from it fail.
#[no_mangle]
pub(crate) extern "C" fn btcp_kunit_sock_refused() -> c_int {
    let dropped_before = DROPPED.load(Ordering::Relaxed);
    let net = take!(socket::init_net());
    let events = take!(EventCount::new());
    let refused = Error::from_errno(-(kernel::bindings::ECONNREFUSED as i32));

    let sock =
        take!(
            KernelSocket::connect_with_callback(&net, LOOPBACK, PORT_REFUSED, events.clone()).ok()
        );
    check!(take!(poll(|| sock.error())) == refused);
    check!(events.count() >= 1);
    check!(sock.state() == State::Closed);
    check!(!sock.is_connected());
    check!(sock.send(b"x").is_err());
    check!(sock.accept().is_err());
    check!(sock.peer().is_err());

    // Without a callback, the same failure is seen by polling.
    let plain = take!(KernelSocket::connect(&net, LOOPBACK, PORT_REFUSED).ok());
    check!(take!(poll(|| plain.error())) == refused);

    drop(sock);
    drop(plain);
    drop(events);
    check!(DROPPED.load(Ordering::Relaxed) == dropped_before + 1);
    0
}
