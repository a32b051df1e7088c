//! Parsing tokens into an expression tree (precedence climbing, C precedence).

use super::lexer::{tokenize, Token};
use super::ExprError;

/// Deepest nesting accepted (parentheses, unary operators, calls).
const MAX_DEPTH: usize = 256;

/// A node of the tree; `pos` is a byte offset in the text, for errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Int(u64),
    Name { name: String, pos: usize },
    Str { value: String, pos: usize },
    Unary { op: &'static str, operand: Box<Node> },
    Binary { op: &'static str, lhs: Box<Node>, rhs: Box<Node>, pos: usize },
    Call { func: String, args: Vec<Node>, pos: usize },
}

/// A parsed expression, ready to evaluate any number of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub(super) text: String,
    pub(super) root: Node,
}

impl Expr {
    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.text
    }

    /// The tree (for the compiler of in-process conditions).
    pub(crate) fn root(&self) -> &Node {
        &self.root
    }
}

/// Binding power of a binary operator (higher binds tighter).
fn precedence(op: &str) -> Option<u8> {
    Some(match op {
        "||" => 1,
        "&&" => 2,
        "|" => 3,
        "^" => 4,
        "&" => 5,
        "==" | "!=" => 6,
        "<" | "<=" | ">" | ">=" => 7,
        "<<" | ">>" => 8,
        "+" | "-" => 9,
        "*" | "/" | "%" => 10,
        _ => return None,
    })
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(usize, Token)>,
    next: usize,
    depth: usize,
}

/// Parses an expression.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { text, tokens, next: 0, depth: 0 };
    let root = parser.expression(0)?;
    if let Some((pos, token)) = parser.tokens.get(parser.next) {
        return Err(ExprError::new(text, *pos, format!("unexpected {} after the expression", describe(token))));
    }
    Ok(Expr { text: text.to_owned(), root })
}

fn describe(token: &Token) -> String {
    match token {
        Token::Int(v) => format!("number {v}"),
        Token::Name(n) => format!("name `{n}`"),
        Token::Str(_) => "string".into(),
        Token::Op(op) => format!("`{op}`"),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&(usize, Token)> {
        self.tokens.get(self.next)
    }

    fn end_position(&self) -> usize {
        self.text.len()
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> ExprError {
        ExprError::new(self.text, pos, message)
    }

    fn expect(&mut self, op: &'static str) -> Result<usize, ExprError> {
        match self.peek() {
            Some((pos, Token::Op(found))) if *found == op => {
                let pos = *pos;
                self.next += 1;
                Ok(pos)
            }
            Some((pos, token)) => Err(self.error(*pos, format!("expected `{op}`, found {}", describe(token)))),
            None => Err(self.error(self.end_position(), format!("expected `{op}`, found the end"))),
        }
    }

    /// Binary operators of at least `min` precedence, left-associative.
    fn expression(&mut self, min: u8) -> Result<Node, ExprError> {
        let mut lhs = self.unary()?;
        while let Some((pos, Token::Op(op))) = self.peek() {
            let (pos, op) = (*pos, *op);
            let Some(prec) = precedence(op).filter(|&p| p >= min) else { break };
            self.next += 1;
            let rhs = self.expression(prec + 1)?;
            lhs = Node::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), pos };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let pos = self.peek().map_or(self.end_position(), |(p, _)| *p);
            return Err(self.error(pos, "expression nested too deeply"));
        }
        let node = match self.peek().cloned() {
            Some((_, Token::Op(op @ ("-" | "~" | "!")))) => {
                self.next += 1;
                Node::Unary { op, operand: Box::new(self.unary()?) }
            }
            _ => self.primary()?,
        };
        self.depth -= 1;
        Ok(node)
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let Some((pos, token)) = self.peek().cloned() else {
            return Err(self.error(self.end_position(), "unexpected end of the expression"));
        };
        self.next += 1;
        match token {
            Token::Int(value) => Ok(Node::Int(value)),
            Token::Str(value) => Ok(Node::Str { value, pos }),
            Token::Name(name) => {
                if matches!(self.peek(), Some((_, Token::Op("(")))) {
                    self.next += 1;
                    let mut args = Vec::new();
                    if !matches!(self.peek(), Some((_, Token::Op(")")))) {
                        loop {
                            args.push(self.expression(0)?);
                            if matches!(self.peek(), Some((_, Token::Op(",")))) {
                                self.next += 1;
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect(")")?;
                    return Ok(Node::Call { func: name, args, pos });
                }
                Ok(Node::Name { name, pos })
            }
            Token::Op("(") => {
                let inner = self.expression(0)?;
                self.expect(")")?;
                Ok(inner)
            }
            Token::Op(op) => Err(self.error(pos, format!("unexpected `{op}`"))),
        }
    }
}
