//! In-process breakpoints: jump pads that count, test and record inside the
//! program, without a ptrace stop (x86_64 Linux).
//!
//! An [`BreakpointKind::InProcess`](super::BreakpointKind::InProcess)
//! breakpoint replaces the instructions at its site by a 5-byte `jmp rel32`
//! to a pad that the trace assembles in the program's memory, within reach
//! of the jump ([`arena`]). The pad saves the flags (and the registers when
//! it needs them) below the red zone, counts the hit with `lock inc` on a
//! counter of its own, evaluates its condition compiled to machine code
//! ([`condition`]), appends a record to a ring buffer ([`ring`]), traps into
//! the tracer with `int3` only when the hit must stop, restores everything,
//! runs the covered instructions relocated by iced-x86 and jumps back
//! ([`assemble`]). Counters and records are read while the program runs.
//!
//! A site is patched only where it is safe ([`site`]): the function is
//! decoded whole, no branch lands inside the covered bytes, every covered
//! instruction can run elsewhere. Where it is not, or where no memory can be
//! mapped within reach, the breakpoint falls back to `int3` (the tracer then
//! counts, evaluates and records itself) and says why
//! ([`Trace::in_process_fallback`]). How patches go in and out, with threads
//! moved into and out of pads: [`patch`].

mod arena;
mod assemble;
mod blocks;
mod condition;
mod frame;
mod patch;
mod ring;
mod site;

use std::collections::BTreeMap;
use std::rc::Rc;

pub use ring::{InProcessRecord, InProcessRecords};

use super::breakpoints::{Breakpoint, BreakpointKind, Entry};
use super::Trace;
use crate::error::{Error, Result};
use crate::expression::{parse, Expr};

/// The integer argument registers of the System V x86_64 ABI, in order.
const ARGUMENTS: [&str; 6] = ["rdi", "rsi", "rdx", "rcx", "r8", "r9"];

/// Registers a record can collect: the general registers, `rsp`, `rip` and `rflags`.
const COLLECTABLE: [&str; 18] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    "rip", "rflags",
];

/// What an in-process breakpoint does at each hit.
///
/// By default it counts its hits and never stops: the counter is read with
/// [`Trace::in_process_hits`] at any time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProcessOptions {
    /// A condition in the expression language ([`crate::expression`]):
    /// registers, constants, symbols, `poi()`, arithmetic, comparisons,
    /// `&&`, `||`. A hit counts, records and stops only when it holds.
    pub condition: Option<String>,
    /// Whether a hit (where the condition holds) stops the program, reported
    /// as an ordinary breakpoint hit at the site.
    pub stop: bool,
    /// Registers each record holds (64-bit names, `rsp`, `rip`, `rflags`).
    pub collect: Vec<String>,
    /// How many integer arguments (System V order: `rdi`, `rsi`, `rdx`,
    /// `rcx`, `r8`, `r9`) each record holds after the registers.
    pub args: usize,
    /// How many records the ring buffer keeps (a power of two); the newest
    /// overwrite the oldest unread ones, which are counted as lost.
    pub capacity: usize,
}

impl Default for InProcessOptions {
    fn default() -> Self {
        InProcessOptions { condition: None, stop: false, collect: Vec::new(), args: 0, capacity: 1 << 16 }
    }
}

impl InProcessOptions {
    /// Whether hits append records.
    pub fn records(&self) -> bool {
        !self.collect.is_empty() || self.args > 0
    }

    /// The register each record value comes from, in order.
    fn record_registers(&self) -> Vec<&'static str> {
        let collected = self.collect.iter().filter_map(|name| collectable(name));
        collected.chain(ARGUMENTS.iter().copied().take(self.args)).collect()
    }
}

/// The canonical name of a register a record can collect.
fn collectable(name: &str) -> Option<&'static str> {
    let name = name.strip_prefix('$').unwrap_or(name).to_ascii_lowercase();
    let name = match name.as_str() {
        "pc" => "rip",
        "eflags" => "rflags",
        other => other,
    };
    COLLECTABLE.iter().copied().find(|c| *c == name)
}

