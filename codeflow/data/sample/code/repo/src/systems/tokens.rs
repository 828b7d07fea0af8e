use std::collections::HashMap;

#[derive(Debug, PartialEq)]
pub enum Token {
    Number(i64),
    Ident(String),
    Op(char),
}

pub fn tokenize(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut n = 0i64;
            while let Some(&d) = chars.peek() {
                match d.to_digit(10) {
                    Some(v) => { n = n * 10 + v as i64; chars.next(); }
                    None => break,
                }
            }
            tokens.push(Token::Number(n));
        } else if c.is_alphabetic() {
            let ident: String = std::iter::from_fn(|| chars.next_if(|x| x.is_alphanumeric())).collect();
            tokens.push(Token::Ident(ident));
        } else if !c.is_whitespace() {
            tokens.push(Token::Op(c));
            chars.next();
        } else {
            chars.next();
        }
    }
    tokens
}

pub fn histogram(tokens: &[Token]) -> HashMap<&'static str, usize> {
    let mut h = HashMap::new();
    for t in tokens {
        let key = match t { Token::Number(_) => "number", Token::Ident(_) => "ident", Token::Op(_) => "op" };
        *h.entry(key).or_insert(0) += 1;
    }
    h
}
