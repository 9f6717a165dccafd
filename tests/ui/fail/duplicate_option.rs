#[taskscope::measure(name = "a", name = "b")]
fn f() {}

fn main() {}
