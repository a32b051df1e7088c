//! The evaluator against a small in-memory program: C semantics, one-line
//! errors that name the bad thing, and random input that never panics.

use std::collections::HashMap;

use super::{evaluate, format_value, type_of, CValue, Target, Values};
use crate::symbols::{CKind, CMember, CType, Place, TypeRef};

/// Where the mock program's data lives, and how much of it there is.
const DATA: u64 = 0x1000;
const DATA_LEN: usize = 0x1000;
/// Where its one function is.
const FUNCTION: u64 = 0x40_0000;

fn point() -> CType {
    let member = |name: &str, offset| CMember { name: name.into(), offset, bits: None, ty: CType::int(), base: false };
    CType::new("struct point", 8, CKind::Struct { members: vec![member("x", 0), member("y", 4)], union: false })
}

fn add_type() -> CType {
    CType::new(
        "int (int, int)",
        0,
        CKind::Function { ret: Box::new(CType::int()), params: vec![CType::int(), CType::int()], variadic: false },
    )
}

/// A program with globals `counter` (int), `ratio` (double), `origin`
/// (struct point), `numbers` (int [4]), `greeting` (char *), `origin_ptr`
/// (struct point *), a local `i` in a register, and a function `add`.
struct Mock {
    memory: Vec<u8>,
    rax: u64,
    variables: HashMap<&'static str, (CType, u64)>,
}

impl Mock {
    fn new() -> Mock {
        let mut mock = Mock { memory: vec![0; DATA_LEN], rax: 5, variables: HashMap::new() };
        let mut put = |name, ty: CType, offset: u64, bytes: &[u8]| {
            let at = offset as usize;
            mock.memory[at..at + bytes.len()].copy_from_slice(bytes);
            mock.variables.insert(name, (ty, DATA + offset));
        };
        put("counter", CType::int(), 0, &7i32.to_le_bytes());
        put("ratio", CType::double(), 8, &2.5f64.to_le_bytes());
        put("origin", point(), 16, &[3, 0, 0, 0, 0xfc, 0xff, 0xff, 0xff]);
        let numbers: Vec<u8> = [1i32, 2, 3, 4].iter().flat_map(|n| n.to_le_bytes()).collect();
        put("numbers", CType::array_of(CType::int(), 4), 32, &numbers);
        put("text", CType::array_of(CType::char(), 6), 64, b"hello\0");
        put("greeting", CType::pointer_to(CType::char()), 48, &(DATA + 64).to_le_bytes());
        put("origin_ptr", CType::pointer_to(point()), 56, &(DATA + 16).to_le_bytes());
        mock
    }

    fn range(&self, addr: u64, len: usize) -> Result<std::ops::Range<usize>, String> {
        let start = addr.checked_sub(DATA).map(|s| s as usize);
        match start {
            Some(start) if start.checked_add(len).is_some_and(|end| end <= DATA_LEN) => Ok(start..start + len),
            _ => Err(format!("Cannot access memory at address {addr:#x}")),
        }
    }
}

