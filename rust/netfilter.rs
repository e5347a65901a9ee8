//! IPv4 netfilter hooks registered in every network namespace, existing and
//! future, each namespace with its own state (`pernet_operations`).

use super::bindings;
use super::net::Net;
use super::seq_file::SeqFile;
use super::skb::SkBuff;
use core::ffi::{c_int, c_uint, c_void};
use core::marker::PhantomData;
use kernel::prelude::*;

/// The IPv4 hook points btcp registers at (rust/btcp_glue.c sets their
/// priorities).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPoint {
    /// Packets arriving on an interface, before routing.
    PreRouting,
    /// Packets addressed to this namespace, after routing.
    LocalIn,
    /// Packets sent by this namespace's own sockets.
    LocalOut,
    /// Every packet leaving this namespace, after routing.
    PostRouting,
}

impl HookPoint {
    /// All hook points, in the order of `index()`.
    pub const ALL: [HookPoint; 4] = [
        HookPoint::PreRouting,
        HookPoint::LocalIn,
        HookPoint::LocalOut,
        HookPoint::PostRouting,
    ];

    fn from_raw(hooknum: c_uint) -> Option<Self> {
        match hooknum {
            bindings::nf_inet_hooks_NF_INET_PRE_ROUTING => Some(HookPoint::PreRouting),
            bindings::nf_inet_hooks_NF_INET_LOCAL_IN => Some(HookPoint::LocalIn),
            bindings::nf_inet_hooks_NF_INET_LOCAL_OUT => Some(HookPoint::LocalOut),
            bindings::nf_inet_hooks_NF_INET_POST_ROUTING => Some(HookPoint::PostRouting),
            _ => None,
        }
    }

    /// A dense index, 0..4, for per-hook arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in /proc output.
    pub fn name(self) -> &'static str {
        match self {
            HookPoint::PreRouting => "prerouting",
            HookPoint::LocalIn => "local_in",
            HookPoint::LocalOut => "local_out",
            HookPoint::PostRouting => "postrouting",
        }
    }
}

/// What a hook tells netfilter to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let the packet continue.
    Accept,
    /// Free the packet.
    Drop,
    /// Send the packet on towards its destination, which the hook
    /// rewrote: it is routed again as if sent by this node (the glue
    /// steals it from netfilter; see `BTCP_VERDICT_OUTPUT`).
    Output,
    /// As `Output`, inside an IPIP header from this address (host order;
    /// see `BTCP_VERDICT_TUNNEL`).
    Tunnel(u32),
}

impl Verdict {
    fn to_raw(self) -> c_uint {
        match self {
            Verdict::Accept => bindings::NF_ACCEPT,
            Verdict::Drop => bindings::NF_DROP,
            Verdict::Output => bindings::BTCP_VERDICT_OUTPUT,
            Verdict::Tunnel(_) => bindings::BTCP_VERDICT_TUNNEL,
        }
    }
}

/// The files of /proc/net/btcp/ in each namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcFile {
    /// `counters`: read-only.
    Counters,
    /// `flows`: read-only.
    Flows,
    /// `config`: read and written (see `PernetState::config`).
    Config,
    /// Not a file: the netlink attributes of `METRICS_GET`
    /// (rust/btcp-core/src/metrics.rs), binary.
    Metrics,
}

impl ProcFile {
    fn from_raw(file: c_uint) -> Option<Self> {
        match file {
            bindings::btcp_proc_file_BTCP_PROC_COUNTERS => Some(ProcFile::Counters),
            bindings::btcp_proc_file_BTCP_PROC_FLOWS => Some(ProcFile::Flows),
            bindings::btcp_proc_file_BTCP_PROC_CONFIG => Some(ProcFile::Config),
            bindings::btcp_proc_file_BTCP_PROC_METRICS => Some(ProcFile::Metrics),
            _ => None,
        }
    }
}

