//! Evaluating an expression against a context.

use super::parser::{Expr, Node};
use super::ExprError;

/// What evaluation needs from the debuggee. Each method returns `None` for
/// "no such thing" (the evaluator turns that into an error with a position).
pub trait ExprContext {
    /// The value of a name: a register, a variable or a symbol.
    fn name(&mut self, name: &str) -> Option<u64>;
    /// The pointer-sized value at `addr` (for `poi`).
    fn read_pointer(&mut self, addr: u64) -> Option<u64>;
    /// The base and length of the map holding `addr` (for `mapbase`, `maplen`, `ispoi`).
    fn map_of(&mut self, addr: u64) -> Option<(u64, u64)>;
    /// The frame address (CFA) of stack frame `n` of the current thread (for `frame`).
    fn frame(&mut self, n: u64) -> Option<u64>;
    /// The address of breakpoint `id` (for `bp`).
    fn breakpoint_addr(&mut self, id: u64) -> Option<u64>;
}

impl Expr {
    /// Evaluates the expression.
    pub fn eval(&self, ctx: &mut dyn ExprContext) -> Result<u64, ExprError> {
        Evaluator { text: &self.text, ctx }.eval(&self.root)
    }
}

struct Evaluator<'a> {
    text: &'a str,
    ctx: &'a mut dyn ExprContext,
}

