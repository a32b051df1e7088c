//! Call stacks.
//!
//! The unwinders here read memory through a closure and never do I/O of their
//! own, so they work the same on a live process, a core file or a remote stub.

mod frame_pointer;

pub use frame_pointer::{unwind_frame_pointers, Frame, FrameRegs};
