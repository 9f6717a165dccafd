#![deny(warnings)]
#![forbid(unsafe_code)]

use async_trait::async_trait;
use taskscope::measure;

#[async_trait]
pub trait Service {
    async fn call(&self, x: u32) -> Result<u32, std::io::Error>;
}

pub struct A;
pub struct B;
pub struct C;

#[async_trait]
impl Service for A {
    #[measure]
    async fn call(&self, x: u32) -> Result<u32, std::io::Error> {
        Ok(x)
    }
}

#[measure]
#[async_trait]
impl Service for B {
    async fn call(&self, x: u32) -> Result<u32, std::io::Error> {
        Ok(x)
    }
}

#[async_trait]
#[measure]
impl Service for C {
    async fn call(&self, x: u32) -> Result<u32, std::io::Error> {
        Ok(x)
    }
}

fn is_send<T: Send>(_: T) {}

fn main() {
    is_send(A.call(1));
    is_send(B.call(1));
    is_send(C.call(1));
}
