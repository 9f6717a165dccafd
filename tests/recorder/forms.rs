//! Every supported form of `#[measure]` records calls with the right outcome and duration.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use common::{assert_about, function, init, outcomes};
use taskscope::measure;
use tokio::time::sleep;

struct Counter {
    n: u64,
}

impl Counter {
    #[measure]
    async fn peek(&self) -> u64 {
        self.n
    }

    #[measure]
    async fn bump(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    #[measure]
    fn into_inner(self) -> u64 {
        self.n
    }
}

#[tokio::test(start_paused = true)]
async fn methods_taking_ref_mut_ref_and_self() {
    if crate::support::alone(module_path!(), "methods_taking_ref_mut_ref_and_self") {
        return;
    }
    init();
    let mut c = Counter { n: 0 };
    c.bump().await;
    c.bump().await;
    assert_eq!(c.peek().await, 2);
    assert_eq!(c.into_inner(), 2);
    assert_eq!(outcomes("bump"), (2, 0, 0, 0));
    assert_eq!(outcomes("peek"), (1, 0, 0, 0));
    assert_eq!(outcomes("into_inner"), (1, 0, 0, 0));
}

struct Store;

#[measure]
impl Store {
    async fn get(&self, key: &str) -> Option<usize> {
        sleep(Duration::from_millis(3)).await;
        (!key.is_empty()).then_some(key.len())
    }

    fn sync_len(&self, key: &str) -> usize {
        key.len()
    }

    #[measure(skip)]
    fn skipped(&self) -> usize {
        1
    }

    #[measure(name = "store_renamed")]
    fn renamed(&self) {}

    const fn constant() -> u32 {
        3
    }
}

#[tokio::test(start_paused = true)]
async fn an_impl_block_measures_every_method_as_type_method_except_skipped_ones() {
    if crate::support::alone(
        module_path!(),
        "an_impl_block_measures_every_method_as_type_method_except_skipped_ones",
    ) {
        return;
    }
    init();
    assert_eq!(Store.get("abc").await, Some(3));
    assert_eq!(Store.get("").await, None);
    assert_eq!(Store.sync_len("ab"), 2);
    assert_eq!(Store.skipped(), 1);
    Store.renamed();
    const { assert!(Store::constant() == 3) };
    assert_eq!(outcomes("Store::get"), (1, 1, 0, 0));
    assert_eq!(function("Store::get").error_kinds[0].kind, "None");
    assert_about(
        function("Store::get").wall().max(),
        Duration::from_millis(3),
    );
    assert_eq!(outcomes("Store::sync_len"), (1, 0, 0, 0));
    assert_eq!(outcomes("store_renamed"), (1, 0, 0, 0));
    let snap = taskscope::snapshot();
    assert!(snap.function("Store::skipped").is_none());
    assert!(snap.function("skipped").is_none());
}

trait Greeter {
    fn greet(&self, name: &str) -> String;
    async fn greet_later(&self, name: &str) -> String;
}

struct English;

impl Greeter for English {
    #[measure]
    fn greet(&self, name: &str) -> String {
        format!("hello {name}")
    }

    #[measure]
    async fn greet_later(&self, name: &str) -> String {
        sleep(Duration::from_millis(2)).await;
        self.greet(name)
    }
}

#[tokio::test(start_paused = true)]
async fn methods_in_trait_impls() {
    if crate::support::alone(module_path!(), "methods_in_trait_impls") {
        return;
    }
    init();
    assert_eq!(English.greet_later("ann").await, "hello ann");
    assert_eq!(outcomes("greet"), (1, 0, 0, 0));
    assert_eq!(outcomes("greet_later"), (1, 0, 0, 0));
    assert_about(
        function("greet_later").wall().max(),
        Duration::from_millis(2),
    );
}

#[async_trait::async_trait]
trait Fetch {
    async fn fetch_a(&self) -> Result<u32, std::io::Error>;
    async fn fetch_b(&self) -> Result<u32, std::io::Error>;
}

struct Inner;

// `#[async_trait]` outside: it expands first, `#[measure]` sees the boxed future.
#[async_trait::async_trait]
impl Fetch for Inner {
    #[measure]
    async fn fetch_a(&self) -> Result<u32, std::io::Error> {
        sleep(Duration::from_millis(40)).await;
        Ok(1)
    }

    #[measure(name = "fetch_b_inner")]
    async fn fetch_b(&self) -> Result<u32, std::io::Error> {
        sleep(Duration::from_millis(40)).await;
        Err(std::io::ErrorKind::NotFound.into())
    }
}

struct Outer;

// `#[measure]` outside: it expands first, `#[async_trait]` then boxes the measured body.
#[measure]
#[async_trait::async_trait]
impl Fetch for Outer {
    async fn fetch_a(&self) -> Result<u32, std::io::Error> {
        sleep(Duration::from_millis(60)).await;
        Ok(2)
    }

    async fn fetch_b(&self) -> Result<u32, std::io::Error> {
        sleep(Duration::from_millis(60)).await;
        Ok(3)
    }
}

struct Middle;

// `#[async_trait]` outside a measured impl block: `#[measure]` sees boxed futures.
#[async_trait::async_trait]
#[measure]
impl Fetch for Middle {
    async fn fetch_a(&self) -> Result<u32, std::io::Error> {
        sleep(Duration::from_millis(80)).await;
        Ok(4)
    }