/// The state btcp keeps in each network namespace.
///
/// `hook` runs in softirq or process context, concurrently on every CPU,
/// so shared mutable state needs atomics or a `_bh` lock.
pub trait PernetState: Send + Sync + Sized {
    /// Initialises, in place, the state of the namespace `net`, which is
    /// being set up (in place, because the state holds pinned locks).
    fn new(net: Net) -> impl PinInit<Self, Error>;
    /// Sees one IPv4 packet at `hook`.
    fn hook(&self, hook: HookPoint, skb: &SkBuff) -> Verdict;
    /// Process-context work, on btcp's workqueue: run when kicked
    /// (`Net::kick`, `tick` false) and every `TICK_MS` milliseconds (`tick`
    /// true). Never concurrently with itself for one namespace.
    fn work(&self, _tick: bool) {}
    /// Renders one file of /proc/net/btcp/ (for /proc, or for netlink's
    /// `STATS_GET`, `FLOWS_GET` and `CONFIG_GET`).
    fn show(&self, file: ProcFile, m: &mut SeqFile) -> core::fmt::Result;
    /// Takes a whole new configuration text (at most `CONFIG_MAX` bytes: a
    /// write to /proc/net/btcp/config or netlink's `CONFIG_SET`), in
    /// process context, never concurrently with itself for one namespace.
    /// On error, `why` says why: the glue logs it (/proc) or returns it in
    /// the extended ack (netlink).
    fn config(&self, _text: &[u8], _why: &mut ConfigWhy<'_>) -> Result {
        Err(EINVAL)
    }
}

/// Where `PernetState::config` says why it refused a configuration: a
/// short text (`CONFIG_ERR_MAX` bytes with its NUL, what a netlink extended
/// ack carries); longer text is cut at a character boundary.
///
/// # Invariants
///
/// `buf` is non-empty, and `buf[len]` is the NUL that ends the text.
pub struct ConfigWhy<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> ConfigWhy<'a> {
    /// An empty text in `buf`; `None` if `buf` has no room for the NUL.
    pub fn new(buf: &'a mut [u8]) -> Option<Self> {
        *buf.first_mut()? = 0;
        Some(ConfigWhy { buf, len: 0 })
    }
}

impl core::fmt::Write for ConfigWhy<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len().saturating_sub(self.len).saturating_sub(1);
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n = n.saturating_sub(1);
        }
        let end = self.len.saturating_add(n);
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..end), s.as_bytes().get(..n)) {
            dst.copy_from_slice(src);
            self.len = end;
        }
        if let Some(nul) = self.buf.get_mut(self.len) {
            *nul = 0;
        }
        Ok(())
    }
}

/// How often `PernetState::work` runs without being kicked.
pub const TICK_MS: u32 = bindings::BTCP_TICK_MS;
/// The most one configuration text carries (a /proc write, a `CONFIG_SET`).
pub const CONFIG_MAX: usize = bindings::BTCP_CONFIG_MAX as usize;
/// The room `PernetState::config` has to say why, NUL included.
pub const CONFIG_ERR_MAX: usize = bindings::BTCP_CONFIG_ERR_MAX as usize;

/// Keeps btcp's hooks and proc files registered in every namespace until
/// dropped. Only one registration exists at a time (the glue has a single
/// `pernet_operations`); a second `register` fails with `EBUSY`.
pub struct Registration<T: PernetState> {
    _state: PhantomData<T>,
}

impl<T: PernetState> Registration<T> {
    const OPS: bindings::btcp_pernet_ops = bindings::btcp_pernet_ops {
        init: Some(init_state::<T>),
        exit: Some(exit_state::<T>),
        hook: Some(hook_state::<T>),
        work: Some(work_state::<T>),
        show: Some(show_state::<T>),
        config: Some(config_state::<T>),
    };

    /// Registers the hooks in every existing namespace and in each new one.
    pub fn register() -> Result<Self> {
        let ops: &'static bindings::btcp_pernet_ops = &Self::OPS;
        // SAFETY: `ops` is a static table of valid callbacks, which the glue
        // may keep until `btcp_pernet_unregister` in `drop`.
        let ret = unsafe { bindings::btcp_pernet_register(ops) };
        kernel::error::to_result(ret)?;
        Ok(Registration {
            _state: PhantomData,
        })
    }
}

impl<T: PernetState> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `self` exists only after a successful registration. This
        // runs every namespace's exit, which unhooks, waits for running
        // hooks (synchronize_net) and then frees the state.
        unsafe { bindings::btcp_pernet_unregister() };
    }
}

/// Creates a namespace's state for the glue.
///
/// # Safety
///
/// Called by the glue only, from the namespace's pernet init.
unsafe extern "C" fn init_state<T: PernetState>(net: *mut bindings::net) -> *mut c_void {
    // SAFETY: the glue calls this from the namespace's pernet init, and the
    // state that owns the `Net` is freed in its pernet exit.
    let Some(net) = (unsafe { Net::from_raw(net) }) else {
        return core::ptr::null_mut();
    };
    match KBox::pin_init(T::new(net), GFP_KERNEL) {
        // SAFETY: the state is never moved out of its allocation: only
        // `exit_state` turns the pointer back into the pinned box, to drop it.
        Ok(state) => KBox::into_raw(unsafe { Pin::into_inner_unchecked(state) }).cast(),
        Err(_) => core::ptr::null_mut(),
    }
}

