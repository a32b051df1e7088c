//! The Microsoft x64 calling convention run for real: `ms_abi` functions of
//! a Linux program called through `Trace::call_as` (the layout the Windows
//! backend selects for `Trace::call`).

use oxtrace::arch::CallingConvention;
use oxtrace::{CallArg, ExitStatus};

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
