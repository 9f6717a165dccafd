#![deny(warnings)]

#[taskscope::measure]
unsafe fn read(p: *const u8) -> u8 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *p }
}

fn main() {
    let x = 5u8;
    // SAFETY: `x` is alive.
    assert_eq!(unsafe { read(&x) }, 5);
}
