// SPDX-License-Identifier: GPL-2.0

//! [`RcuBox`]: a box whose memory is freed after an RCU grace period, for values that lockless
//! readers find through a pointer published elsewhere (modelled on `PollCondVarBox`).

use core::{ops::Deref, ptr::NonNull};
use kernel::{alloc::Flags, bindings, prelude::*, types::Opaque};

/// Values that readers who found them before they were unpublished may keep using, under RCU,
/// after their destructor ran.
///
/// # Safety
///
/// After `drop` runs, every method reachable through `&Self` must stay sound until the end of
/// an RCU grace period that starts after the value was unpublished, as long as the memory is
/// not freed.
pub(crate) unsafe trait RcuDrop {}

#[pin_data]
#[repr(C)]
struct Inner<T> {
    #[pin]
    value: T,
    rcu: Opaque<bindings::kvfree_rcu_head>,
}

/// A pinned, heap-allocated `T` that is dropped at once and freed after a grace period.
///
/// # Invariants
///
/// `ptr` points to a live `Inner<T>` allocated by `KBox`, owned by this value.
pub(crate) struct RcuBox<T: RcuDrop> {
    ptr: NonNull<Inner<T>>,
}

// SAFETY: An `RcuBox<T>` owns a `T`; sending it sends the `T`.
unsafe impl<T: RcuDrop + Send> Send for RcuBox<T> {}
// SAFETY: Sharing an `RcuBox<T>` shares only `&T`.
unsafe impl<T: RcuDrop + Sync> Sync for RcuBox<T> {}

impl<T: RcuDrop> RcuBox<T> {
    /// The size of the allocation holding a `T` and its RCU head.
    pub(crate) const ALLOC_SIZE: usize = core::mem::size_of::<Inner<T>>();

    /// Allocates and initializes a `T`.
    pub(crate) fn pin_init(init: impl PinInit<T>, flags: Flags) -> Result<Self> {
        let b = KBox::pin_init(
            pin_init!(Inner {
                value <- init,
                rcu: Opaque::uninit(),
            }),
            flags,
        )?;
        // SAFETY: The value is never moved out: it is only reached through `ptr` until it is
        // dropped in place.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(b) });
        // INVARIANT: From `KBox::into_raw`, so non-NULL, live and ours.
        Ok(Self {
            // SAFETY: `KBox::into_raw` never returns NULL.
            ptr: unsafe { NonNull::new_unchecked(raw) },
        })
    }

    /// The value's address, to publish for lockless readers; valid until the box is dropped
    /// and, for readers that found it before it was unpublished, until a grace period after.
    pub(crate) fn as_ptr(&self) -> *const T {
        // SAFETY: `ptr` is live (type invariant); no reference is created.
        unsafe { &raw const (*self.ptr.as_ptr()).value }
    }
}

impl<T: RcuDrop> Deref for RcuBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `ptr` is live while the box exists (type invariant).
        unsafe { &self.ptr.as_ref().value }
    }
}

impl<T: RcuDrop> Drop for RcuBox<T> {
    fn drop(&mut self) {
        let p = self.ptr.as_ptr();
        // SAFETY: We own the live value (type invariant) and nobody uses it through this box
        // again. Readers that found it earlier may still call it: `T: RcuDrop` keeps that sound
        // until the grace period below ends. It is pinned, and dropped in place.
        unsafe { core::ptr::drop_in_place(&raw mut (*p).value) };
        // SAFETY: The allocation came from `KBox` (kmalloc); `rcu` is ours to hand to
        // `kvfree_call_rcu()`, which frees it after a grace period without running any
        // destructor (the value's already ran, `rcu` has none).
        unsafe { bindings::kvfree_call_rcu((*p).rcu.get(), p.cast()) };
    }
}