/// One site with its pad.
#[derive(Debug, Clone)]
pub(super) struct Site {
    /// The site.
    pub addr: u64,
    /// How many bytes the jump covers.
    pub len: u64,
    /// The original bytes there.
    pub original: Vec<u8>,
    /// The jump (and `int3` filler up to `len`).
    pub jump: Vec<u8>,
    /// Whether the table says the jump is in (memory holds it unless parked).
    pub patched: bool,
    /// The chunk holding the pad.
    pub chunk: u64,
    /// The pad's code.
    pub pad: u64,
    /// Its length.
    pub pad_len: u64,
    /// The counter.
    pub counter: u64,
    /// The `int3` of a pad that stops.
    pub trap: Option<u64>,
    /// Where a thread that reported the trap resumes.
    pub resume: u64,
    /// The pad's `pushfq`: a thread before it has only moved `rsp` down the red zone.
    pub pushf: u64,
    /// Each covered instruction and its copy in the pad.
    pub relocated: Vec<(u64, u64)>,
    /// The ring buffer and the reader's cursor.
    pub ring: Option<(ring::RingLayout, u64)>,
}

impl Site {
    /// Whether `addr` is in the pad's code.
    fn in_pad(&self, addr: u64) -> bool {
        addr >= self.pad && addr < self.pad + self.pad_len
    }
}

/// Every in-process breakpoint of a trace.
#[derive(Debug, Default, Clone)]
pub(super) struct Pads {
    /// What each in-process breakpoint does, pad or fallback.
    options: BTreeMap<u32, Rc<InProcessOptions>>,
    /// Those with a pad.
    pub sites: BTreeMap<u32, Site>,
    /// Why the others run through `int3`.
    fallbacks: BTreeMap<u32, String>,
    /// Records of fallen-back breakpoints, collected by the tracer, and the next index.
    fallback_records: BTreeMap<u32, (Vec<InProcessRecord>, u64)>,
    /// The sites by address.
    by_addr: BTreeMap<u64, u32>,
    /// The sites by the address of their pad's `int3`.
    traps: rustc_hash::FxHashMap<u64, u32>,
    /// The last function decoded, and the stop count then (its code may change when the program runs).
    function: Option<(u64, Rc<site::Function>)>,
    /// The chunks of pad memory.
    chunks: Vec<arena::Chunk>,
    /// Pad memory is not this trace's to unmap (the parent of a followed
    /// fork child, inside its fork call): it stays, unused.
    keep_memory: bool,
}

impl Pads {
    /// The site whose `int3` is at `addr`: its id and address.
    pub fn trap_at(&self, addr: u64) -> Option<(u32, u64)> {
        let id = *self.traps.get(&addr)?;
        Some((id, self.sites[&id].addr))
    }

    /// Where a thread that reported the trap of the pad of the site at `addr` resumes.
    pub fn resume_at(&self, addr: u64) -> Option<u64> {
        let site = &self.sites[self.by_addr.get(&addr)?];
        site.trap.map(|_| site.resume)
    }

    /// Adds a site to the table and its indexes.
    fn insert_site(&mut self, id: u32, site: Site) {
        self.by_addr.insert(site.addr, id);
        if let Some(trap) = site.trap {
            self.traps.insert(trap, id);
        }
        self.sites.insert(id, site);
    }

    /// Takes a site out of the table and its indexes.
    fn remove_site(&mut self, id: u32) -> Option<Site> {
        let site = self.sites.remove(&id)?;
        self.by_addr.remove(&site.addr);
        if let Some(trap) = site.trap {
            self.traps.remove(&trap);
        }
        Some(site)
    }

    /// The sites whose covered bytes may meet `[addr, addr + len)` (a jump covers at most 19 bytes).
    fn near(&self, addr: u64, len: u64) -> impl Iterator<Item = (u32, &Site)> {
        let end = addr.saturating_add(len);
        self.by_addr.range(addr.saturating_sub(20)..end).map(|(_, &id)| (id, &self.sites[&id]))
    }

    /// Whether a hit of breakpoint `id` stops.
    pub fn stops(&self, id: u32) -> bool {
        self.options.get(&id).is_some_and(|o| o.stop)
    }

    /// The patched site whose covered bytes hold `addr`.
    pub fn covering(&self, addr: u64, len: u64) -> Option<(u32, &Site)> {
        let end = addr.saturating_add(len);
        self.near(addr, len).find(|(_, s)| s.patched && s.addr < end && addr < s.addr + s.len)
    }

    /// Forgets every pad (the process executed a new program: its memory is gone).
    pub fn forget_memory(&mut self) {
        for id in std::mem::take(&mut self.sites).into_keys() {
            self.fallbacks.insert(id, "the process executed a new program".into());
        }
        self.by_addr.clear();
        self.traps.clear();
        self.function = None;
        self.chunks.clear();
    }

    /// This trace must leave pad memory mapped (see `keep_memory`).
    pub fn keep_memory(&mut self) {
        self.keep_memory = true;
    }
}

