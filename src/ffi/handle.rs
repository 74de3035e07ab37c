//! The C handle: the opaque `cha_handle` that `cha_open` returns, with the
//! tag that turns a call on a closed handle, or a second `cha_close`, into
//! an error instead of a wild write.

use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Cha;
use crate::error::{Error, Result};

/// An open database. Opaque to C: create it with `cha_open`, release it
/// with `cha_close`. One handle may be used from many threads at once.
#[allow(non_camel_case_types)]
pub struct cha_handle {
    /// [`OPEN`] while open, [`CLOSED`] after `cha_close`: a call on a closed
    /// handle, or a second `cha_close`, is refused instead of reaching freed
    /// memory (see [`cha_handle::check_open`]).
    tag: AtomicU64,
    /// Dropped by `cha_close`; the shell around it is kept (see [`SHELLS`]).
    pub(crate) cha: ManuallyDrop<Cha>,
}

/// The tag of an open handle ("cha-open").
const OPEN: u64 = u64::from_be_bytes(*b"cha-open");
/// The tag of a closed one ("cha-shut").
const CLOSED: u64 = u64::from_be_bytes(*b"cha-shut");

/// The shells of closed handles (see [`Shells`]).
static SHELLS: Shells = Shells::new();

/// The shells of freed C objects (handles, prepared contexts), addresses
/// oldest first. The last [`Shells::KEPT`] are kept untouched, so that a
/// late use of any of them is detected by its tag; beyond that the oldest
/// is given out again for a new object of the same kind, so a stale pointer
/// reaches that newer object instead of freed memory. Reachable from here,
/// they are not leaks; there are at most `KEPT` + 1 of each kind.
pub(crate) struct Shells(Mutex<VecDeque<usize>>);

impl Shells {
    const KEPT: usize = 256;

    pub(crate) const fn new() -> Shells {
        Shells(Mutex::new(VecDeque::new()))
    }

    /// The oldest shell, once more than [`Shells::KEPT`] are kept.
    pub(crate) fn reuse(&self) -> Option<usize> {
        let mut shells = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if shells.len() > Self::KEPT {
            shells.pop_front()
        } else {
            None
        }
    }

    /// Keeps the shell at `address`, whose object was just dropped.
    pub(crate) fn keep(&self, address: usize) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(address);
    }
}

impl cha_handle {
    /// A new open handle for `cha`, in a reused shell when enough closed
    /// ones are kept.
    pub(crate) fn into_raw(cha: Cha) -> *mut cha_handle {
        match SHELLS.reuse() {
            Some(address) => {
                let shell = address as *mut cha_handle;
                // SAFETY: a shell from `close`: allocated by `Box`, its `cha`
                // already dropped, and owned by nobody else now.
                unsafe {
                    std::ptr::addr_of_mut!((*shell).cha).write(ManuallyDrop::new(cha));
                    (*shell).tag.store(OPEN, Ordering::Release);
                }
                shell
            }
            None => Box::into_raw(Box::new(cha_handle {
                tag: AtomicU64::new(OPEN),
                cha: ManuallyDrop::new(cha),
            })),
        }
    }

    /// `Ok` for an open handle; an error for a closed one, or for memory
    /// that does not hold a handle.
    #[inline(always)]
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.tag.load(Ordering::Acquire) == OPEN {
            Ok(())
        } else {
            Err(self.not_open())
        }
    }

    /// Closes the handle at `h`: marks it closed, keeps its shell, and
    /// gives back its `Cha` to close. A closed handle (or memory that does
    /// not hold one) is an error and changes nothing.
    ///
    /// # Safety
    /// `h` is a handle from `cha_open`, or one that `cha_close` closed; no
    /// other thread is using it.
    pub(crate) unsafe fn take(h: *mut cha_handle) -> Result<Cha> {
        // SAFETY: a handle (or the shell of a closed one), by contract.
        let handle = unsafe { &mut *h };
        handle.check_open()?;
        handle.tag.store(CLOSED, Ordering::Release);
        // SAFETY: the tag was OPEN, so `cha` is live; it is taken once, as
        // the tag is now CLOSED.
        let cha = unsafe { ManuallyDrop::take(&mut handle.cha) };
        SHELLS.keep(h as usize);
        Ok(cha)
    }

    #[cold]
    #[inline(never)]
    fn not_open(&self) -> Error {
        if self.tag.load(Ordering::Acquire) == CLOSED {
            Error::invalid_argument("the handle was closed by cha_close")
        } else {
            Error::invalid_argument("the handle is not one that cha_open returned")
        }
    }
}
