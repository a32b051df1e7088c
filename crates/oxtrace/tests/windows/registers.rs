//! Thread contexts as oxtrace's registers, calls by the Microsoft x64
//! convention, and the thread environment block.

use oxtrace::{EventKind, ExitStatus, Mode};

use crate::support::{out_file, output, spawn, Symbols, OPTS};

#[test]
fn changed_registers_take_effect_xmm_included() {
    for opt in OPTS {
        let mut trace = spawn(opt, &["regs"]);
        let scaled = Symbols::of(opt).addr(&mut trace, "scaled");
        trace.add_break_by_addr(scaled).unwrap();
        let event = trace.run().unwrap();
        assert!(matches!(event.kind, EventKind::Breakpoint { .. }), "{opt}: {event:?}");
        // scaled(1.5, 2): x in xmm0, k in edx (the Microsoft x64 convention).
        assert_eq!(trace.register_u64("rdx").unwrap() & 0xffff_ffff, 2, "{opt}");
        let xmm0 = trace.register("xmm0").unwrap().to_u128().unwrap();
        assert_eq!(f64::from_bits(xmm0 as u64), 1.5, "{opt}");
        trace.set_register("xmm0", u128::from(4.0f64.to_bits())).unwrap();
        trace.set_register("rdx", 3u64).unwrap();
        // Run to the return: the result in xmm0 is 4.0 * 3.
        let sp = trace.sp().unwrap();
        let ret = u64::from_le_bytes(trace.read_memory(sp, 8).unwrap().try_into().unwrap());
        trace.add_break_by_addr(ret).unwrap();
        let event = trace.run().unwrap();
        assert!(matches!(event.kind, EventKind::Breakpoint { addr, .. } if addr == ret), "{opt}: {event:?}");
        let xmm0 = trace.register("xmm0").unwrap().to_u128().unwrap();
        assert_eq!(f64::from_bits(xmm0 as u64), 12.0, "{opt}");
        trace.kill().unwrap();
    }
}

#[test]
fn registers_have_linux_names_and_the_teb_is_gs_base() {
    let mut trace = spawn("O0", &["run"]);
    let tick = Symbols::of("O0").addr(&mut trace, "tick");
    trace.add_break_by_addr(tick).unwrap();
    trace.run().unwrap();
    assert_eq!(trace.register_u64("rip").unwrap(), tick);
    assert_eq!(trace.register_u64("rcx").unwrap() & 0xffff_ffff, 1, "tick(1)");
    assert_eq!(trace.register_u64("eflags").unwrap() & 0x100, 0, "no trap flag left");
    assert_ne!(trace.register_u64("cs").unwrap(), 0);
    let teb = trace.teb().unwrap();
    assert_eq!(trace.register_u64("gs_base").unwrap(), teb);
    // The TEB's NT_TIB.Self (at 0x30) points at itself.
    let this = u64::from_le_bytes(trace.read_memory(teb + 0x30, 8).unwrap().try_into().unwrap());
    assert_eq!(this, teb);
    trace.kill().unwrap();
}

#[test]
fn a_function_of_six_arguments_is_called_by_the_microsoft_convention() {
    for opt in OPTS {
        let out = out_file(&format!("call-{opt}"));
        let mut trace = spawn(opt, &["run", out.to_str().unwrap()]);
        let symbols = Symbols::of(opt);
        let tick = symbols.addr(&mut trace, "tick");
        let add6 = symbols.addr(&mut trace, "add6");
        let id = trace.add_break_by_addr(tick).unwrap();
        trace.run().unwrap();
        trace.remove_breakpoint(id).unwrap();
        let rip = trace.pc().unwrap();
        let args: Vec<oxtrace::CallArg> = (1..=6u64).map(oxtrace::CallArg::Int).collect();
        let result = trace.call(add6, &args).unwrap();
        assert_eq!(result.value, 1 + 2 * 2 + 3 * 3 + 4 * 4 + 5 * 5 + 6 * 6, "{opt}");
        assert_eq!(trace.pc().unwrap(), rip, "{opt}: the thread is back where it was");
        trace.set_mode(Mode::RunForever, true);
        assert_eq!(trace.run().unwrap().kind, EventKind::Exited(ExitStatus::Code(0)), "{opt}");
        assert_eq!(output(&out), "done 1100\n", "{opt}");
    }
}

#[test]
fn the_upper_half_of_a_ymm_register_is_read_and_changed() {
    for opt in OPTS {
        let out = out_file(&format!("avx-{opt}"));
        let mut trace = spawn(opt, &["avx", out.to_str().unwrap()]);
        let stop = Symbols::of(opt).addr(&mut trace, "avx_stop");
        trace.add_break_by_addr(stop).unwrap();
        let event = trace.run().unwrap();
        assert!(matches!(event.kind, EventKind::Breakpoint { .. }), "{opt}: {event:?}");
        // ymm1 holds the bytes 0..31: its upper half (16..31) comes from the XSTATE area.
        let ymm1 = trace.register("ymm1").unwrap();
        let loaded: Vec<u8> = (0..32).collect();
        assert_eq!(ymm1.as_bytes(), &loaded[..], "{opt}");
        let mut changed = loaded.clone();
        for b in &mut changed[16..] {
            *b ^= 0xa0;
        }
        trace.set_register("ymm1", oxtrace::RegValue::from_bytes(&changed).unwrap()).unwrap();
        assert_eq!(trace.register("ymm1").unwrap().as_bytes(), &changed[..], "{opt}");
        trace.set_mode(Mode::RunForever, true);
        assert_eq!(trace.run().unwrap().kind, EventKind::Exited(ExitStatus::Code(0)), "{opt}");
        let hex: String = changed.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(output(&out), format!("{hex}\n"), "{opt}: the program stored the changed ymm1");
    }
}
