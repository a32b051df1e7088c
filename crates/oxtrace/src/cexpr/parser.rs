//! C expressions parsed by precedence climbing into an [`Expr`] tree.
//!
//! Written by hand: a cast `(name)x` needs to know whether `name` is a type
//! of the debuggee, which the caller answers; general C parser crates parse
//! whole translation units, not expressions against a running program.

use super::lexer::{tokenize, Token};

/// The deepest nesting accepted (a guard for the recursion).
const MAX_DEPTH: usize = 200;

/// A type as written in a cast or `sizeof`: a base name and `*`s.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeName {
    /// `int`, `unsigned long`, `struct node`, a typedef name.
    pub base: String,
    /// How many `*` follow.
    pub pointers: usize,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `&`
    BitAnd,
    /// `^`
    BitXor,
    /// `|`
    BitOr,
    /// `&&`
    And,
    /// `||`
    Or,
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-`
    Neg,
    /// `+`
    Plus,
    /// `!`
    Not,
    /// `~`
    BitNot,
    /// `*`
    Deref,
    /// `&`
    AddrOf,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// An integer literal with its suffix and radix flag.
    Int(u128, String, bool),
    /// A floating-point literal (`true`: `float`).
    Float(f64, bool),
    /// A character literal.
    Char(u8),
    /// A string literal.
    Str(Vec<u8>),
    /// A name.
    Ident(String),
    /// `function::name`.
    Scoped(String, String),
    /// `$...`.
    Dollar(String),
    /// A unary operation.
    Unary(UnOp, Box<Expr>),
    /// A binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `a = b`, or `a op= b`.
    Assign(Option<BinOp>, Box<Expr>, Box<Expr>),
    /// `c ? a : b`.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `(type) e`.
    Cast(TypeName, Box<Expr>),
    /// `sizeof (type)`.
    SizeofType(TypeName),
    /// `sizeof e`.
    SizeofExpr(Box<Expr>),
    /// `e.name`.
    Member(Box<Expr>, String),
    /// `e->name`.
    Arrow(Box<Expr>, String),
    /// `e[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// `f(args)`.
    Call(Box<Expr>, Vec<Expr>),
    /// `a, b`.
    Comma(Box<Expr>, Box<Expr>),
    /// `a@n`: n objects from a (gdb's artificial array).
    Repeat(Box<Expr>, Box<Expr>),
}

const TYPE_WORDS: &[&str] = &[
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool", "bool", "struct",
    "union", "enum", "class", "const", "volatile",
];

