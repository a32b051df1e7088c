//! Conditions of the expression language compiled to x86_64 code that runs
//! in a pad.
//!
//! The code leaves the value in `rax`. Registers are read from the pad's
//! save area (`rbx`, see [`super::frame`]), so they are the program's values
//! at the site; `rsp` is the program's stack pointer, `rip` the site. Other
//! names (variables, symbols, `sym("name")`) are constants fixed when the
//! condition is compiled. Everything is a wrapping `u64`, comparisons are
//! unsigned and give 0 or 1, `&&` and `||` do not evaluate their right side
//! when the left decides: the evaluator's semantics ([`crate::expression`]).
//!
//! **Memory reads (`poi`) never fault.** A pointer in a condition is often
//! wild (a null argument, freed memory), and a fault in a pad would kill the
//! program with a SIGSEGV it never caused. So `poi(a)` is a
//! `process_vm_readv` of the process's own memory: the kernel copies the 8
//! bytes or says `EFAULT`, as it does for ptrace. That is one system call per
//! read (far cheaper than the ptrace stop it replaces); the process's pid is
//! read from a slot of the pad's data that the tracer writes (and rewrites
//! in a fork child). A read that fails, or a division by zero, jumps to the
//! error label: the condition then counts as true and the tracer is told, as
//! for a condition evaluated by the tracer that cannot be evaluated.
//!
//! What the compiler cannot do (`frame()`, `mapbase()`, `bp()`...) is
//! refused with a message naming it; the breakpoint then falls back to
//! `int3` with the condition evaluated by the tracer.

use iced_x86::code_asm::{
    al, byte_ptr, cl, dword_ptr, eax, edx, qword_ptr, r10, r8, r9, rax, rbx, rcx, rdx, rsi, rsp, word_ptr,
    CodeAssembler, CodeLabel,
};
use iced_x86::{Code, IcedError, Instruction, MemoryOperand, Register};

use super::frame::{slot, AREA, FLAGS_SLOT, RED_ZONE};
use crate::expression::{Expr, Node};

/// `process_vm_readv`'s number on x86_64.
const SYS_PROCESS_VM_READV: i32 = 310;

/// What a compilation needs besides the expression.
pub(super) struct Compile<'a> {
    /// The assembler the code goes into.
    pub asm: &'a mut CodeAssembler,
    /// Where a condition that cannot be evaluated (unreadable memory, division by zero) jumps.
    pub error: CodeLabel,
    /// The site's address (the value of `rip`).
    pub site: u64,
    /// The slot holding the process's pid (reached RIP-relative).
    pub pid_slot: u64,
    /// Constants: variables and symbols, by name.
    pub names: &'a mut dyn FnMut(&str) -> Option<u64>,
}

/// An error that names what cannot be compiled.
type Refusal = String;

fn asm(e: IcedError) -> Refusal {
    format!("the assembler refused the condition: {e}")
}