    async fn fetch_b(&self) -> Result<u32, std::io::Error> {
        sleep(Duration::from_millis(80)).await;
        Ok(5)
    }
}

#[tokio::test(start_paused = true)]
async fn async_trait_in_either_order_measures_the_whole_future() {
    if crate::support::alone(
        module_path!(),
        "async_trait_in_either_order_measures_the_whole_future",
    ) {
        return;
    }
    init();
    assert_eq!(Inner.fetch_a().await.unwrap(), 1);
    Inner.fetch_b().await.unwrap_err();
    assert_eq!(Outer.fetch_a().await.unwrap(), 2);
    assert_eq!(Middle.fetch_a().await.unwrap(), 4);
    let a = function("fetch_a");
    assert_eq!(outcomes("fetch_a"), (1, 0, 0, 0));
    assert_about(a.wall().max(), Duration::from_millis(40));
    let b = function("fetch_b_inner");
    assert_eq!((b.error.count, b.error_kinds[0].kind), (1, "NotFound"));
    assert_about(b.wall().max(), Duration::from_millis(40));
    assert_about(
        function("Outer::fetch_a").wall().max(),
        Duration::from_millis(60),
    );
    assert_about(
        function("Middle::fetch_a").wall().max(),
        Duration::from_millis(80),
    );
    // Busy time is the polls only: far below the wall time.
    assert!(function("Middle::fetch_a").busy().max() < Duration::from_millis(1));
}

#[measure]
fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    let mut it = items.iter().copied();
    let first = it.next()?;
    Some(it.fold(first, |a, b| if b > a { b } else { a }))
}

#[measure]
async fn show(value: impl Display) -> impl Display {
    format!("<{value}>")
}

#[measure]
#[allow(clippy::manual_async_fn)] // the form under test
fn later(n: u32) -> impl Future<Output = Result<u32, std::num::TryFromIntError>> {
    async move {
        sleep(Duration::from_millis(7)).await;
        u8::try_from(n).map(u32::from)
    }
}

#[measure]
fn boxed(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        sleep(Duration::from_millis(9)).await;
        n
    })
}

#[tokio::test(start_paused = true)]
async fn generics_impl_trait_and_returned_futures() {
    if crate::support::alone(module_path!(), "generics_impl_trait_and_returned_futures") {
        return;
    }
    init();
    assert_eq!(largest(&[3, 9, 2]), Some(9));
    assert_eq!(largest::<f64>(&[]), None);
    assert_eq!(largest(&["a", "b"]), Some("b"));
    assert_eq!(
        outcomes("largest"),
        (2, 1, 0, 0),
        "one state for every instantiation"
    );
    assert_eq!(show(5).await.to_string(), "<5>");
    assert_eq!(outcomes("show"), (1, 0, 0, 0));
    assert_eq!(later(3).await.unwrap(), 3);
    later(300).await.unwrap_err();
    assert_eq!(outcomes("later"), (1, 1, 0, 0));
    assert_eq!(function("later").error_kinds[0].kind, "TryFromIntError");
    assert_about(function("later").wall().max(), Duration::from_millis(7));
    assert_eq!(boxed(4).await, 4);
    assert_about(function("boxed").wall().max(), Duration::from_millis(9));
}

#[measure]
fn read_config(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[measure]
async fn with_anyhow(fail: bool) -> anyhow::Result<u32> {
    if fail {
        anyhow::bail!("nope");
    }
    let n: u32 = "5".parse()?;
    Ok(n)
}

type MyResult<T> = Result<T, std::fmt::Error>;

#[measure]
fn aliased(fail: bool) -> MyResult<()> {
    if fail { Err(std::fmt::Error) } else { Ok(()) }
}

#[tokio::test(start_paused = true)]
async fn results_under_any_alias() {
    if crate::support::alone(module_path!(), "results_under_any_alias") {
        return;
    }
    init();
    read_config("/definitely/not/here").unwrap_err();
    assert_eq!(function("read_config").error_kinds[0].kind, "NotFound");
    assert_eq!(with_anyhow(false).await.unwrap(), 5);
    with_anyhow(true).await.unwrap_err();
    assert_eq!(outcomes("with_anyhow"), (1, 1, 0, 0));
    assert_eq!(function("with_anyhow").error_kinds[0].kind, "Error");
    aliased(true).unwrap_err();
    aliased(false).unwrap();
    assert_eq!(outcomes("aliased"), (1, 1, 0, 0));
}

#[measure]
fn early_return(n: i32) -> Result<i32, String> {
    if n < 0 {
        return Err("negative".to_owned());
    }
    Ok(n)
}

#[measure]
async fn early_return_async(n: i32) -> Result<i32, String> {
    if n < 0 {
        return Err("negative".to_owned());
    }
    Ok(n)
}

#[tokio::test]
async fn early_returns_are_classified_by_their_value() {
    if crate::support::alone(
        module_path!(),
        "early_returns_are_classified_by_their_value",
    ) {
        return;
    }
    init();
    early_return(-1).unwrap_err();
    early_return(1).unwrap();
    early_return_async(-1).await.unwrap_err();
    assert_eq!(outcomes("early_return"), (1, 1, 0, 0));
    assert_eq!(outcomes("early_return_async"), (0, 1, 0, 0));
    assert_eq!(function("early_return").error_kinds[0].kind, "String");
}
