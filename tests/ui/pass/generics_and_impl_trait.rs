#![deny(warnings)]
#![forbid(unsafe_code)]

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

use taskscope::measure;

#[measure]
pub fn generic<T: Display, U>(t: T, _u: U) -> String
where
    U: Clone,
{
    t.to_string()
}

#[measure]
pub async fn impl_arg(x: impl Display + Send) -> impl Display {
    x.to_string()
}

#[measure]
pub fn impl_future(n: u32) -> impl Future<Output = Option<u32>> + Send {
    async move { Some(n) }
}

#[measure]
pub fn boxed<'a>(s: &'a str) -> Pin<Box<dyn Future<Output = usize> + Send + 'a>> {
    Box::pin(async move { s.len() })
}

#[measure]
pub fn io_result() -> std::io::Result<()> {
    Ok(())
}

#[measure]
pub async fn anyhow_result() -> anyhow::Result<u32> {
    let n: u32 = "3".parse()?;
    Ok(n)
}

#[measure(ok_if = Option::is_some, error_kind = "Missing")]
pub fn with_options(v: Option<u8>) -> Option<u8> {
    v
}

fn is_send<T: Send>(_: T) {}

fn main() {
    is_send(impl_arg(1));
    is_send(anyhow_result());
    is_send(impl_future(1));
    let _ = (generic(1, ()), boxed("x"), io_result(), with_options(None));
}
