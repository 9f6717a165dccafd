#![deny(warnings)]
#![forbid(unsafe_code)]

use taskscope::measure;

pub struct S {
    n: u32,
}

impl S {
    #[measure]
    pub async fn by_ref(&self) -> u32 {
        self.n
    }

    #[measure]
    pub async fn by_mut(&mut self) -> u32 {
        self.n += 1;
        self.n
    }

    #[measure]
    pub fn by_value(self) -> u32 {
        self.n
    }

    #[measure]
    pub fn new() -> Self {
        S { n: 0 }
    }
}

pub struct Block<T>(T);

#[measure]
impl<T: Clone + Send + Sync> Block<T> {
    pub async fn get(&self) -> T {
        self.0.clone()
    }

    pub fn set(&mut self, v: T) {
        self.0 = v;
    }

    #[measure(skip)]
    pub fn skipped(&self) {}

    #[measure(name = "block_named", error_kind = "Custom")]
    pub fn named(&self) -> Result<(), ()> {
        Ok(())
    }

    pub const fn constant() -> u32 {
        1
    }
}

trait Tr {
    fn sync_method(&self) -> u32;
    fn returns_future(&self) -> impl std::future::Future<Output = u32> + Send;
    async fn async_method(&self) -> u32;
}

#[measure]
impl Tr for S {
    fn sync_method(&self) -> u32 {
        self.n
    }

    fn returns_future(&self) -> impl std::future::Future<Output = u32> + Send {
        let n = self.n;
        async move { n }
    }

    async fn async_method(&self) -> u32 {
        self.n
    }
}

fn main() {
    let _ = (S::new().sync_method(), S::new().returns_future(), S::new().async_method());
    let _ = Block::<u8>::constant();
}