impl Trace {
    /// Sets an in-process breakpoint at `addr` (x86_64 Linux): a jump to a
    /// pad that counts, tests its condition and records inside the program,
    /// and stops it only when `options.stop` is on and the condition holds.
    /// Where the site cannot take a jump, the breakpoint works through
    /// `int3` instead and [`Trace::in_process_fallback`] says why.
    ///
    /// A malformed condition, an unknown register to collect, more than six
    /// arguments or a capacity that is not a power of two are errors.
    pub fn add_in_process_breakpoint(&mut self, addr: u64, options: InProcessOptions) -> Result<u32> {
        self.require_stopped()?;
        if let Some(&id) = self.breakpoints.by_addr.get(&addr) {
            return Err(Error::DuplicateBreakpoint { id, addr });
        }
        let condition = options.condition.as_deref().map(parse).transpose()?;
        if let Some(bad) = options.collect.iter().find(|n| collectable(n).is_none()) {
            return Err(Error::InvalidArgument(format!("cannot collect `{bad}`: not a general register")));
        }
        if options.args > ARGUMENTS.len() {
            return Err(Error::InvalidArgument(format!(
                "at most 6 arguments are passed in registers, not {}",
                options.args
            )));
        }
        if !options.capacity.is_power_of_two() {
            return Err(Error::InvalidArgument(format!(
                "a ring capacity of {} is not a power of two",
                options.capacity
            )));
        }
        let id = self.breakpoints.allocate_id();
        let options = Rc::new(options);
        self.pads.options.insert(id, options.clone());
        let info = Breakpoint {
            id,
            addr,
            kind: BreakpointKind::InProcess,
            enabled: true,
            hits: 0,
            expr: None,
            resolved: true,
        };
        let built = match self.in_process_refusal() {
            Some(why) => Err(why),
            None => self.build_site(addr, &options, condition.as_ref()),
        };
        let placed = match built {
            Ok(site) => {
                self.pads.insert_site(id, site);
                let placed = self.place_breakpoint(Entry::new(info, None));
                if placed.is_err() {
                    self.release_site(id)?;
                }
                placed
            }
            Err(why) => self.place_fallback(info, &options, why),
        };
        if let Err(e) = placed {
            self.pads.options.remove(&id);
            self.pads.fallbacks.remove(&id);
            return Err(e);
        }
        Ok(id)
    }

    /// Why no pad can be used at all in this process, if so.
    fn in_process_refusal(&self) -> Option<String> {
        if self.arch.x86_bitness() != Some(64) {
            return Some(format!("jump pads are written for x86_64, not {}", self.arch.name));
        }
        None
    }

    /// The breakpoint through `int3`, the tracer doing the pad's work.
    fn place_fallback(&mut self, info: Breakpoint, options: &InProcessOptions, why: String) -> Result<()> {
        let id = info.id;
        self.pads.fallbacks.insert(id, why);
        let mut entry = Entry::new(info, None);
        if options.records() {
            let registers = options.record_registers();
            let record: super::BreakCallback = Box::new(move |trace: &mut Trace, _| {
                let name = |r: &'static str| if r == "rflags" { "eflags" } else { r };
                let values = registers.iter().map(|r| trace.register_u64(name(r)).unwrap_or(0)).collect();
                let (records, next) = trace.pads.fallback_records.entry(id).or_default();
                records.push(InProcessRecord { index: *next, tsc: 0, values });
                *next += 1;
            });
            entry.callback = Some(super::breakpoints::Shared::new(record.into()));
        }
        self.place_breakpoint(entry)?;
        if let Some(text) = &options.condition {
            self.set_breakpoint_condition_expr(id, text)?;
        }
        Ok(())
    }

    /// Why in-process breakpoint `id` works through `int3` rather than a
    /// jump pad (`None` when it has a pad, or is not an in-process breakpoint).
    pub fn in_process_fallback(&self, id: u32) -> Option<&str> {
        self.pads.fallbacks.get(&id).map(String::as_str)
    }

    /// The options in-process breakpoint `id` was set with.
    pub fn in_process_options(&self, id: u32) -> Option<&InProcessOptions> {
        self.pads.options.get(&id).map(|o| &**o)
    }

    /// How many times in-process breakpoint `id` was hit (where its
    /// condition held). Read from the program's memory, also while it runs;
    /// read it before the process ends, since the counter goes with it.
    pub fn in_process_hits(&mut self, id: u32) -> Result<u64> {
        if !self.pads.options.contains_key(&id) {
            return Err(Error::NoSuchBreakpoint(id));
        }
        match self.pads.sites.get(&id) {
            Some(site) => {
                self.require_alive()?;
                let mut word = [0u8; 8];
                self.platform.read_memory(site.counter, &mut word)?;
                Ok(u64::from_le_bytes(word))
            }
            None => Ok(self.breakpoint(id).map_or(0, |b| b.hits)),
        }
    }