/// Parses `text`; `is_type` says whether a name is a typedef of the debuggee.
pub fn parse(text: &str, is_type: &mut dyn FnMut(&str) -> bool) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err("An expression is needed.".into());
    }
    let mut parser = Parser { tokens, pos: 0, is_type, depth: 0 };
    let expr = parser.comma()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some(token) => Err(format!("A syntax error in expression, near `{}'.", describe(token))),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Int(v, s, _) => format!("{v}{s}"),
        Token::Float(v, _) => v.to_string(),
        Token::Char(c) => format!("'{}'", *c as char),
        Token::Str(s) => format!("\"{}\"", String::from_utf8_lossy(s)),
        Token::Ident(n) => n.clone(),
        Token::Dollar(n) => format!("${n}"),
        Token::Punct(p) => (*p).to_owned(),
    }
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    is_type: &'a mut dyn FnMut(&str) -> bool,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_punct(&self) -> Option<&'static str> {
        match self.peek() {
            Some(Token::Punct(p)) => Some(p),
            _ => None,
        }
    }

    fn eat(&mut self, punct: &str) -> bool {
        if self.peek_punct() == Some(punct) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, punct: &str) -> Result<(), String> {
        if self.eat(punct) {
            return Ok(());
        }
        Err(match self.peek() {
            Some(t) => format!("A syntax error in expression, near `{}'.", describe(t)),
            None => format!("A syntax error in expression: `{punct}' expected at the end."),
        })
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("Expression too deeply nested.".into());
        }
        Ok(())
    }

    fn comma(&mut self) -> Result<Expr, String> {
        let mut left = self.assign()?;
        let mut levels = 0;
        while self.eat(",") {
            self.deepen(&mut levels)?;
            let right = self.assign()?;
            left = Expr::Comma(Box::new(left), Box::new(right));
        }
        self.depth -= levels;
        Ok(left)
    }

    /// One more level of a left-nested chain (`a+b+c`, `a[1][2]`): the tree
    /// is as deep as its chains, and evaluating or dropping it recurses.
    fn deepen(&mut self, levels: &mut usize) -> Result<(), String> {
        self.enter()?;
        *levels += 1;
        Ok(())
    }

    fn assign(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let left = self.conditional()?;
        let op = match self.peek_punct() {
            Some("=") => Some(None),
            Some("+=") => Some(Some(BinOp::Add)),
            Some("-=") => Some(Some(BinOp::Sub)),
            Some("*=") => Some(Some(BinOp::Mul)),
            Some("/=") => Some(Some(BinOp::Div)),
            Some("%=") => Some(Some(BinOp::Rem)),
            Some("&=") => Some(Some(BinOp::BitAnd)),
            Some("|=") => Some(Some(BinOp::BitOr)),
            Some("^=") => Some(Some(BinOp::BitXor)),
            Some("<<=") => Some(Some(BinOp::Shl)),
            Some(">>=") => Some(Some(BinOp::Shr)),
            _ => None,
        };
        let result = match op {
            Some(op) => {
                self.pos += 1;
                let right = self.assign()?;
                Expr::Assign(op, Box::new(left), Box::new(right))
            }
            None => left,
        };
        self.depth -= 1;
        Ok(result)
    }

    fn conditional(&mut self) -> Result<Expr, String> {
        let cond = self.binary(0)?;
        if !self.eat("?") {
            return Ok(cond);
        }
        let yes = self.comma()?;
        self.expect(":")?;
        let no = self.conditional()?;
        Ok(Expr::Cond(Box::new(cond), Box::new(yes), Box::new(no)))
    }

    fn binary(&mut self, min: u8) -> Result<Expr, String> {
        let mut left = self.unary()?;
        let mut levels = 0;
        while let Some((op, prec)) = self.peek_punct().and_then(binop) {
            if prec < min {
                break;
            }
            self.deepen(&mut levels)?;
            self.pos += 1;
            let right = self.binary(prec + 1)?;
            left = match op {
                None => Expr::Repeat(Box::new(left), Box::new(right)),
                Some(op) => Expr::Binary(op, Box::new(left), Box::new(right)),
            };
        }
        self.depth -= levels;
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let op = match self.peek_punct() {
            Some("-") => Some(UnOp::Neg),
            Some("+") => Some(UnOp::Plus),
            Some("!") => Some(UnOp::Not),
            Some("~") => Some(UnOp::BitNot),
            Some("*") => Some(UnOp::Deref),
            Some("&") => Some(UnOp::AddrOf),
            Some("++") | Some("--") => return Err("Increment and decrement operators are not supported.".into()),
            _ => None,
        };
        let result = if let Some(op) = op {
            self.pos += 1;
            Expr::Unary(op, Box::new(self.unary()?))
        } else if matches!(self.peek(), Some(Token::Ident(w)) if w == "sizeof") {
            self.pos += 1;
            if self.peek_punct() == Some("(") && self.type_follows(1) {
                self.pos += 1;
                let ty = self.type_name()?;
                self.expect(")")?;
                Expr::SizeofType(ty)
            } else {
                Expr::SizeofExpr(Box::new(self.unary()?))
            }
        } else if self.peek_punct() == Some("(") && self.type_follows(1) {
            self.pos += 1;
            let ty = self.type_name()?;
            self.expect(")")?;
            Expr::Cast(ty, Box::new(self.unary()?))
        } else {
            self.postfix()?
        };
        self.depth -= 1;
        Ok(result)
    }

    /// Whether the token `ahead` positions on starts a type name.
    fn type_follows(&mut self, ahead: usize) -> bool {
        match self.tokens.get(self.pos + ahead) {
            Some(Token::Ident(word)) => {
                let word = word.clone();
                TYPE_WORDS.contains(&word.as_str()) || (self.is_type)(&word)
            }
            _ => false,
        }
    }

    fn type_name(&mut self) -> Result<TypeName, String> {
        let mut words: Vec<String> = Vec::new();
        while let Some(Token::Ident(word)) = self.peek() {
            let word = word.clone();
            let keyword = TYPE_WORDS.contains(&word.as_str());
            // After `struct`, or as the only name, any word; otherwise only type keywords.
            let tagged = words.last().is_some_and(|w| matches!(w.as_str(), "struct" | "union" | "enum" | "class"));
            let named = words.iter().any(|w| {
                !TYPE_WORDS.contains(&w.as_str()) || w == "struct" || w == "union" || w == "enum" || w == "class"
            });
            if keyword || tagged || (!named && words.iter().all(|w| w == "const" || w == "volatile")) {
                self.pos += 1;
                if word != "const" && word != "volatile" {
                    words.push(word);
                }
            } else {
                break;
            }
        }
        if words.is_empty() {
            return Err("A type name is needed.".into());
        }
        let mut pointers = 0;
        loop {
            if self.eat("*") {
                pointers += 1;
            } else if matches!(self.peek(), Some(Token::Ident(w)) if w == "const" || w == "volatile") {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(TypeName { base: normalize_type(&words), pointers })
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut expr = self.primary()?;
        let mut levels = 0;
        loop {
            self.deepen(&mut levels)?;
            if self.eat("[") {
                let index = self.comma()?;
                self.expect("]")?;
                expr = Expr::Index(Box::new(expr), Box::new(index));
            } else if self.eat("(") {
                let mut args = Vec::new();
                if !self.eat(")") {
                    loop {
                        args.push(self.assign()?);
                        if self.eat(")") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                expr = Expr::Call(Box::new(expr), args);
            } else if self.eat(".") {
                expr = Expr::Member(Box::new(expr), self.member_name()?);
            } else if self.eat("->") {
                expr = Expr::Arrow(Box::new(expr), self.member_name()?);
            } else if matches!(self.peek_punct(), Some("++") | Some("--")) {
                return Err("Increment and decrement operators are not supported.".into());
            } else {
                self.depth -= levels;
                return Ok(expr);
            }
        }
    }

    fn member_name(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Token::Ident(name)) => {
                self.pos += 1;
                Ok(name)
            }
            _ => Err("A member name is needed after `.' or `->'.".into()),
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let Some(token) = self.peek().cloned() else {
            return Err("A syntax error in expression, near `'.".into());
        };
        self.pos += 1;
        Ok(match token {
            Token::Int(v, s, r) => Expr::Int(v, s, r),
            Token::Float(v, f) => Expr::Float(v, f),
            Token::Char(c) => Expr::Char(c),
            Token::Str(mut s) => {
                // Adjacent literals join, as in C.
                while let Some(Token::Str(more)) = self.peek().cloned() {
                    self.pos += 1;
                    s.extend(more);
                }
                Expr::Str(s)
            }
            Token::Dollar(name) => Expr::Dollar(name),
            Token::Ident(name) => {
                // `function::static`, or a C++ qualified name (`geo::Unit::Foot`: scope `geo::Unit`).
                let mut scope: Option<String> = None;
                let mut last = name;
                while self.eat("::") {
                    match self.peek().cloned() {
                        Some(Token::Ident(inner)) => {
                            self.pos += 1;
                            scope = Some(match scope {
                                Some(s) => format!("{s}::{last}"),
                                None => last,
                            });
                            last = inner;
                        }
                        _ => return Err(format!("A name is needed after `{last}::'.")),
                    }
                }
                match scope {
                    Some(scope) => Expr::Scoped(scope, last),
                    None => Expr::Ident(last),
                }
            }
            Token::Punct("(") => {
                let inner = self.comma()?;
                self.expect(")")?;
                inner
            }
            Token::Punct("{") => return Err("Brace-enclosed values ({type} addr) are not supported.".into()),
            Token::Punct(p) => return Err(format!("A syntax error in expression, near `{p}'.")),
        })
    }
}

/// The operator and precedence of a binary operator token (`None` op: gdb's `@`).
fn binop(punct: &str) -> Option<(Option<BinOp>, u8)> {
    Some(match punct {
        "||" => (Some(BinOp::Or), 1),
        "&&" => (Some(BinOp::And), 2),
        "|" => (Some(BinOp::BitOr), 3),
        "^" => (Some(BinOp::BitXor), 4),
        "&" => (Some(BinOp::BitAnd), 5),
        "==" => (Some(BinOp::Eq), 6),
        "!=" => (Some(BinOp::Ne), 6),
        "<" => (Some(BinOp::Lt), 7),
        ">" => (Some(BinOp::Gt), 7),
        "<=" => (Some(BinOp::Le), 7),
        ">=" => (Some(BinOp::Ge), 7),
        "<<" => (Some(BinOp::Shl), 8),
        ">>" => (Some(BinOp::Shr), 8),
        "@" => (None, 9),
        "+" => (Some(BinOp::Add), 10),
        "-" => (Some(BinOp::Sub), 10),
        "*" => (Some(BinOp::Mul), 11),
        "/" => (Some(BinOp::Div), 11),
        "%" => (Some(BinOp::Rem), 11),
        _ => return None,
    })
}

/// The canonical C name of a list of type words (`long unsigned int` → `unsigned long`).
fn normalize_type(words: &[String]) -> String {
    if matches!(words.first().map(String::as_str), Some("struct" | "union" | "enum" | "class")) {
        return words.join(" ");
    }
    let count = |w: &str| words.iter().filter(|x| x.as_str() == w).count();
    let unsigned = count("unsigned") > 0;
    let signed = count("signed") > 0;
    let longs = count("long");
    let base = if count("char") > 0 {
        "char"
    } else if count("short") > 0 {
        "short"
    } else if count("double") > 0 {
        return if longs > 0 { "long double".into() } else { "double".into() };
    } else if count("float") > 0 {
        return "float".into();
    } else if count("void") > 0 {
        return "void".into();
    } else if count("_Bool") > 0 || count("bool") > 0 {
        return words.last().cloned().unwrap_or_default();
    } else if longs >= 2 {
        "long long"
    } else if longs == 1 {
        "long"
    } else if count("int") > 0 || unsigned || signed {
        "int"
    } else {
        return words.join(" ");
    };
    match (unsigned, signed, base) {
        (true, _, b) => format!("unsigned {b}"),
        (_, true, "char") => "signed char".into(),
        (_, _, b) => b.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Expr, String> {
        parse(text, &mut |name| name == "Node")
    }

    #[test]
    fn precedence_and_casts() {
        assert_eq!(
            p("1 + 2 * 3").unwrap(),
            Expr::Binary(
                BinOp::Add,
                Box::new(Expr::Int(1, String::new(), false)),
                Box::new(Expr::Binary(
                    BinOp::Mul,
                    Box::new(Expr::Int(2, String::new(), false)),
                    Box::new(Expr::Int(3, String::new(), false))
                ))
            )
        );
        let cast = p("(struct node *) 0x10").unwrap();
        assert!(matches!(cast, Expr::Cast(TypeName { ref base, pointers: 1 }, _) if base == "struct node"));
        let cast = p("(Node *)p").unwrap();
        assert!(matches!(cast, Expr::Cast(TypeName { ref base, pointers: 1 }, _) if base == "Node"));
        assert!(matches!(p("(x)").unwrap(), Expr::Ident(_)));
        assert!(
            matches!(p("sizeof(long unsigned int)").unwrap(), Expr::SizeofType(TypeName { ref base, .. }) if base == "unsigned long")
        );
        assert!(matches!(p("a->b.c[2]").unwrap(), Expr::Index(..)));
        assert!(matches!(p("f(1, \"s\")").unwrap(), Expr::Call(_, ref a) if a.len() == 2));
        assert!(matches!(p("main::count").unwrap(), Expr::Scoped(..)));
        assert!(matches!(p("x = y += 2").unwrap(), Expr::Assign(None, _, _)));
        assert!(p("1 +").is_err());
        assert!(p("(int").is_err());
        assert!(p("a b").is_err());
        assert!(p(&"(".repeat(1000)).is_err());
    }
}
