#![deny(warnings)]
#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use taskscope::measure;

#[measure(scheduling)]
pub async fn plain_async(x: u32) -> Result<u32, std::io::Error> {
    Ok(x)
}

#[measure(scheduling, name = "renamed", skip)]
pub fn impl_future(n: u32) -> impl Future<Output = Option<u32>> + Send {
    async move { Some(n) }
}

#[measure(scheduling)]
pub fn boxed<'a>(s: &'a str) -> Pin<Box<dyn Future<Output = usize> + Send + 'a>> {
    Box::pin(async move { s.len() })
}

#[async_trait]
pub trait Service {
    async fn call(&self, x: u32) -> u32;
}

pub struct A;

#[async_trait]
impl Service for A {
    #[measure(scheduling)]
    async fn call(&self, x: u32) -> u32 {
        x
    }
}

/// On a block, `scheduling` applies to the methods that return futures; plain ones are
/// measured without it.
pub struct Repo;

#[measure(scheduling)]
impl Repo {
    pub async fn load(&self, id: u32) -> Option<u32> {
        Some(id)
    }

    pub fn cached(&self, id: u32) -> Option<u32> {
        Some(id)
    }
}

fn is_send<T: Send>(_: T) {}

fn main() {
    is_send(plain_async(1));
    is_send(impl_future(1));
    is_send(boxed("x"));
    is_send(A.call(1));
    is_send(Repo.load(1));
    let _ = Repo.cached(1);
}
