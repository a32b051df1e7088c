//! The Microsoft x64 calling convention run for real: `ms_abi` functions of
//! a Linux program called through `Trace::call_as` (the layout the Windows
//! backend selects for `Trace::call`).

use oxtrace::arch::CallingConvention;
use oxtrace::cexpr::{evaluate, type_of, CValue, Values};
use oxtrace::symbols::CType;
use oxtrace::{CallArg, ExitStatus, Trace};

use crate::support::Opt;
use crate::{read_all, run_to_exit, spawn_with_output};

#[test]
fn ms_abi_functions_get_their_arguments_and_an_aligned_stack() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, output) = spawn_with_output("ms_abi", opt, &[]);
        let ready = trace.sym_by_name("ready").unwrap();
        trace.run_until(ready).unwrap();
        let sp = trace.register_u64("rsp").unwrap();
        let ms = CallingConvention::Microsoft64;
        let six = trace.sym_by_name("ms_six").unwrap();
        let args: Vec<CallArg> = (1..=6).map(CallArg::Int).collect();
        assert_eq!(trace.call_as(ms, six, &args).unwrap().value, 1 + 4 + 9 + 16 + 25 + 36, "{opt:?}");
        let misalignment = trace.sym_by_name("ms_misalignment").unwrap();
        // From both alignments of the thread's own stack pointer.
        for shift in [0, 8] {
            trace.set_register("rsp", sp - shift).unwrap();
            assert_eq!(trace.call_as(ms, misalignment, &[]).unwrap().value, 0, "{opt:?}, rsp - {shift}");
        }
        trace.set_register("rsp", sp).unwrap();
        let length = trace.sym_by_name("ms_length").unwrap();
        assert_eq!(trace.call_as(ms, length, &["four".into(), CallArg::Int(3)]).unwrap().value, 12);
        assert_eq!(trace.register_u64("rsp").unwrap(), sp);
        assert!(trace.call_as(CallingConvention::Cdecl32, six, &args).is_err(), "cdecl in a 64-bit process");
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert!(read_all(output).contains("91 0 6"));
    }
}

/// A C expression's value (and type) in the current thread's innermost frame.
fn value(trace: &mut Trace, text: &str) -> CValue {
    let tid = trace.current_thread();
    let mut target = trace.c_target(tid, 0).unwrap();
    evaluate(text, &mut target, &mut Values::default()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn type_of_expr(trace: &mut Trace, text: &str) -> CType {
    let tid = trace.current_thread();
    let mut target = trace.c_target(tid, 0).unwrap();
    type_of(text, &mut target, &mut Values::default()).unwrap()
}

#[test]
fn c_typed_ms_abi_calls_pass_structs_doubles_and_floats_by_the_microsoft_rules() {
    for opt in [Opt::O0, Opt::O2] {
        let (mut trace, output) = spawn_with_output("ms_abi", opt, &[]);
        let ready = trace.sym_by_name("ready").unwrap();
        trace.run_until(ready).unwrap();
        let ms = CallingConvention::Microsoft64;
        let mixed = trace.sym_by_name("ms_mixed").unwrap();
        let ty = type_of_expr(&mut trace, "ms_mixed");
        let args: Vec<CValue> = ["7", "(double)2.5", "g_small", "(float)0.25", "g_big", "g_odd"]
            .iter()
            .map(|e| value(&mut trace, e))
            .collect();
        let result = trace.call_c_as(ms, mixed, &ty, &args).unwrap();
        let got = f64::from_le_bytes(result.bytes[..8].try_into().unwrap());
        assert_eq!(got, 7.0 + 2.5 + 10.0 + 200.0 + 0.25 + 10.0 + 40.0 + 90.0 + 2.0, "{opt:?}");
        // A 24-byte struct through the hidden pointer, an 8-byte one in rax.
        let big = trace.sym_by_name("ms_make_big").unwrap();
        let ty = type_of_expr(&mut trace, "ms_make_big");
        let arg = value(&mut trace, "100L");
        let result = trace.call_c_as(ms, big, &ty, &[arg]).unwrap();
        let words: Vec<i64> = result.bytes.chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(words, [100, 101, 102], "{opt:?}");
        let small = trace.sym_by_name("ms_make_small").unwrap();
        let ty = type_of_expr(&mut trace, "ms_make_small");
        let arg = value(&mut trace, "9");
        let result = trace.call_c_as(ms, small, &ty, &[arg]).unwrap();
        assert_eq!(result.bytes, [9i32.to_le_bytes(), (-9i32).to_le_bytes()].concat(), "{opt:?}");
        let half = trace.sym_by_name("ms_half").unwrap();
        let ty = type_of_expr(&mut trace, "ms_half");
        let arg = value(&mut trace, "(float)5.0");
        let result = trace.call_c_as(ms, half, &ty, &[arg]).unwrap();
        assert_eq!(result.bytes, 2.5f32.to_le_bytes(), "{opt:?}");
        assert_eq!(run_to_exit(&mut trace), ExitStatus::Code(0));
        assert!(read_all(output).contains("\n353.75 7 -3 2.5\n"));
    }
}
