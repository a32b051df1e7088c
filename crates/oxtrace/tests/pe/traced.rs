//! The x64 unwinder on real states: the fixture single-steps its own chain
//! of calls under wine (a vectored exception handler and the trap flag) and
//! writes every state; each one is unwound here, off line, and compared with
//! what the trace itself shows: a call pushes a frame whose caller has the
//! return address, the stack pointer and the non-volatile registers (xmm6-15
//! included) of the moment of the call, and a `ret` pops it. Every
//! instruction of every prologue and epilogue is a state, so partial
//! prologues, epilogues, chained entries, the machine frame and the leaf all
//! get unwound mid-way. In the callers' frames, DWARF locates the argument
//! `n` of the fixture's functions at the value it was called with.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use iced_x86::{Decoder, DecoderOptions, FlowControl};
use oxtrace::arch::x86_64::X86_64;
use oxtrace::memory::{MemoryMap, Perms};
use oxtrace::symbols::{locate, ElfImage, LocationContext, Place, SymbolResolver, VarLocation};
use oxtrace::unwind::{compare_with_stackwalk, unwind, Frame, StackWalkFrame, UnwindMethod, UnwindRegs};

use super::{nm_functions, pe_fixture, LEVELS};

/// Non-volatile general registers of the Windows x64 ABI, by DWARF number: rbx, rsi, rdi, rbp, r12-r15.
const NONVOLATILE: [u16; 8] = [3, 4, 5, 6, 12, 13, 14, 15];

/// The fixture's functions whose states are checked (their code is the fixture's own).
const CHECKED: [&str; 14] = [
    "leaf_add",
    "xmm_saver",
    "big_frame",
    "with_alloca",
    "fp_func",
    "run_chain",
    "asm_leaf",
    "chained_parent",
    "chained_part",
    "machframe_caller",
    "machframe_handler",
    "saver",
    "mf_resume",
    "mf_return",
];

/// The argument `n` of the fixture's functions, as run_chain calls them: fp_func(5) → with_alloca(8) → big_frame(0).
const ARGUMENT_N: [(&str, i32); 3] = [("fp_func", 5), ("with_alloca", 8), ("big_frame", 0)];

/// A frame of a traced state, for DWARF location expressions.
struct FrameContext<'a> {
    frame: &'a Frame,
    state: &'a State,
    bias: u64,
}

impl LocationContext for FrameContext<'_> {
    fn register(&mut self, number: u16) -> Option<Vec<u8>> {
        self.frame.regs.get(number).map(|v| v.to_le_bytes().to_vec())
    }

    fn memory(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        self.state.read(addr, buf)
    }

    fn cfa(&mut self) -> Option<u64> {
        self.frame.cfa
    }

    fn bias(&self) -> u64 {
        self.bias
    }

    fn tls(&mut self, _offset: u64) -> Result<u64, String> {
        Err("no thread-local storage in this fixture".into())
    }

    fn entry_value(&mut self, _expr: &VarLocation) -> Option<u64> {
        None
    }
}

/// One state of the traced thread.
struct State {
    rip: u64,
    /// The 16 general registers by DWARF number.
    regs: [u64; 16],
    xmm: [[u8; 16]; 16],
    /// Memory from rsp up to the top of the traced stack.
    stack: Vec<u8>,
}

