#![deny(warnings)]
#![forbid(unsafe_code)]

#[derive(Debug, taskscope::ErrorKind)]
pub enum E {
    A,
    #[error_kind("bee")]
    B(u8),
    C { x: u8 },
}

#[derive(Debug, taskscope::ErrorKind)]
pub struct Single;

#[derive(taskscope::ErrorKind)]
pub enum Generic<T> {
    Wrapped(T),
}

fn main() {
    let v = taskscope::measure_block!("block", { 1 + 1 });
    let f = taskscope::measure_future!("fut", async { v });
    drop(f);
    use taskscope::ErrorKind;
    let _ = (E::A.error_kind(), E::B(1).error_kind(), E::C { x: 1 }.error_kind());
    let _ = (Single.error_kind(), Generic::Wrapped(1).error_kind());
}
