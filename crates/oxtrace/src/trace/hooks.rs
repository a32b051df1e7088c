//! Function hooks: a callback at a function's entry that sees its arguments
//! (by the architecture's C calling convention), and one at its return that
//! sees the return value.
//!
//! The entry is a fast breakpoint; at each call the return address gets an
//! internal fast breakpoint, and the call is remembered by thread and by the
//! stack pointer the caller will have after the return, so that recursive
//! calls pair up right. The return breakpoint goes away when no call waits on it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{BreakpointKind, Trace};
use crate::error::{Error, Result, Tid};
use crate::event::Event;

/// One call of a hooked function, as seen at its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCall {
    /// The calling thread.
    pub tid: Tid,
    /// The function's address.
    pub func: u64,
    /// The first `argc` integer arguments.
    pub args: Vec<u64>,
    /// Where the function returns to.
    pub return_addr: u64,
    /// The stack pointer at entry.
    pub sp: u64,
}

/// A pre-call callback.
pub type PreHook = Box<dyn FnMut(&mut Trace, &HookCall)>;
/// A post-call callback: the call and its return value.
pub type PostHook = Box<dyn FnMut(&mut Trace, &HookCall, u64)>;

/// What the entry and return breakpoints of one hook share.
struct HookState {
    argc: usize,
    pre: Option<PreHook>,
    post: Option<PostHook>,
    /// Calls on their way back: (thread, stack pointer after the return) → the call.
    pending: HashMap<(Tid, u64), HookCall>,
    /// Return-address breakpoints of this hook: address → id.
    returns: HashMap<u64, u32>,
}

impl Trace {
    /// Hooks the function at `func`: `pre` runs at every call with its first
    /// `argc` arguments, `post` (if given) when that call returns, with the return value.
    /// Neither stops the trace. Returns the id of the entry breakpoint (remove it to unhook).
    pub fn add_hook(&mut self, func: u64, argc: usize, pre: Option<PreHook>, post: Option<PostHook>) -> Result<u32> {
        let state =
            Rc::new(RefCell::new(HookState { argc, pre, post, pending: HashMap::new(), returns: HashMap::new() }));
        let callback = Box::new(move |trace: &mut Trace, event: &Event| {
            let _ = trace.hook_entry(&state, event.tid, func);
        });
        self.add_breakpoint(func, BreakpointKind::Fast, Some(callback))
    }

    fn hook_entry(&mut self, state: &Rc<RefCell<HookState>>, tid: Tid, func: u64) -> Result<()> {
        let arch = self.arch;
        let sp = self.sp()?;
        // On the stack (x86), or in the link register (aarch64's x30).
        let return_addr = if arch.return_address_on_stack {
            self.read_ptr(sp)?
        } else {
            self.register_u64(arch.unwind.names[usize::from(arch.unwind.return_address)])?
        };
        let argc = state.borrow().argc;
        let mut args = Vec::with_capacity(argc);
        // x86 by the platform's calling convention; others by the architecture's registers.
        let convention = arch.x86_bitness().map(|_| self.platform.calling_convention());
        for i in 0..argc {
            let place = match convention {
                Some(convention) => convention.int_argument(i, sp),
                None => arch.call_args.get(i).copied().ok_or_else(|| {
                    let slot = (i - arch.call_args.len()) as u64 * arch.pointer_size as u64;
                    sp + arch.stack_args_offset + slot
                }),
            };
            let value = match place {
                Ok(reg) => self.register_u64(reg)?,
                Err(addr) => self.read_ptr(addr)?,
            };
            args.push(value);
        }
        let call = HookCall { tid, func, args, return_addr, sp };
        let pre = state.borrow_mut().pre.take();
        if let Some(mut pre) = pre {
            pre(self, &call);
            state.borrow_mut().pre.get_or_insert(pre);
        }
        if state.borrow().post.is_none() {
            return Ok(());
        }
        // After `ret`, the caller's stack pointer is one slot above the entry's
        // on x86; with a link register, the same as at entry.
        let popped = if arch.return_address_on_stack { arch.pointer_size as u64 } else { 0 };
        let key = (tid, sp + popped);
        state.borrow_mut().pending.insert(key, call);
        if !state.borrow().returns.contains_key(&return_addr) {
            let id = self.add_return_breakpoint(state, return_addr)?;
            state.borrow_mut().returns.insert(return_addr, id);
        }
        Ok(())
    }

    fn add_return_breakpoint(&mut self, state: &Rc<RefCell<HookState>>, addr: u64) -> Result<u32> {
        if self.breakpoints.by_addr.contains_key(&addr) {
            return Err(Error::InvalidArgument(format!("a breakpoint already sits at the return address {addr:#x}")));
        }
        let state = state.clone();
        let callback = Box::new(move |trace: &mut Trace, event: &Event| {
            let _ = trace.hook_return(&state, event.tid, addr);
        });
        self.add_internal_breakpoint(addr, None, callback)
    }

    fn hook_return(&mut self, state: &Rc<RefCell<HookState>>, tid: Tid, addr: u64) -> Result<()> {
        let sp = self.sp()?;
        let Some(call) = state.borrow_mut().pending.remove(&(tid, sp)) else {
            return Ok(()); // another call's return passing by (recursion, other threads)
        };
        let ret = self.register_u64(self.arch.return_value)?;
        let post = state.borrow_mut().post.take();
        if let Some(mut post) = post {
            post(self, &call, ret);
            state.borrow_mut().post.get_or_insert(post);
        }
        let still_waiting = state.borrow().pending.values().any(|c| c.return_addr == addr);
        if !still_waiting {
            if let Some(id) = state.borrow_mut().returns.remove(&addr) {
                // Internal: removed directly (remove_breakpoint refuses internal ones).
                if let Some(mut entry) = self.breakpoints.by_id.remove(&id) {
                    self.breakpoints.by_addr.remove(&addr);
                    self.lift_entry(&mut entry)?;
                }
            }
        }
        Ok(())
    }
}
