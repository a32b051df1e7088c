//! Registers: every name readable, sub-registers, writes that reach the debuggee.

use oxtrace::{Error, ExitStatus, RegValue};

use crate::support::Opt;
use crate::{read_all, run_to_exit, spawn_quiet, spawn_with_output};

#[test]
fn every_register_reads_and_sub_registers_agree() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let d = trace.sym_by_name("d").unwrap();
    trace.run_until(d).unwrap();
    let arch = trace.arch();
    for def in arch.registers {
        let value = trace.register(def.name).unwrap_or_else(|e| panic!("{}: {e}", def.name));
        assert_eq!(value.len(), def.size(), "{}", def.name);
    }
    trace.set_register("rax", 0x1122_3344_5566_7788u64).unwrap();
    assert_eq!(trace.register_u64("eax").unwrap(), 0x5566_7788);
    assert_eq!(trace.register_u64("ax").unwrap(), 0x7788);
    assert_eq!(trace.register_u64("al").unwrap(), 0x88);
    assert_eq!(trace.register_u64("ah").unwrap(), 0x77);
    trace.set_register("bl", 0x42u64).unwrap();
    trace.set_register("rbx", 0xdead_beef_cafe_f000u64).unwrap();
    trace.set_register("bl", 0x42u64).unwrap();
    assert_eq!(trace.register_u64("rbx").unwrap(), 0xdead_beef_cafe_f042);
    assert_eq!(trace.register_u64("RIP").unwrap(), d, "names are case-insensitive");
    assert_eq!(trace.register_u64("cs").unwrap(), 0x33);
    assert_ne!(trace.register_u64("fs_base").unwrap(), 0, "TLS is set up");
    assert_eq!(trace.register_u64("dr7").unwrap(), 0);
    assert_ne!(trace.register_u64("mxcsr").unwrap(), 0);
    assert_eq!(trace.register("ymm0").unwrap().len(), 32);
    // The register context lists the full registers.
    let ctx = trace.registers().unwrap();
    let names: Vec<&str> = ctx.full_registers_loaded().iter().map(|(d, _)| d.name).collect();
    for name in ["rax", "r15", "rip", "eflags", "fs_base", "st0", "xmm15", "ymm15", "dr7"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

#[test]
fn a_changed_argument_register_reaches_the_program() {
    let (mut trace, reader) = spawn_with_output("regs", Opt::O0, &[]);
    let check = trace.sym_by_name("check").unwrap();
    trace.run_until(check).unwrap();
    assert_eq!(trace.register_u64("rdi").unwrap(), 21);
    trace.set_register("rdi", 100u64).unwrap();
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    let out = read_all(reader);
    assert!(out.contains("check=200"), "{out}");
}

#[test]
fn vector_registers_read_and_write() {
    let (mut trace, reader) = spawn_with_output("regs", Opt::O0, &[]);
    let probe = trace.sym_by_name("vec_probe").unwrap();
    trace.run_until(probe).unwrap();
    let xmm0 = trace.register("xmm0").unwrap();
    assert_eq!(xmm0.len(), 16);
    assert_ne!(xmm0.to_u128().unwrap(), 0, "the fixture loaded a pattern into xmm0");
    // The low half of ymm0 is xmm0.
    assert_eq!(&trace.register("ymm0").unwrap().as_bytes()[..16], xmm0.as_bytes());
    let pattern: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
    trace.set_register("xmm0", RegValue::from_u128(pattern)).unwrap();
    assert_eq!(trace.register("xmm0").unwrap().to_u128(), Some(pattern));
    assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
    let out = read_all(reader);
    assert!(out.contains(&format!("xmm0={pattern:032x}")), "{out}");
}

#[test]
fn debug_registers_can_be_written_and_read_back() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let main = trace.sym_by_name("main").unwrap();
    trace.run_until(main).unwrap();
    trace.set_register("dr0", main).unwrap();
    trace.stepi().unwrap(); // written back before the thread runs
    assert_eq!(trace.register_u64("dr0").unwrap(), main);
}

#[test]
fn bad_register_names_and_values_are_clear_errors() {
    let mut trace = spawn_quiet("calls", Opt::O0, &[]);
    let err = trace.register("rxx").unwrap_err();
    assert!(matches!(err, Error::UnknownRegister { ref name, .. } if name == "rxx"), "{err}");
    assert!(err.to_string().contains("rxx"));
    let err = trace.set_register("al", 0x1234u64).unwrap_err();
    assert!(err.to_string().contains("al"), "{err}");
    let err = trace.register_u64("xmm1").unwrap_err();
    assert!(err.to_string().contains("xmm1"), "{err}");
}