impl Compile<'_> {
    /// Compiles `expr` (its value in `rax`).
    pub fn expression(&mut self, expr: &Expr) -> Result<(), Refusal> {
        self.node(expr.root()).map_err(|e| format!("condition `{}`: {e}", expr.source()))
    }

    fn node(&mut self, node: &Node) -> Result<(), Refusal> {
        match node {
            Node::Int(v) => self.asm.mov(rax, *v).map_err(asm),
            Node::Name { name, .. } => self.name(name),
            Node::Str { .. } => Err("a string is only allowed as the argument of sym()".into()),
            Node::Unary { op, operand } => {
                self.node(operand)?;
                let a = &mut *self.asm;
                match *op {
                    "-" => a.neg(rax),
                    "~" => a.not(rax),
                    _ => a.test(rax, rax).and_then(|()| a.sete(al)).and_then(|()| a.movzx(eax, al)),
                }
                .map_err(asm)
            }
            Node::Binary { op: op @ ("&&" | "||"), lhs, rhs, .. } => self.logic(op, lhs, rhs),
            Node::Binary { op, lhs, rhs, .. } => {
                self.node(lhs)?;
                self.asm.push(rax).map_err(asm)?;
                self.node(rhs)?;
                let a = &mut *self.asm;
                a.mov(rcx, rax).and_then(|()| a.pop(rax)).map_err(asm)?;
                self.operator(op)
            }
            Node::Call { func, args, .. } => self.call(func, args),
        }
    }

    /// A register of the save area, `rsp`, `rip`, the flags, or a constant.
    fn name(&mut self, name: &str) -> Result<(), Refusal> {
        let bare = name.strip_prefix('$').unwrap_or(name);
        let a = &mut *self.asm;
        if let Some((full, width, high)) = register(bare) {
            let result = match full {
                "rsp" => a.lea(rax, qword_ptr(rbx + AREA + RED_ZONE)),
                "rip" => a.mov(rax, self.site),
                "rflags" => a.mov(rax, qword_ptr(rbx + FLAGS_SLOT)),
                _ => {
                    let at = slot(full).expect("a general register") + i32::from(high);
                    match width {
                        8 => a.mov(rax, qword_ptr(rbx + at)),
                        4 => a.mov(eax, dword_ptr(rbx + at)),
                        2 => a.movzx(eax, word_ptr(rbx + at)),
                        _ => a.movzx(eax, byte_ptr(rbx + at)),
                    }
                }
            };
            let masked = match (full, width) {
                ("rsp" | "rip" | "rflags", 4) => a.mov(eax, eax),
                ("rsp" | "rip" | "rflags", 2) => a.movzx(eax, iced_x86::code_asm::ax),
                ("rsp" | "rip" | "rflags", 1) => a.movzx(eax, al),
                _ => Ok(()),
            };
            return result.and(masked).map_err(asm);
        }
        match (self.names)(name) {
            Some(value) => a.mov(rax, value).map_err(asm),
            None => Err(format!("unknown name `{name}`")),
        }
    }

    /// `&&` and `||`, with the right side skipped when the left decides.
    fn logic(&mut self, op: &str, lhs: &Node, rhs: &Node) -> Result<(), Refusal> {
        let mut end = self.asm.create_label();
        self.node(lhs)?;
        let a = &mut *self.asm;
        // setne and movzx leave the flags of the test for the jump.
        a.test(rax, rax).and_then(|()| a.setne(al)).and_then(|()| a.movzx(eax, al)).map_err(asm)?;
        match op {
            "&&" => a.je(end),
            _ => a.jne(end),
        }
        .map_err(asm)?;
        self.node(rhs)?;
        let a = &mut *self.asm;
        a.test(rax, rax).and_then(|()| a.setne(al)).map_err(asm)?;
        a.set_label(&mut end).and_then(|()| a.movzx(eax, al)).map_err(asm)
    }

    /// `rax = rax OP rcx`.
    fn operator(&mut self, op: &str) -> Result<(), Refusal> {
        let error = self.error;
        let a = &mut *self.asm;
        let compare = |a: &mut CodeAssembler, set: fn(&mut CodeAssembler) -> Result<(), IcedError>| {
            a.cmp(rax, rcx)?;
            set(a)?;
            a.movzx(eax, al)
        };
        match op {
            "+" => a.add(rax, rcx),
            "-" => a.sub(rax, rcx),
            "*" => a.imul_2(rax, rcx),
            "/" | "%" => (|| {
                a.test(rcx, rcx)?;
                a.je(error)?;
                a.xor(edx, edx)?;
                a.div(rcx)?;
                if op == "%" {
                    a.mov(rax, rdx)?;
                }
                Ok(())
            })(),
            "&" => a.and(rax, rcx),
            "|" => a.or(rax, rcx),
            "^" => a.xor(rax, rcx),
            "<<" | ">>" => (|| {
                // A shift by 64 or more gives 0, as in the evaluator (the CPU would take it modulo 64).
                let mut in_range = a.create_label();
                let mut end = a.create_label();
                a.cmp(rcx, 64)?;
                a.jb(in_range)?;
                a.xor(eax, eax)?;
                a.jmp(end)?;
                a.set_label(&mut in_range)?;
                if op == "<<" {
                    a.shl(rax, cl)?;
                } else {
                    a.shr(rax, cl)?;
                }
                a.set_label(&mut end)?;
                a.nop()
            })(),
            "<" => compare(a, |a| a.setb(al)),
            "<=" => compare(a, |a| a.setbe(al)),
            ">" => compare(a, |a| a.seta(al)),
            ">=" => compare(a, |a| a.setae(al)),
            "==" => compare(a, |a| a.sete(al)),
            "!=" => compare(a, |a| a.setne(al)),
            other => return Err(format!("the operator `{other}` cannot be evaluated in the program")),
        }
        .map_err(asm)
    }

    /// `poi(a)` (a read that cannot fault) and `sym("name")` (a constant).
    fn call(&mut self, func: &str, args: &[Node]) -> Result<(), Refusal> {
        match (func, args) {
            ("poi", [addr]) => {
                self.node(addr)?;
                self.safe_read().map_err(asm)
            }
            ("sym", [Node::Str { value, .. }]) => match (self.names)(value) {
                Some(addr) => self.asm.mov(rax, addr).map_err(asm),
                None => Err(format!("unknown symbol `{value}`")),
            },
            (other, _) => Err(format!("`{other}()` cannot be evaluated in the program")),
        }
    }

    /// `rax = *(u64 *)rax` through `process_vm_readv` on the process itself;
    /// jumps to the error label if the kernel cannot read it.
    fn safe_read(&mut self) -> Result<(), IcedError> {
        let a = &mut *self.asm;
        // [rsp]: local iovec {rsp+32, 8}; [rsp+16]: remote iovec {rax, 8}; [rsp+32]: the value.
        a.sub(rsp, 48)?;
        a.lea(rcx, qword_ptr(rsp + 32))?;
        a.mov(qword_ptr(rsp), rcx)?;
        a.mov(qword_ptr(rsp + 8), 8)?;
        a.mov(qword_ptr(rsp + 16), rax)?;
        a.mov(qword_ptr(rsp + 24), 8)?;
        let pid = MemoryOperand::with_base_displ(Register::RIP, self.pid_slot as i64);
        a.add_instruction(Instruction::with2(Code::Mov_r64_rm64, Register::RDI, pid)?)?;
        a.mov(rsi, rsp)?;
        a.mov(edx, 1)?;
        a.lea(r10, qword_ptr(rsp + 16))?;
        a.mov(r8, 1u64)?;
        a.xor(r9, r9)?;
        a.mov(eax, SYS_PROCESS_VM_READV as u32)?;
        a.syscall()?;
        // The error path resets rsp from rbx.
        a.cmp(rax, 8)?;
        a.jne(self.error)?;
        a.mov(rax, qword_ptr(rsp + 32))?;
        a.add(rsp, 48)?;
        Ok(())
    }
}