impl Evaluator<'_> {
    fn error(&self, pos: usize, message: impl Into<String>) -> ExprError {
        ExprError::new(self.text, pos, message)
    }

    fn eval(&mut self, node: &Node) -> Result<u64, ExprError> {
        Ok(match node {
            Node::Int(v) => *v,
            Node::Name { name, pos } => {
                self.ctx.name(name).ok_or_else(|| self.error(*pos, format!("unknown name `{name}`")))?
            }
            Node::Str { pos, .. } => return Err(self.error(*pos, "a string is only allowed as the argument of sym()")),
            Node::Unary { op, operand } => {
                let v = self.eval(operand)?;
                match *op {
                    "-" => v.wrapping_neg(),
                    "~" => !v,
                    _ => u64::from(v == 0),
                }
            }
            Node::Binary { op, lhs, rhs, pos } => {
                let a = self.eval(lhs)?;
                // && and || do not evaluate their right side when the left decides.
                match *op {
                    "&&" if a == 0 => return Ok(0),
                    "||" if a != 0 => return Ok(1),
                    _ => {}
                }
                let b = self.eval(rhs)?;
                match *op {
                    "+" => a.wrapping_add(b),
                    "-" => a.wrapping_sub(b),
                    "*" => a.wrapping_mul(b),
                    "/" | "%" if b == 0 => return Err(self.error(*pos, "division by zero")),
                    "/" => a / b,
                    "%" => a % b,
                    "&" => a & b,
                    "|" => a | b,
                    "^" => a ^ b,
                    "<<" => a.checked_shl(b as u32).filter(|_| b < 64).unwrap_or(0),
                    ">>" => a.checked_shr(b as u32).filter(|_| b < 64).unwrap_or(0),
                    "<" => u64::from(a < b),
                    "<=" => u64::from(a <= b),
                    ">" => u64::from(a > b),
                    ">=" => u64::from(a >= b),
                    "==" => u64::from(a == b),
                    "!=" => u64::from(a != b),
                    "&&" | "||" => u64::from(b != 0),
                    other => return Err(self.error(*pos, format!("unknown operator `{other}`"))),
                }
            }
            Node::Call { func, args, pos } => self.call(func, args, *pos)?,
        })
    }

    fn call(&mut self, func: &str, args: &[Node], pos: usize) -> Result<u64, ExprError> {
        if args.len() != 1 {
            return Err(self.error(pos, format!("{func}() takes 1 argument, not {}", args.len())));
        }
        if func == "sym" {
            let Node::Str { value, .. } = &args[0] else {
                return Err(self.error(pos, "sym() takes a string: sym(\"name\")"));
            };
            return self.ctx.name(value).ok_or_else(|| self.error(pos, format!("unknown name `{value}`")));
        }
        let known = ["poi", "ispoi", "mapbase", "maplen", "frame", "bp"];
        if !known.contains(&func) {
            return Err(self.error(pos, format!("unknown function `{func}` (there are {})", known.join(", "))));
        }
        let arg = self.eval(&args[0])?;
        let text = self.text;
        let missing = |what: String| ExprError::new(text, pos, what);
        match func {
            "poi" => self.ctx.read_pointer(arg).ok_or_else(|| missing(format!("cannot read a pointer at {arg:#x}"))),
            "ispoi" => Ok(u64::from(self.ctx.map_of(arg).is_some())),
            "mapbase" => self.ctx.map_of(arg).map(|m| m.0).ok_or_else(|| missing(format!("{arg:#x} is not mapped"))),
            "maplen" => self.ctx.map_of(arg).map(|m| m.1).ok_or_else(|| missing(format!("{arg:#x} is not mapped"))),
            "frame" => self.ctx.frame(arg).ok_or_else(|| missing(format!("no stack frame {arg}"))),
            _ => self.ctx.breakpoint_addr(arg).ok_or_else(|| missing(format!("no breakpoint {arg}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    struct Mock;

    impl ExprContext for Mock {
        fn name(&mut self, name: &str) -> Option<u64> {
            match name {
                "rax" => Some(0x10),
                "libc.malloc" => Some(0x7000),
                "prog.f" => Some(0x400),
                "puts@plt" => Some(0x500),
                "odd name" => Some(7),
                _ => None,
            }
        }
        fn read_pointer(&mut self, addr: u64) -> Option<u64> {
            (addr == 0x7000).then_some(0x1234)
        }
        fn map_of(&mut self, addr: u64) -> Option<(u64, u64)> {
            (0x7000..0x8000).contains(&addr).then_some((0x7000, 0x1000))
        }
        fn frame(&mut self, n: u64) -> Option<u64> {
            (n < 3).then_some(0x9000 + n * 16)
        }
        fn breakpoint_addr(&mut self, id: u64) -> Option<u64> {
            (id == 1).then_some(0x401)
        }
    }

    fn eval(text: &str) -> Result<u64, ExprError> {
        parse(text)?.eval(&mut Mock)
    }

    #[test]
    fn operators_follow_c_precedence() {
        for (text, value) in [
            ("1+2*3", 7),
            ("(1+2)*3", 9),
            ("1<<4|1", 17),
            ("-1", u64::MAX),
            ("!0", 1),
            ("!5", 0),
            ("5>3&&2>1", 1),
            ("10%3", 1),
            ("~0 >> 60", 15),
            ("0x1f + 0b11 + 0o7 + 1_000", 31 + 3 + 7 + 1000),
            ("3 - 2 - 1", 0),
            ("1 == 1 != 0", 1),
            ("0 || 0 && 1", 0),
            ("1 << 64", 0),
        ] {
            assert_eq!(eval(text), Ok(value), "{text}");
        }
    }

    #[test]
    fn names_helpers_and_symbols() {
        assert_eq!(eval("libc.malloc + 8"), Ok(0x7008));
        assert_eq!(eval("prog.f+4"), Ok(0x404));
        assert_eq!(eval("puts@plt"), Ok(0x500));
        assert_eq!(eval("rax * 2"), Ok(0x20));
        assert_eq!(eval("poi(libc.malloc)"), Ok(0x1234));
        assert_eq!(eval("ispoi(libc.malloc + 4) + ispoi(4)"), Ok(1));
        assert_eq!(eval("mapbase(0x7123) + maplen(0x7123)"), Ok(0x8000));
        assert_eq!(eval("frame(1)"), Ok(0x9010));
        assert_eq!(eval("bp(1)"), Ok(0x401));
        assert_eq!(eval("sym(\"odd name\") + 1"), Ok(8));
        assert_eq!(eval("0 && poi(0)"), Ok(0), "the right side is not evaluated");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let at = |text: &str| eval(text).unwrap_err().position;
        assert_eq!(at("1 + * 2"), 4);
        assert_eq!(at("foo(1)"), 0);
        assert_eq!(at("(1+2"), 4);
        assert_eq!(at("1/0"), 1);
        assert_eq!(at("2 + nothere"), 4);
        assert_eq!(at("poi(4)"), 0);
        assert_eq!(at("12ab"), 0);
        assert_eq!(at("0x"), 0);
        assert_eq!(at("99999999999999999999"), 0);
        assert_eq!(at("1 2"), 2);
        assert_eq!(at("a = 1"), 2);
        assert_eq!(at("\"open"), 0);
        assert_eq!(at(""), 0);
        assert_eq!(at("poi(1, 2)"), 0);
        let err = eval("1 + * 2").unwrap_err();
        assert_eq!(err.caret(), "1 + * 2\n    ^");
        assert!(err.to_string().contains("position 4"), "{err}");
    }

    #[test]
    fn deep_nesting_and_long_input_are_errors_not_crashes() {
        let deep = "(".repeat(10_000) + "1" + &")".repeat(10_000);
        assert!(eval(&deep).unwrap_err().message.contains("nested too deeply"));
        let negated = "-".repeat(10_000) + "1";
        assert!(eval(&negated).is_err());
        assert!(eval(&"1+".repeat(40_000)).is_err());
    }

    #[test]
    fn random_input_never_panics() {
        let alphabet: Vec<char> = "0123456789abcdefxyz+-*/%&|^~!<>=()\".,@_ $\\é".chars().collect();
        let seeds = ["poi(rax+8) & 0xff", "libc.malloc + 4 * (2 - 1)", "sym(\"x\") || !bp(1)"];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..20_000 {
            let text: String = if i % 2 == 0 {
                (0..next() % 24).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
            } else {
                let mut chars: Vec<char> = seeds[i % seeds.len()].chars().collect();
                for _ in 0..1 + next() % 3 {
                    let at = (next() % (chars.len() as u64 + 1)) as usize;
                    match next() % 3 {
                        0 if at < chars.len() => {
                            chars.remove(at);
                        }
                        _ => chars.insert(at, alphabet[(next() % alphabet.len() as u64) as usize]),
                    }
                }
                chars.into_iter().collect()
            };
            if let Ok(expr) = parse(&text) {
                let _ = expr.eval(&mut Mock);
            }
        }
    }
}