impl State {
    fn rsp(&self) -> u64 {
        self.regs[7]
    }

    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        let Some(off) = addr.checked_sub(self.rsp()).map(|o| o as usize) else { return false };
        match self.stack.get(off..off + buf.len()) {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    fn unwind_regs(&self) -> UnwindRegs {
        let mut regs = UnwindRegs::new(&X86_64.unwind);
        for (n, value) in self.regs.iter().enumerate() {
            regs.set(n as u16, Some(*value));
        }
        regs.set_pc(Some(self.rip));
        regs
    }
}

/// What a caller frame must look like: as at its call.
#[derive(Clone)]
struct Expected {
    pc: u64,
    sp: u64,
    regs: [u64; 16],
    xmm: [[u8; 16]; 16],
}

/// Runs the fixture's trace mode under wine: (its load address, its states).
fn run_trace(exe: &Path) -> (u64, Vec<State>) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = exe.with_extension("states");
    // One wine at a time: the first run creates the prefix.
    static WINE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = WINE.lock().unwrap_or_else(|e| e.into_inner());
    let status = Command::new("wine")
        .arg(exe)
        .arg("trace")
        .arg(&out)
        .env("WINEDEBUG", "-all")
        // No Mono or Gecko installer when the prefix is made.
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
        .env("WINEPREFIX", dir.join("wine-prefix"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("cannot run wine (Debian's wine and wine64)");
    assert!(status.success(), "{} trace: {status}", exe.display());
    let data = std::fs::read(&out).unwrap();
    assert_eq!(&data[..4], b"OXPE");
    let word = |at: usize| u64::from_le_bytes(data[at..at + 8].try_into().unwrap());
    let base = word(4);
    let mut states = Vec::new();
    let mut at = 20;
    while at < data.len() {
        let rip = word(at);
        let regs: [u64; 16] = std::array::from_fn(|i| word(at + 8 + 8 * i));
        at += 8 * 17;
        let xmm: [[u8; 16]; 16] = std::array::from_fn(|i| data[at + 16 * i..at + 16 * i + 16].try_into().unwrap());
        at += 256;
        let len = word(at) as usize;
        at += 8;
        states.push(State { rip, regs, xmm, stack: data[at..at + len].to_vec() });
        at += len;
    }
    (base, states)
}

#[test]
fn unwinding_every_traced_state_gives_the_callers_of_the_trace() {
    for level in LEVELS {
        let exe = pe_fixture("pe_unwind", level);
        let nm: HashMap<String, u64> = nm_functions(&exe).into_iter().collect();
        check_trace(&format!("gcc {level}"), &exe, &nm);
    }
}

#[test]
fn unwinding_every_traced_state_of_a_clang_build_gives_the_callers_of_the_trace() {
    for level in LEVELS {
        let exe = super::pdb::clang_fixture(level);
        // No COFF symbols in lld's image: the names come from its PDB.
        let image = ElfImage::load(&exe).unwrap();
        let names: HashMap<String, u64> = CHECKED
            .iter()
            .chain(&["trace_stop"])
            .map(|n| (n.to_string(), image.symbols().by_name(n).unwrap().addr))
            .collect();
        check_trace(&format!("clang {level}"), &exe, &names);
    }
}

/// Traces `exe` and checks every state; `names` gives the functions' addresses at the preferred base.
fn check_trace(level: &str, exe: &Path, names: &HashMap<String, u64>) {
    {
        let (load, states) = run_trace(exe);
        assert!(states.len() > 200, "{level}: {} states", states.len());
        let image = ElfImage::load(exe).unwrap();
        let pe = image.pe().unwrap();
        let bias = load.wrapping_sub(pe.layout.image_base);
        let tables = &pe.unwind;
        let path = exe.to_str().unwrap().to_owned();
        let perms = Perms { read: true, write: false, exec: true, shared: false };
        let map = MemoryMap {
            start: load,
            end: load + pe.layout.size_of_image,
            perms,
            offset: 0,
            device: (0, 0),
            inode: 0,
            path: Some(path),
        };
        let resolver = SymbolResolver::from_maps(&[map]);
        let nm: HashMap<String, u64> = names.iter().map(|(n, a)| (n.clone(), a.wrapping_add(bias))).collect();
        let function_of = |pc: u64| {
            let rva = u32::try_from(pc - load).ok()?;
            tables.function_at(rva).map(|f| (load + u64::from(f.begin), load + u64::from(f.end)))
        };
        let checked: Vec<(u64, u64)> = CHECKED
            .iter()
            .map(|name| {
                let start = nm[*name];
                (start, function_of(start).map_or(start + 16, |(_, end)| end)) // asm_leaf: no entry
            })
            .collect();
        // The machine frame's "iretq" is no epilogue: left out.
        let iret = (nm["mf_return"], function_of(nm["mf_return"]).unwrap().1);
        let code = |pc: u64| tables.bytes_at(u32::try_from(pc - load).unwrap(), 16).unwrap_or_default().to_vec();

        let (mut variables, mut optimized_out) = (0, 0);
        let mut shadow: Vec<Expected> = Vec::new();
        let mut checked_states = 0;
        let mut kinds = std::collections::HashSet::new();
        for i in 0..states.len() {
            if i > 0 {
                let prev = &states[i - 1];
                let bytes = code(prev.rip);
                let instruction = Decoder::with_ip(64, &bytes, prev.rip, DecoderOptions::NONE).decode();
                let at_call = Expected { pc: 0, sp: prev.rsp(), regs: prev.regs, xmm: prev.xmm };
                match instruction.flow_control() {
                    FlowControl::Call | FlowControl::IndirectCall => {
                        shadow.push(Expected { pc: instruction.next_ip(), ..at_call });
                    }
                    FlowControl::Return => {
                        shadow.pop();
                    }
                    FlowControl::IndirectBranch if states[i].rip == nm["machframe_handler"] => {
                        // The fake interrupt: rip, cs, rflags, rsp, ss on the stack.
                        let mut word = [0u8; 8];
                        assert!(prev.read(prev.rsp() + 24, &mut word));
                        let sp = u64::from_le_bytes(word);
                        shadow.push(Expected { pc: nm["mf_resume"], sp, ..at_call });
                    }
                    FlowControl::IndirectBranch if (iret.0..iret.1).contains(&prev.rip) => {
                        shadow.pop();
                    }
                    _ => {}
                }
            }
            let state = &states[i];
            let in_checked = checked.iter().any(|(s, e)| (*s..*e).contains(&state.rip));
            if !in_checked || (iret.0..iret.1).contains(&state.rip) || shadow.is_empty() {
                continue;
            }
            checked_states += 1;
            let mut read = |addr: u64, buf: &mut [u8]| state.read(addr, buf);
            // Frame by frame with the tables' own step, xmm registers followed.
            let mut regs = state.unwind_regs();
            let mut xmm = state.xmm;
            let mut exact = true;
            for (depth, want) in shadow.iter().rev().enumerate() {
                let pc = regs.pc().unwrap();
                let lookup = if exact { pc } else { pc - 1 };
                let step = tables
                    .step(pc, lookup, bias, &regs, &mut read)
                    .unwrap_or_else(|| panic!("{level}: state {i} at {pc:#x}, frame {depth}: no step"));
                kinds.insert(format!("{:?}{}", step.how, if step.machine_frame { " machine frame" } else { "" }));
                let caller = step.caller;
                let context = format!("{level}: state {i} (rip {:#x}), frame {depth} at {pc:#x}", state.rip);
                assert_eq!((caller.pc(), caller.sp()), (Some(want.pc), Some(want.sp)), "{context}: caller pc, sp");
                for n in NONVOLATILE {
                    assert_eq!(caller.get(n), Some(want.regs[n as usize]), "{context}: register {n}");
                }
                for (r, at) in step.xmm_saved_at.iter().enumerate() {
                    if let Some(at) = at {
                        assert!(state.read(*at, &mut xmm[r]), "{context}: xmm{r} saved out of the stack");
                    }
                }
                assert_eq!(xmm[6..], want.xmm[6..], "{context}: xmm6-xmm15");
                exact = step.machine_frame;
                regs = caller;
            }
            // The same callers through the unwinder a Trace uses, over the resolver's modules.
            let frames = unwind(state.unwind_regs(), &resolver, &mut read, shadow.len() + 1);
            let got: Vec<(u64, u64)> = frames.iter().skip(1).map(|f| (f.pc, f.sp)).collect();
            let want: Vec<(u64, u64)> = shadow.iter().rev().map(|e| (e.pc, e.sp)).collect();
            assert_eq!(got, want, "{level}: state {i} at {:#x}: unwind()", state.rip);
            // The same, through the comparison a Windows test makes with StackWalk64's frames.
            let mut walked = vec![(state.rip, state.rsp())];
            walked.extend(&want);
            let reference: Vec<StackWalkFrame> = walked
                .iter()
                .enumerate()
                .map(|(k, (pc, sp))| StackWalkFrame { pc: *pc, stack: *sp, ret: walked.get(k + 1).map_or(0, |n| n.0) })
                .collect();
            compare_with_stackwalk(&frames, &reference, walked.len()).unwrap();
            assert!(frames
                .iter()
                .skip(1)
                .all(|f| matches!(f.method, UnwindMethod::Pdata | UnwindMethod::SignalContext)));
            // DWARF variables of the callers, in the frames the unwinder gave.
            if let Some(lines) = image.lines() {
                for frame in frames.iter().skip(1) {
                    let scopes = lines.scopes_at("pe_unwind", frame.lookup_pc().wrapping_sub(bias));
                    let Some(scope) = scopes.first() else { continue };
                    let Some(want) = ARGUMENT_N.iter().find(|(f, _)| scope.name.as_deref() == Some(f)).map(|(_, n)| *n)
                    else {
                        continue;
                    };
                    let n = scope.arguments.iter().find(|a| a.name == "n").expect("argument n");
                    let mut ctx = FrameContext { frame, state, bias };
                    match locate(&n.location, scope.frame_base.as_ref(), 4, &mut ctx) {
                        Ok(found) if found.place == Place::OptimizedOut => optimized_out += 1,
                        Ok(found) => {
                            assert_eq!(found.bytes, want.to_le_bytes(), "{level}: state {i}: n in {:?}", scope.name);
                            variables += 1;
                        }
                        Err(e) => panic!("{level}: state {i}: n in {:?}: {e}", scope.name),
                    }
                }
            }
        }
        assert!(checked_states > 150, "{level}: {checked_states} states checked");
        if level.starts_with("gcc -O0") {
            assert!(
                variables > 100 && optimized_out == 0,
                "{level}: {variables} values of n, {optimized_out} optimized out"
            );
        }
        for kind in ["Codes", "Epilogue", "Leaf", "Codes machine frame"] {
            assert!(kinds.contains(kind), "{level}: no frame unwound by {kind}: {kinds:?}");
        }
    }
}