    /// The records in-process breakpoint `id` appended since the last call,
    /// oldest first, and how many were lost to overflow (see
    /// [`InProcessOptions::capacity`]). Read while the program runs too.
    pub fn take_in_process_records(&mut self, id: u32) -> Result<InProcessRecords> {
        if !self.pads.options.contains_key(&id) {
            return Err(Error::NoSuchBreakpoint(id));
        }
        let Some(site) = self.pads.sites.get(&id) else {
            let (records, _) = self.pads.fallback_records.entry(id).or_default();
            return Ok(InProcessRecords { records: std::mem::take(records), lost: 0 });
        };
        let Some((layout, cursor)) = site.ring else { return Ok(InProcessRecords::default()) };
        self.require_alive()?;
        let platform = &mut self.platform;
        let (records, next) = ring::read(&layout, cursor, |addr, buf| platform.read_memory(addr, buf))?;
        if let Some((_, cursor)) = self.pads.sites.get_mut(&id).and_then(|s| s.ring.as_mut()) {
            *cursor = next;
        }
        Ok(records)
    }

    /// Fails unless the process is there to read (stopped or running).
    fn require_alive(&self) -> Result<()> {
        if self.is_attached() {
            Ok(())
        } else {
            self.require_stopped()
        }
    }

    /// Decodes, plans, allocates and writes a pad for `addr` (not patched yet).
    fn build_site(
        &mut self,
        addr: u64,
        options: &InProcessOptions,
        condition: Option<&Expr>,
    ) -> std::result::Result<Site, String> {
        let function = self.decoded_function(addr)?;
        let covered = function.covered(addr)?;
        let (start, code) = (function.start, &function.code);
        if let Some(other) = self.breakpoints.by_addr.range(addr + 1..addr + covered.len).next() {
            return Err(format!(
                "breakpoint {} at {:#x} is inside the {} bytes the jump would cover",
                other.1, other.0, covered.len
            ));
        }
        if let Some((other, _)) = self.pads.covering(addr, covered.len) {
            return Err(format!("the jump of in-process breakpoint {other} covers these bytes"));
        }
        let chunk = self.chunk_for(addr)?;
        let ring = match options.records() {
            true => {
                let mut layout = ring::RingLayout {
                    base: 0,
                    capacity: options.capacity as u64,
                    values: options.record_registers().len() as u64,
                };
                let rw = crate::memory::Perms { read: true, write: true, exec: false, shared: false };
                layout.base = self
                    .allocate_memory(layout.mapping_size(), rw, None)
                    .map_err(|e| format!("cannot map the ring buffer: {e}"))?;
                Some((layout, 0))
            }
            false => None,
        };
        let built = self.write_pad(chunk, addr, &covered, options, condition, ring.map(|r| r.0));
        match built {
            Ok(mut site) => {
                site.original = code[(addr - start) as usize..(addr - start + covered.len) as usize].to_vec();
                site.ring = ring;
                Ok(site)
            }
            Err(why) => {
                if let Some((layout, _)) = ring {
                    let _ = self.free_memory(layout.base, layout.mapping_size());
                }
                self.drop_chunk_if_unused(chunk);
                Err(why)
            }
        }
    }

    /// The function holding `addr`, decoded (kept while the program does not run: coverage
    /// asks for every block of a function in turn).
    fn decoded_function(&mut self, addr: u64) -> std::result::Result<Rc<site::Function>, String> {
        let (start, size) = self.function_extent(addr)?;
        if let Some((stops, function)) = &self.pads.function {
            if *stops == self.stops && function.start == start && function.code.len() as u64 == size {
                return Ok(function.clone());
            }
        }
        let code = self.read_memory(start, size as usize).map_err(|e| format!("cannot read the function: {e}"))?;
        let function = Rc::new(site::Function::decode(start, code)?);
        self.pads.function = Some((self.stops, function.clone()));
        Ok(function)
    }

    /// The start and size of the function holding `addr`, from its symbol.
    fn function_extent(&mut self, addr: u64) -> std::result::Result<(u64, u64), String> {
        let symbols = self.symbols().map_err(|e| format!("no symbols: {e}"))?;
        let hit = symbols.sym_by_addr(addr).ok_or_else(|| format!("no function symbol holds {addr:#x}"))?;
        if hit.symbol.size == 0 || hit.offset >= hit.symbol.size {
            return Err(format!("the extent of the function holding {addr:#x} is not known"));
        }
        Ok((hit.addr, hit.symbol.size))
    }
}