impl Target for Mock {
    fn read(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, String> {
        let range = self.range(addr, len)?;
        Ok(self.memory[range].to_vec())
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), String> {
        let range = self.range(addr, bytes.len())?;
        self.memory[range].copy_from_slice(bytes);
        Ok(())
    }

    fn register(&mut self, name: &str) -> Result<Option<CValue>, String> {
        Ok(match name {
            "rax" => {
                Some(CValue { ty: CType::long(), bytes: self.rax.to_le_bytes().to_vec(), place: Place::Register(0) })
            }
            "sp" | "rsp" => Some(CValue::from_int(CType::pointer_to(CType::void()), i128::from(DATA + 0x800))),
            _ => None,
        })
    }

    fn write_register(&mut self, number: u16, bytes: &[u8]) -> Result<(), String> {
        if number != 0 {
            return Err(format!("no register {number}"));
        }
        let mut raw = [0u8; 8];
        let n = bytes.len().min(8);
        raw[..n].copy_from_slice(&bytes[..n]);
        self.rax = u64::from_le_bytes(raw);
        Ok(())
    }

    fn variable(&mut self, name: &str, function: Option<&str>) -> Result<Option<CValue>, String> {
        if function.is_some() {
            return Ok(None);
        }
        if name == "add" {
            return Ok(Some(CValue { ty: add_type(), bytes: Vec::new(), place: Place::Memory(FUNCTION) }));
        }
        if name == "gone" {
            return Ok(Some(CValue::optimized_out(CType::int())));
        }
        let Some((ty, addr)) = self.variables.get(name).cloned() else { return Ok(None) };
        let bytes = self.read(addr, ty.size as usize)?;
        Ok(Some(CValue { ty, bytes, place: Place::Memory(addr) }))
    }

    fn type_named(&mut self, name: &str) -> Result<Option<CType>, String> {
        Ok(match name {
            "struct point" | "point_t" => Some(point()),
            _ => None,
        })
    }

    fn resolve(&mut self, ty: &TypeRef) -> Result<CType, String> {
        Err(format!("no type at {:#x}", ty.offset))
    }

    fn call(&mut self, function: u64, _ty: &CType, args: &[CValue]) -> Result<CValue, String> {
        if function != FUNCTION {
            return Err(format!("{function:#x} is not in executable memory"));
        }
        let sum: i128 = args.iter().filter_map(CValue::as_int).sum();
        Ok(CValue::from_int(CType::int(), sum))
    }

    fn symbol(&mut self, addr: u64) -> Option<String> {
        let (name, _) = self.variables.iter().find(|(_, (_, at))| *at == addr)?;
        Some((*name).to_owned())
    }
}

/// `print TEXT` as a line, or the error.
fn print(mock: &mut Mock, values: &mut Values, text: &str) -> Result<String, String> {
    let value = evaluate(text, mock, values)?;
    Ok(format_value(&value, None, mock))
}

fn p(text: &str) -> Result<String, String> {
    print(&mut Mock::new(), &mut Values::default(), text)
}

#[test]
fn c_semantics_over_typed_values() {
    assert_eq!(p("counter + 1").unwrap(), "8");
    assert_eq!(p("counter / 2").unwrap(), "3");
    assert_eq!(p("ratio * 2").unwrap(), "5");
    assert_eq!(p("origin.y").unwrap(), "-4");
    assert_eq!(p("origin_ptr->x").unwrap(), "3");
    assert_eq!(p("(*origin_ptr).y").unwrap(), "-4");
    assert_eq!(p("numbers[2] + numbers[3]").unwrap(), "7");
    assert_eq!(p("*(numbers + 1)").unwrap(), "2");
    assert_eq!(p("greeting[1]").unwrap(), "101 'e'");
    assert_eq!(p("sizeof(struct point)").unwrap(), "8");
    assert_eq!(p("sizeof numbers").unwrap(), "16");
    // Unsigned arithmetic wraps; comparisons give int.
    assert_eq!(p("0u - 1").unwrap(), "4294967295");
    assert_eq!(p("-1 < 0u").unwrap(), "0");
    assert_eq!(p("(char)300").unwrap(), "44 ','");
    assert_eq!(p("'a' + 1").unwrap(), "98");
    assert_eq!(p("$rax * 2").unwrap(), "10");
    assert_eq!(p("add(counter, 3)").unwrap(), "10");
    // Assignment writes memory and registers; the history and convenience variables keep values.
    let (mut mock, mut values) = (Mock::new(), Values::default());
    assert_eq!(print(&mut mock, &mut values, "counter = 40").unwrap(), "40");
    assert_eq!(mock.memory[..4], 40i32.to_le_bytes());
    print(&mut mock, &mut values, "$rax = 9").unwrap();
    assert_eq!(mock.rax, 9);
    let first = evaluate("origin.x + 1", &mut mock, &mut values).unwrap();
    values.record(first);
    assert_eq!(print(&mut mock, &mut values, "$1 * 10").unwrap(), "40");
    assert_eq!(print(&mut mock, &mut values, "$ + 1").unwrap(), "5");
    print(&mut mock, &mut values, "$total = 12").unwrap();
    assert_eq!(print(&mut mock, &mut values, "$total + 1").unwrap(), "13");
    assert_eq!(type_of("origin_ptr->x", &mut mock, &mut values).unwrap().name, "int");
}

#[test]
fn bad_input_gives_one_line_errors_naming_the_thing() {
    let cases = [
        ("nosuchname + 1", "\"nosuchname\""),
        ("counter.x", "\"x\""),
        ("origin.z", "z"),
        ("*counter", "`int'"),
        ("counter(1)", "\"counter\""),
        ("add(1)", "add"),
        ("add(1, 2, 3)", "add"),
        ("1 +", "syntax error"),
        ("\"open", "\"open"),
        ("(struct nosuch *)0", "nosuch"),
        ("*(int *)0", "0x0"),
        ("gone + 1", "optimized out"),
        ("1 / 0", "Division by zero"),
        ("$99", "$99"),
        ("3 = 4", "lvalue"),
    ];
    for (text, named) in cases {
        let error = p(text).expect_err(text);
        assert!(!error.contains('\n'), "{text}: {error}");
        assert!(error.contains(named), "{text}: {error:?} does not name {named}");
    }
}

/// xorshift64: reproducible noise for the fuzz test.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_input_never_panics() {
    let pieces = [
        "counter",
        "ratio",
        "origin",
        "origin_ptr",
        "numbers",
        "greeting",
        "text",
        "add",
        "gone",
        "$rax",
        "$sp",
        "$1",
        "$$",
        "$x",
        "sizeof",
        "(struct point *)",
        "(char)",
        "(unsigned long)",
        "(double)",
        "(int [3])",
        "point_t",
        "->",
        ".",
        "*",
        "&",
        "[",
        "]",
        "(",
        ")",
        ",",
        "+",
        "-",
        "/",
        "%",
        "<<",
        ">>",
        "==",
        "!=",
        "<=",
        "&&",
        "||",
        "?",
        ":",
        "=",
        "+=",
        "++",
        "--",
        "!",
        "~",
        "@",
        "0",
        "1",
        "-1",
        "0x7fffffffffffffff",
        "9223372036854775808",
        "4294967296",
        "1e308",
        "0.5f",
        "'a'",
        "'\\n'",
        "\"s\\t\"",
        "'",
        "\"",
        "x",
        "y",
        "::",
        "é",
        " ",
    ];
    let seeds = [
        "origin_ptr->x + numbers[counter % 4] * 2",
        "add(counter, (int)ratio) << 3",
        "*(struct point *)&numbers[1]",
        "sizeof(origin) / sizeof origin.x",
        "greeting[counter] == 'o' ? $rax : -$sp",
        "numbers@3",
        "$v = counter += 2",
    ];
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for i in 0..20_000 {
        let text = if i % 2 == 0 {
            let n = 1 + noise.below(10);
            (0..n).map(|_| pieces[noise.below(pieces.len())]).collect::<Vec<_>>().join("")
        } else {
            let mut chars: Vec<char> = seeds[i % seeds.len()].chars().collect();
            for _ in 0..1 + noise.below(4) {
                let at = noise.below(chars.len() + 1);
                match noise.below(3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 => {
                        let piece = pieces[noise.below(pieces.len())];
                        chars.splice(at..at, piece.chars());
                    }
                    _ => chars.insert(at, char::from(b' ' + noise.below(95) as u8)),
                }
            }
            chars.into_iter().collect()
        };
        let (mut mock, mut values) = (Mock::new(), Values::default());
        if let Ok(value) = evaluate(&text, &mut mock, &mut values) {
            for format in [None, Some('x'), Some('d'), Some('c'), Some('t'), Some('a'), Some('f'), Some('s')] {
                let _ = format_value(&value, format, &mut mock);
            }
            values.record(value);
        }
        let _ = type_of(&text, &mut mock, &mut values);
    }
}

#[test]
fn deep_nesting_and_long_input_are_errors_not_crashes() {
    let deep = "(".repeat(10_000) + "1" + &")".repeat(10_000);
    assert!(p(&deep).is_err());
    assert!(p(&("-".repeat(10_000) + "1")).is_err());
    assert!(p(&"*".repeat(10_000)).is_err());
    assert!(p(&"1+".repeat(40_000)).is_err());
    assert!(p(&"&".repeat(5_000)).is_err());
    assert!(p(&"(char)".repeat(5_000)).is_err());
}
