//! How a Linux process enters a system call, per architecture: the
//! instruction, the registers of the number and the arguments, and the
//! numbers of the calls the tracer injects (memory allocation, protection
//! and release).

use super::Arch;

/// The Linux system call convention of one architecture, as data.
#[derive(Debug)]
pub struct SyscallAbi {
    /// The instruction that enters the kernel.
    pub instruction: &'static [u8],
    /// The register holding the number on entry and the result on return.
    pub number: &'static str,
    /// The argument registers, in order.
    pub args: &'static [&'static str],
    /// The register the kernel reads to restart an interrupted call; writing
    /// all ones there (-1 at its width) means "no call to restart".
    pub restart: &'static str,
    /// The width of the result in bytes: an error is -4095..-1 at this width.
    pub result_size: usize,
    /// `mmap`, taking its offset in bytes, or (i386's `mmap2`) in pages: both take 0 here.
    pub mmap: u64,
    /// `mprotect`.
    pub mprotect: u64,
    /// `munmap`.
    pub munmap: u64,
}

/// x86_64: `syscall`, number in `rax`, arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`.
static X86_64: SyscallAbi = SyscallAbi {
    instruction: &[0x0f, 0x05],
    number: "rax",
    args: &["rdi", "rsi", "rdx", "r10", "r8", "r9"],
    restart: "orig_rax",
    result_size: 8,
    mmap: 9,
    mprotect: 10,
    munmap: 11,
};

/// i386: `int 0x80`, number in `eax`, arguments in `ebx`, `ecx`, `edx`, `esi`, `edi`, `ebp`.
static I386: SyscallAbi = SyscallAbi {
    instruction: &[0xcd, 0x80],
    number: "eax",
    args: &["ebx", "ecx", "edx", "esi", "edi", "ebp"],
    restart: "orig_eax",
    result_size: 4,
    mmap: 192,
    mprotect: 125,
    munmap: 91,
};

impl SyscallAbi {
    /// A register value cut to the convention's width.
    pub fn truncate(&self, value: u64) -> u64 {
        match self.result_size {
            4 => value & 0xffff_ffff,
            _ => value,
        }
    }

    /// A returned value as a signed number (sign-extended from its width).
    pub fn signed_result(&self, value: u64) -> i64 {
        match self.result_size {
            4 => i64::from(value as u32 as i32),
            _ => value as i64,
        }
    }
}

impl Arch {
    /// How this architecture's Linux processes make system calls, where the
    /// tracer knows how to inject them.
    pub fn syscall_abi(&self) -> Option<&'static SyscallAbi> {
        match self.name {
            "x86_64" => Some(&X86_64),
            "i386" => Some(&I386),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{i386, x86_64};

    #[test]
    fn conventions_name_known_registers_and_calls() {
        for arch in [&x86_64::X86_64, &i386::I386] {
            let abi = arch.syscall_abi().unwrap();
            for name in abi.args.iter().chain([&abi.number, &abi.restart]) {
                assert!(arch.register(name).is_some(), "{}: {name}", arch.name);
            }
            assert_eq!(arch.syscall_name(abi.mprotect), Some("mprotect"));
            assert_eq!(arch.syscall_name(abi.munmap), Some("munmap"));
            assert!(arch.syscall_name(abi.mmap).is_some_and(|n| n.starts_with("mmap")));
            assert_eq!(abi.signed_result(abi.truncate(-9i64 as u64)), -9);
        }
    }
}
