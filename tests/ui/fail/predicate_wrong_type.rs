fn is_ok(n: &u64) -> bool {
    *n > 0
}

#[taskscope::measure(ok_if = is_ok)]
fn f() -> u32 {
    1
}

fn main() {}