/// A register name: its 64-bit register (or `rsp`, `rip`, `rflags`), its width, and 1 for `ah`-style high bytes.
fn register(name: &str) -> Option<(&'static str, u8, u8)> {
    const LEGACY: [(&str, [&str; 5]); 8] = [
        ("rax", ["eax", "ax", "al", "ah", ""]),
        ("rcx", ["ecx", "cx", "cl", "ch", ""]),
        ("rdx", ["edx", "dx", "dl", "dh", ""]),
        ("rbx", ["ebx", "bx", "bl", "bh", ""]),
        ("rsp", ["esp", "sp", "spl", "", ""]),
        ("rbp", ["ebp", "bp", "bpl", "", ""]),
        ("rsi", ["esi", "si", "sil", "", ""]),
        ("rdi", ["edi", "di", "dil", "", ""]),
    ];
    const NUMBERED: [&str; 8] = ["r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
    let name = name.to_ascii_lowercase();
    for (full, parts) in LEGACY {
        if name == full {
            return Some((full, 8, 0));
        }
        if let Some(n) = parts.iter().position(|p| !p.is_empty() && *p == name) {
            let (width, high) = [(4, 0), (2, 0), (1, 0), (1, 1)][n];
            return Some((full, width, high));
        }
    }
    for full in NUMBERED {
        if name == full {
            return Some((full, 8, 0));
        }
        if let Some(suffix) = name.strip_prefix(full) {
            let width = match suffix {
                "d" => 4,
                "w" => 2,
                "b" | "l" => 1,
                _ => continue,
            };
            return Some((full, width, 0));
        }
    }
    match name.as_str() {
        "rip" | "pc" => Some(("rip", 8, 0)),
        "eip" => Some(("rip", 4, 0)),
        "rflags" | "eflags" | "flags" => Some(("rflags", 8, 0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::register;

    #[test]
    fn register_names_give_their_full_register_and_width() {
        assert_eq!(register("eax"), Some(("rax", 4, 0)));
        assert_eq!(register("ah"), Some(("rax", 1, 1)));
        assert_eq!(register("r10d"), Some(("r10", 4, 0)));
        assert_eq!(register("R8"), Some(("r8", 8, 0)));
        assert_eq!(register("r1"), None);
        assert_eq!(register("rsp"), Some(("rsp", 8, 0)));
    }
}