/// Frees a namespace's state.
///
/// # Safety
///
/// `state` must come from `init_state::<T>` and no hook or proc reader may
/// use it any more; called once.
unsafe extern "C" fn exit_state<T: PernetState>(state: *mut c_void) {
    // SAFETY: `state` came from `init_state::<T>`'s `KBox::into_raw` of a
    // pinned box, and the glue calls exit once, after no hook, work or
    // reader can use it; it is dropped in place, never moved.
    drop(unsafe { Pin::new_unchecked(KBox::from_raw(state.cast::<T>())) });
}

/// Runs the namespace's hook on one packet.
///
/// # Safety
///
/// `state` must be a live state from `init_state::<T>` and `skb` a valid
/// packet that netfilter lends for the duration of the call.
unsafe extern "C" fn hook_state<T: PernetState>(
    state: *mut c_void,
    hooknum: c_uint,
    skb: *mut bindings::sk_buff,
    tunnel_src: *mut c_uint,
) -> c_uint {
    // SAFETY: `state` is the namespace's live state (freed only after the
    // hooks are unregistered and synchronize_net()).
    let state = unsafe { &*state.cast::<T>() };
    // SAFETY: netfilter passes a valid skb that we neither free nor keep
    // beyond this call.
    let skb = unsafe { SkBuff::from_raw(skb) };
    let Some(hook) = HookPoint::from_raw(hooknum) else {
        return bindings::NF_ACCEPT;
    };
    let verdict = state.hook(hook, skb);
    if let Verdict::Tunnel(src) = verdict {
        // SAFETY: the glue passes its local variable, valid for writes
        // for the length of this call.
        unsafe { tunnel_src.write(src) };
    }
    verdict.to_raw()
}

/// Renders the namespace's proc file.
///
/// # Safety
///
/// `state` must be a live state from `init_state::<T>` and `m` the
/// `seq_file` of a running `show` callback.
unsafe extern "C" fn show_state<T: PernetState>(
    state: *mut c_void,
    file: c_uint,
    m: *mut bindings::seq_file,
) -> c_int {
    // SAFETY: the proc file is removed before the state is freed, and
    // removal waits for running readers.
    let state = unsafe { &*state.cast::<T>() };
    // SAFETY: `m` is the seq_file of this running `show` callback.
    let m = unsafe { SeqFile::from_raw(m) };
    if let Some(file) = ProcFile::from_raw(file) {
        // An overflow is not an error: seq_file retries with a larger buffer.
        let _ = state.show(file, m);
    }
    0
}

/// Runs the namespace's process-context work.
///
/// # Safety
///
/// `state` must be a live state from `init_state::<T>`; the glue cancels
/// the work before freeing it.
unsafe extern "C" fn work_state<T: PernetState>(state: *mut c_void, tick: c_int) {
    // SAFETY: the glue waits for and cancels the work before exit frees
    // the state.
    let state = unsafe { &*state.cast::<T>() };
    state.work(tick != 0);
}

/// Hands a new configuration text (a write of /proc/net/btcp/config or a
/// netlink `CONFIG_SET`) to the namespace's state.
///
/// # Safety
///
/// `state` must be a live state from `init_state::<T>`, `text` readable
/// for `len` bytes and `err` writable for `err_len` bytes, both for the
/// duration of the call and not used by anyone else meanwhile.
unsafe extern "C" fn config_state<T: PernetState>(
    state: *mut c_void,
    text: *const u8,
    len: usize,
    err: *mut kernel::ffi::c_char,
    err_len: usize,
) -> c_int {
    // SAFETY: the proc file is removed, waiting for running writers, before
    // the state is freed; a netlink command's socket holds the namespace,
    // and the family is unregistered before the pernet ops.
    let state = unsafe { &*state.cast::<T>() };
    if text.is_null() || err.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: the glue passes a kernel copy of the text, `len` long, alive
    // for this call.
    let text = unsafe { core::slice::from_raw_parts(text, len) };
    // SAFETY: the glue passes its own buffer of `err_len` bytes, written
    // only through this slice during the call.
    let err = unsafe { core::slice::from_raw_parts_mut(err.cast::<u8>(), err_len) };
    let Some(mut why) = ConfigWhy::new(err) else {
        return EINVAL.to_errno();
    };
    match state.config(text, &mut why) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
