#![deny(warnings)]
#![forbid(unsafe_code)]

use taskscope::measure;

#[measure]
async fn unit() {}

#[measure]
async fn with_question_mark(s: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let n: u32 = s.parse()?;
    Ok(n)
}

#[measure]
pub fn plain(a: u32, b: u32) -> u32 {
    a + b
}

#[measure]
pub(crate) fn borrowing<'a>(items: &'a [String], i: usize) -> Option<&'a str> {
    items.get(i).map(String::as_str)
}

#[measure]
fn elided(s: &str) -> &str {
    s.trim()
}

#[measure]
fn with_inner_attribute() -> u32 {
    #![allow(clippy::let_and_return)]
    let x = 1;
    x
}

#[measure]
fn never_returns_normally() -> Result<(), String> {
    return Err("early".into());
}

fn main() {
    let _ = (unit(), with_question_mark("1"), plain(1, 2), borrowing(&[], 0), elided(" x "));
    let _ = with_inner_attribute();
    let _ = never_returns_normally();
}
