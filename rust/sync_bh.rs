//! A spinlock that also disables bottom halves: the lock for state shared
//! between netfilter hooks (softirq) and process context (workqueues, proc
//! and netlink handlers). The kernel crate's `SpinLock` is plain
//! `spin_lock`, which would deadlock when a softirq on the same CPU takes a
//! lock held by the process context it interrupted.

use super::bindings;
use kernel::sync::lock::{Backend, Lock};

/// `Lock<T, SpinLockBhBackend>`: a `spin_lock_bh` lock around `T`. Create it
/// with [`new_spinlock_bh!`](crate::new_spinlock_bh).
pub type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

/// The `spin_lock_bh` backend of [`SpinLockBh`].
pub struct SpinLockBhBackend;

// SAFETY: `lock` takes the spinlock, which gives exclusive ownership until
// `unlock` releases it; `init` initialises the spinlock with the given name
// and lock class, as `Backend` requires.
unsafe impl Backend for SpinLockBhBackend {
    type State = bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: the caller guarantees `ptr` is valid for writes and `name`
        // and `key` stay valid for reads forever.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller guarantees `ptr` is an initialised spinlock.
        unsafe { bindings::btcp_spin_lock_bh(ptr) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: the caller owns the lock, taken by `lock` above.
        unsafe { bindings::btcp_spin_unlock_bh(ptr) }
    }
}

/// Creates a [`SpinLockBh`] initialiser with a static lock class (for
/// lockdep), like the kernel crate's `new_spinlock!`.
#[macro_export]
macro_rules! new_spinlock_bh {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::kernel_ext::sync_bh::SpinLockBh::new(
            $inner, ::kernel::optional_name!($($name)?), ::kernel::static_lock_class!())
    };
}
